"""fed_received: look records up by a 64-bit key of their hash, not by the hash text

``ix_fed_received_hash`` indexed (peer, hash type, hash value): ~90 bytes an entry, keyed by
random hashes, so every received record dirtied a random leaf of a 10^6-row index and a cold
sync spent a quarter of its database time writing that index. ``hash_key`` (the first 8
bytes of BLAKE2b over "type:value", signed) makes the entry ~20 bytes: 4x fewer leaves to
dirty and cache. Lookups probe (peer, hash_key) and compare type and value on the rows found
(a key collision costs one extra row, never a wrong answer).

The key is computed here as ``plugin.storage.received_store.hash_key`` computes it; a
migration keeps its own copy so later code changes cannot change what it did.

Revision ID: 0012
Revises: 0010
"""
from hashlib import blake2b

from alembic import op
import sqlalchemy as sa


revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def _key(hash_type: str, hash_value: str) -> int:
    digest = blake2b(f"{hash_type}:{hash_value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def upgrade() -> None:
    with op.batch_alter_table("fed_received") as batch:
        batch.add_column(sa.Column("hash_key", sa.BigInteger(), nullable=True))
    conn = op.get_bind()
    t = sa.table("fed_received", sa.column("id", sa.BigInteger()),
                 sa.column("hash_type", sa.String()), sa.column("hash_value", sa.String()),
                 sa.column("hash_key", sa.BigInteger()))
    after = 0
    while True:
        rows = conn.execute(sa.select(t.c.id, t.c.hash_type, t.c.hash_value).where(
            t.c.id > after, t.c.hash_value.is_not(None)).order_by(t.c.id).limit(5000)).all()
        if not rows:
            break
        conn.execute(t.update().where(t.c.id == sa.bindparam("row_id"))
                     .values(hash_key=sa.bindparam("key")),
                     [{"row_id": r.id, "key": _key(r.hash_type, r.hash_value)} for r in rows])
        after = rows[-1].id
    op.drop_index("ix_fed_received_hash", table_name="fed_received")
    op.create_index("ix_fed_received_hash_key", "fed_received", ["peer_id", "hash_key"])


def downgrade() -> None:
    op.drop_index("ix_fed_received_hash_key", table_name="fed_received")
    op.create_index("ix_fed_received_hash", "fed_received", ["peer_id", "hash_type", "hash_value"])
    with op.batch_alter_table("fed_received") as batch:
        batch.drop_column("hash_key")
