"""customer file (revision 0005 after 0004, 2026-12-05)."""

import sqlalchemy as sa

from qbsync.cache.migrations.columns import (
    BY_CUSTOMER, BY_REALM, create_table, created, drop_table, json, own_id, own_key, qbo_id, realm_key, serial_key,
    utc)

revision, down_revision = '0005', '0004'


def upgrade() -> None:
    create_table('customer_losses',
        *serial_key(),
        realm_key(),
        qbo_id('customer_id'),
        sa.Column('reason', sa.String(length=32), nullable=False),
        sa.Column('lost_on', sa.Date(), nullable=False),
        sa.Column('recorded_at', utc(), nullable=False),
        sa.Column('author', sa.String(length=200), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('cleared_at', utc(), nullable=True),
        indexes=BY_CUSTOMER)
    create_table('customer_notes',
        *serial_key(),
        realm_key(),
        qbo_id('customer_id'),
        sa.Column('at', utc(), nullable=False),
        sa.Column('author', sa.String(length=200), nullable=True),
        sa.Column('text', sa.Text(), nullable=False),
        indexes=BY_CUSTOMER)
    create_table('customer_profiles',
        realm_key(),
        qbo_id('customer_id'),
        sa.Column('language', sa.String(length=16), nullable=True),
        sa.Column('updated_at', utc(), nullable=False),
        sa.PrimaryKeyConstraint('realm_id', 'customer_id'))
    create_table('outreach_batches',
        *own_key(),
        realm_key(),
        sa.Column('kind', sa.String(length=32), nullable=False),
        created(),
        sa.Column('as_of', sa.Date(), nullable=False),
        sa.Column('sent_at', utc(), nullable=True),
        sa.Column('cancelled_at', utc(), nullable=True),
        sa.Column('campaign_id', sa.Integer(), nullable=True),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('params', json(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ),
        indexes=BY_REALM)
    create_table('outreach_items',
        own_id('batch_id'),
        qbo_id('customer_id'),
        realm_key(),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('stage', sa.String(length=32), nullable=True),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('refs', json(), nullable=False),
        sa.Column('excluded', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['batch_id'], ['outreach_batches.id'], ),
        sa.PrimaryKeyConstraint('batch_id', 'customer_id'),
        indexes=BY_CUSTOMER)


def downgrade() -> None:
    drop_table('outreach_items', BY_CUSTOMER)
    drop_table('outreach_batches', BY_REALM)
    drop_table('customer_profiles')
    drop_table('customer_notes', BY_CUSTOMER)
    drop_table('customer_losses', BY_CUSTOMER)
