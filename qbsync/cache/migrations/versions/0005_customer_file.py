"""customer file (revision 0005 after 0004, 2026-12-05)."""

import sqlalchemy as sa

from qbsync.cache.migrations.columns import create_table, drop_table, json, utc

revision, down_revision = '0005', '0004'


def upgrade() -> None:
    create_table('customer_losses',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('realm_id', sa.String(length=32), nullable=False),
        sa.Column('customer_id', sa.String(length=32), nullable=False),
        sa.Column('reason', sa.String(length=32), nullable=False),
        sa.Column('lost_on', sa.Date(), nullable=False),
        sa.Column('recorded_at', utc(), nullable=False),
        sa.Column('author', sa.String(length=200), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('cleared_at', utc(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        indexes={'customer': ['realm_id', 'customer_id']})
    create_table('customer_notes',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('realm_id', sa.String(length=32), nullable=False),
        sa.Column('customer_id', sa.String(length=32), nullable=False),
        sa.Column('at', utc(), nullable=False),
        sa.Column('author', sa.String(length=200), nullable=True),
        sa.Column('text', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        indexes={'customer': ['realm_id', 'customer_id']})
    create_table('customer_profiles',
        sa.Column('realm_id', sa.String(length=32), nullable=False),
        sa.Column('customer_id', sa.String(length=32), nullable=False),
        sa.Column('language', sa.String(length=16), nullable=True),
        sa.Column('updated_at', utc(), nullable=False),
        sa.PrimaryKeyConstraint('realm_id', 'customer_id'))
    create_table('outreach_batches',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('realm_id', sa.String(length=32), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('created_at', utc(), nullable=False),
        sa.Column('as_of', sa.Date(), nullable=False),
        sa.Column('sent_at', utc(), nullable=True),
        sa.Column('cancelled_at', utc(), nullable=True),
        sa.Column('campaign_id', sa.Integer(), nullable=True),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('params', json(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ),
        sa.PrimaryKeyConstraint('id'),
        indexes={'realm_id': ['realm_id']})
    create_table('outreach_items',
        sa.Column('batch_id', sa.String(length=32), nullable=False),
        sa.Column('customer_id', sa.String(length=32), nullable=False),
        sa.Column('realm_id', sa.String(length=32), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('stage', sa.String(length=32), nullable=True),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('refs', json(), nullable=False),
        sa.Column('excluded', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['batch_id'], ['outreach_batches.id'], ),
        sa.PrimaryKeyConstraint('batch_id', 'customer_id'),
        indexes={'customer': ['realm_id', 'customer_id']})


def downgrade() -> None:
    drop_table('outreach_items', ['customer'])
    drop_table('outreach_batches', ['realm_id'])
    drop_table('customer_profiles')
    drop_table('customer_notes', ['customer'])
    drop_table('customer_losses', ['customer'])
