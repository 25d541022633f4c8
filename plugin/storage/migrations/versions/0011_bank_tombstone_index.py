"""bank_entries: a partial index of tombstones

Adding entries to a bank first asks whether any of them revive a tombstone; without an index
that question read every entry of the bank on each write, so bulk imports and peer syncs
slowed down as the bank grew. Only removed entries are indexed (few), so writes of live
entries pay nothing for it.

Revision ID: 0011
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None

WHERE = sa.text("removed_at IS NOT NULL")


def upgrade() -> None:
    op.create_index("ix_bank_entries_tombstones", "bank_entries",
                    ["bank_id", "hash_type", "value_digest"], sqlite_where=WHERE,
                    postgresql_where=WHERE)


def downgrade() -> None:
    op.drop_index("ix_bank_entries_tombstones", table_name="bank_entries")
