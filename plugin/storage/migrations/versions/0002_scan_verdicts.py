"""media_scans.verdicts: each classifier's verdict (model@version, raw and taxonomy scores)

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = ("scans",)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("media_scans") as batch:
        batch.add_column(sa.Column("verdicts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("media_scans") as batch:
        batch.drop_column("verdicts")
