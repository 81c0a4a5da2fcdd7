"""webhook events and fleet tokens (revision 0003 after 0002, 2026-12-05)."""

import sqlalchemy as sa

from qbsync.cache.migrations.columns import (
    WEBHOOK_EVENT_INDEXES, create_table, drop_table, utc, webhook_event_columns)

revision, down_revision = '0003', '0002'


def upgrade() -> None:
    create_table('fleet_tokens',
        sa.Column('realm_id', sa.String(length=64), nullable=False),
        sa.Column('ciphertext', sa.Text(), nullable=False),
        sa.Column('updated_at', utc(), nullable=False),
        sa.PrimaryKeyConstraint('realm_id'))
    create_table('webhook_events', *webhook_event_columns(), sa.PrimaryKeyConstraint('event_id'),
                 indexes=WEBHOOK_EVENT_INDEXES)


def downgrade() -> None:
    drop_table('webhook_events', WEBHOOK_EVENT_INDEXES)
    drop_table('fleet_tokens')
