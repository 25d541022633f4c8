"""bank opinions and bank removal

Revision ID: 0004
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0001"
branch_labels = ("banks",)
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "bank_opinions",
        sa.Column("id", BIGID, primary_key=True),
        sa.Column("entry_id", BIGID, sa.ForeignKey("bank_entries.id"), nullable=False),
        sa.Column("opinion", sa.String(32), nullable=False),
        sa.Column("by", sa.String(128), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("entry_id", "by"),
    )
    op.create_index("ix_bank_opinions_entry", "bank_opinions", ["entry_id"])
    with op.batch_alter_table("banks") as batch:
        batch.add_column(sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("banks") as batch:
        batch.drop_column("removed_at")
    op.drop_index("ix_bank_opinions_entry", "bank_opinions")
    op.drop_table("bank_opinions")
