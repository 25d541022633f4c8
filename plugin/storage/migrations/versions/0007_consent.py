"""consent: choices, their history, consent records received from peers

Revision ID: 0007
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0001'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('consent_choices',
    sa.Column('id', ID, nullable=False),
    sa.Column('actor', sa.String(length=512), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=True),
    sa.Column('acct', sa.String(length=512), nullable=True),
    sa.Column('choice', sa.String(length=16), nullable=False),
    sa.Column('updated_at', TS, nullable=False),
    sa.Column('left_at', TS, nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('actor')
    )
    op.create_table('consent_history',
    sa.Column('id', ID, nullable=False),
    sa.Column('actor', sa.String(length=512), nullable=False),
    sa.Column('choice', sa.String(length=16), nullable=False),
    sa.Column('previous', sa.String(length=16), nullable=True),
    sa.Column('via', sa.String(length=32), nullable=False),
    sa.Column('at', TS, nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_consent_history_actor', 'consent_history', ['actor', 'at'])
    op.create_table('consent_remote',
    sa.Column('id', ID, nullable=False),
    sa.Column('actor', sa.String(length=512), nullable=False),
    sa.Column('issuer', sa.String(length=253), nullable=False),
    sa.Column('peer_id', sa.BigInteger(), nullable=False),
    sa.Column('record_id', sa.String(length=36), nullable=False),
    sa.Column('ai_edit', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('record', sa.Text(), nullable=False),
    sa.Column('received_at', TS, nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('actor')
    )


def downgrade() -> None:
    op.drop_table('consent_remote')
    op.drop_index('ix_consent_history_actor', table_name='consent_history')
    op.drop_table('consent_history')
    op.drop_table('consent_choices')
