"""review: moderators, review queue, decisions, opinions, allowlist, statements, legal holds, takedowns

Revision ID: 0005
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0001'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('moderators',
    sa.Column('id', ID, nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('session_epoch', sa.Integer(), nullable=False),
    sa.Column('created_at', TS, nullable=False),
    sa.Column('last_login_at', TS, nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('review_items',
    sa.Column('id', ID, nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('peer', sa.String(length=255), nullable=True),
    sa.Column('media_id', sa.String(length=64), nullable=True),
    sa.Column('status_id', sa.String(length=64), nullable=True),
    sa.Column('status_url', sa.Text(), nullable=True),
    sa.Column('account_id', sa.String(length=64), nullable=True),
    sa.Column('account_acct', sa.String(length=512), nullable=True),
    sa.Column('media_url', sa.Text(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('pdq', sa.String(length=64), nullable=True),
    sa.Column('findings', sa.JSON(), nullable=False),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('takedown_id', ID, nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', TS, nullable=False),
    sa.Column('due_at', TS, nullable=True),
    sa.Column('decided_at', TS, nullable=True),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    op.create_index('ix_review_items_state', 'review_items', ['state', 'created_at'])
    op.create_index('ix_review_items_media', 'review_items', ['media_id'])
    op.create_table('review_decisions',
    sa.Column('id', ID, nullable=False),
    sa.Column('item_id', ID, nullable=False),
    sa.Column('moderator', sa.String(length=64), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('bank', sa.String(length=128), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('at', TS, nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_review_decisions_item_id', 'review_decisions', ['item_id'])
    op.create_table('review_opinions',
    sa.Column('id', ID, nullable=False),
    sa.Column('hash_type', sa.String(length=32), nullable=False),
    sa.Column('value', sa.String(length=128), nullable=False),
    sa.Column('bank', sa.String(length=128), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('opinion', sa.String(length=32), nullable=False),
    sa.Column('human_reviewed', sa.Boolean(), nullable=False),
    sa.Column('share', sa.Boolean(), nullable=False),
    sa.Column('moderator', sa.String(length=64), nullable=False),
    sa.Column('item_id', ID, nullable=True),
    sa.Column('at', TS, nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('hash_type', 'value', 'bank', 'item_id')
    )
    op.create_table('review_allowlist',
    sa.Column('id', ID, nullable=False),
    sa.Column('hash_type', sa.String(length=32), nullable=False),
    sa.Column('value', sa.String(length=128), nullable=False),
    sa.Column('moderator', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('at', TS, nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('hash_type', 'value')
    )
    op.create_table('review_statements',
    sa.Column('id', ID, nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('at', TS, nullable=False),
    sa.Column('item_id', ID, nullable=True),
    sa.Column('subject', sa.Text(), nullable=True),
    sa.Column('restrictive', sa.Boolean(), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uuid')
    )
    op.create_index('ix_review_statements_at', 'review_statements', ['at'])
    op.create_table('legal_holds',
    sa.Column('id', ID, nullable=False),
    sa.Column('item_id', ID, nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('created_at', TS, nullable=False),
    sa.Column('expires_at', TS, nullable=False),
    sa.Column('nonce', sa.LargeBinary(), nullable=False),
    sa.Column('ciphertext', sa.LargeBinary(), nullable=False),
    sa.Column('accesses', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('item_id')
    )
    op.create_table('takedown_requests',
    sa.Column('id', ID, nullable=False),
    sa.Column('received_at', TS, nullable=False),
    sa.Column('due_at', TS, nullable=False),
    sa.Column('contact', sa.String(length=512), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('hashes', sa.JSON(), nullable=False),
    sa.Column('via', sa.String(length=16), nullable=False),
    sa.Column('copies_found', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    for name in ('takedown_requests', 'legal_holds', 'review_statements', 'review_allowlist',
                 'review_opinions', 'review_decisions', 'review_items', 'moderators'):
        op.drop_table(name)
