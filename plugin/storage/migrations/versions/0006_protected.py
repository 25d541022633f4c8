"""protection: protected pictures, their change log, derivative matches on media scans

Revision ID: 0006
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0001'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('protected_pictures',
    sa.Column('id', ID, nullable=False),
    sa.Column('owner', sa.String(length=512), nullable=False),
    sa.Column('source', sa.String(length=512), nullable=False),
    sa.Column('status_id', sa.String(length=64), nullable=True),
    sa.Column('media_id', sa.String(length=64), nullable=True),
    sa.Column('origin', sa.String(length=300), nullable=False),
    sa.Column('visibility', sa.String(length=16), nullable=False),
    sa.Column('fingerprint', sa.LargeBinary(), nullable=False),
    sa.Column('pdq', sa.String(length=64), nullable=True),
    sa.Column('pdq_quality', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', TS, nullable=False),
    sa.Column('removed_at', TS, nullable=True),
    sa.Column('removed_reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_protected_owner', 'protected_pictures', ['owner'])
    op.create_index('ix_protected_source', 'protected_pictures', ['source'])
    op.create_index('ix_protected_sha256', 'protected_pictures', ['sha256'])
    op.create_index('ix_protected_status', 'protected_pictures', ['status_id'])
    op.create_table('protected_changes',
    sa.Column('seq', ID, nullable=False),
    sa.Column('picture_id', sa.BigInteger(), nullable=False),
    sa.Column('op', sa.String(length=16), nullable=False),
    sa.Column('at', TS, nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('media_scans') as batch:
        batch.add_column(sa.Column('derivatives', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('media_scans') as batch:
        batch.drop_column('derivatives')
    op.drop_table('protected_changes')
    op.drop_index('ix_protected_status', table_name='protected_pictures')
    op.drop_index('ix_protected_sha256', table_name='protected_pictures')
    op.drop_index('ix_protected_source', table_name='protected_pictures')
    op.drop_index('ix_protected_owner', table_name='protected_pictures')
    op.drop_table('protected_pictures')
