"""federation: received records remember whether their proof was verified

A record pulled from its issuer is authenticated by the feed response's signature and applied
after structural checks; its Ed25519 proof is verified later by a background pass. These
columns record the outcome (``proof_checked_at`` NULL = not yet verified; ``proof_error`` the
refusal code when it failed). Rows received before this revision were verified on receipt.
Also an index for the flood check's per-peer count of the last hour, and one on (type, id)
for the consent replay, which looks for the few consent/retraction/tombstone rows past its
cursor among (up to millions of) hash rows.

Revision ID: 0010
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa


revision = "0010"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("fed_received") as batch:
        batch.add_column(sa.Column("proof_checked_at", TS, nullable=True))
        batch.add_column(sa.Column("proof_error", sa.String(32), nullable=True))
    op.execute("UPDATE fed_received SET proof_checked_at = received_at")
    # Partial: only the (few, transient) unchecked rows are indexed, so the background pass
    # finds them without scanning, and a verified row costs nothing in the index.
    # The flood check counts a peer's records of the last hour on every sync; without this
    # index that count read all the peer's rows (seconds per sync at 10^6 records).
    op.create_index("ix_fed_received_peer_time", "fed_received", ["peer_id", "received_at"])
    op.create_index("ix_fed_received_type", "fed_received", ["type", "id"])
    op.create_index("ix_fed_received_unchecked", "fed_received", ["id"],
                    sqlite_where=sa.text("proof_checked_at IS NULL"),
                    postgresql_where=sa.text("proof_checked_at IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_fed_received_unchecked", table_name="fed_received")
    op.drop_index("ix_fed_received_type", table_name="fed_received")
    op.drop_index("ix_fed_received_peer_time", table_name="fed_received")
    with op.batch_alter_table("fed_received") as batch:
        batch.drop_column("proof_error")
        batch.drop_column("proof_checked_at")
