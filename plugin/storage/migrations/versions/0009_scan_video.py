"""media_scans.video: what a video or animated image scan found (vPDQ, frames, duration)

Revision ID: 0009
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = "0009"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("media_scans") as batch:
        batch.add_column(sa.Column("video", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("media_scans") as batch:
        batch.drop_column("video")
