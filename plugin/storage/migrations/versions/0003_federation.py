"""federation: peers, change log, received records, publisher state

Revision ID: 0003
Revises: 0001
"""
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa


revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "fed_peers",
        sa.Column("id", BigId, nullable=False),
        sa.Column("domain", sa.String(253), nullable=False),
        sa.Column("base_url", sa.String(512), nullable=False),
        sa.Column("keys", sa.JSON(), nullable=False),
        sa.Column("keys_fetched_at", TS, nullable=True),
        sa.Column("protocols", sa.JSON(), nullable=False),
        sa.Column("we_approved", sa.Boolean(), nullable=False),
        sa.Column("they_requested", sa.Boolean(), nullable=False),
        sa.Column("rejected", sa.Boolean(), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("trust_level", sa.String(16), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=True),
        sa.Column("auto_act", sa.Boolean(), nullable=False),
        sa.Column("max_action", sa.String(16), nullable=False),
        sa.Column("read_visibility", sa.String(16), nullable=False),
        sa.Column("cursor", sa.String(64), nullable=False),
        sa.Column("backfilled_at", TS, nullable=True),
        sa.Column("last_sync_at", TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("retry_at", TS, nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("quarantined", sa.Boolean(), nullable=False),
        sa.Column("quarantine_reason", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("domain"),
    )
    op.create_table(
        "fed_changelog",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("visibility", sa.String(16), nullable=False),
        sa.Column("hash_type", sa.String(32), nullable=True),
        sa.Column("hash_value", sa.String(128), nullable=True),
        sa.Column("bank_entry_id", sa.BigInteger(), nullable=True),
        sa.Column("target", sa.String(36), nullable=True),
        sa.Column("signed", sa.Text(), nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("withdrawn_at", TS, nullable=True),
        sa.Column("withdrawn_by", sa.String(36), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_fed_changelog_entry", "fed_changelog", ["bank_entry_id"])
    op.create_index("ix_fed_changelog_hash", "fed_changelog", ["hash_type", "hash_value"])
    op.create_table(
        "fed_received",
        sa.Column("id", BigId, nullable=False),
        sa.Column("peer_id", sa.BigInteger(), nullable=False),
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("hash_type", sa.String(32), nullable=True),
        sa.Column("hash_value", sa.String(128), nullable=True),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("bank", sa.String(128), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("peer_id", "record_id"),
    )
    op.create_index("ix_fed_received_hash", "fed_received", ["peer_id", "hash_type", "hash_value"])
    op.create_index("ix_fed_received_state", "fed_received", ["state", "expires_at"])
    state = op.create_table(
        "fed_state",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    # The publisher's lock row exists from the start, so publishers never race to create it.
    op.bulk_insert(state, [{"key": "publisher", "value": {},
                            "updated_at": datetime.now(UTC)}])


def downgrade() -> None:
    op.drop_table("fed_state")
    op.drop_index("ix_fed_received_state", table_name="fed_received")
    op.drop_index("ix_fed_received_hash", table_name="fed_received")
    op.drop_table("fed_received")
    op.drop_index("ix_fed_changelog_hash", table_name="fed_changelog")
    op.drop_index("ix_fed_changelog_entry", table_name="fed_changelog")
    op.drop_table("fed_changelog")
    op.drop_table("fed_peers")
