"""webhook events in arrival order (seq), fleet_realms (revision 0004 after 0003, 2026-12-05).

Written by hand: the primary key of ``webhook_events`` moves from ``event_id`` to an arrival sequence,
which no ALTER does portably. The table is an inbox of the last days' webhook events, so it is
re-created empty: any change its events announced is read by the next scheduled sync.
"""

import sqlalchemy as sa
from alembic import op

from qbsync.cache.migrations.columns import (
    WEBHOOK_EVENT_INDEXES, create_table, realm_key, utc, webhook_event_columns)

revision, down_revision = '0004', '0003'


def _events_table(with_seq: bool) -> None:
    if not with_seq:
        create_table('webhook_events', *webhook_event_columns(), sa.PrimaryKeyConstraint('event_id'),
                     indexes=WEBHOOK_EVENT_INDEXES)
        return
    create_table('webhook_events',
        sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        *webhook_event_columns(),
        sa.PrimaryKeyConstraint('seq'),
        indexes={'realm_seq': ['realm_id', 'seq'], **WEBHOOK_EVENT_INDEXES})
    op.create_index('ux_webhook_events_event_id', 'webhook_events', ['event_id'], unique=True)


def upgrade() -> None:
    create_table('fleet_realms',
        realm_key(),
        sa.Column('events_through', sa.BigInteger(), nullable=False),
        sa.Column('last_started_at', utc(), nullable=True),
        sa.Column('last_finished_at', utc(), nullable=True),
        sa.Column('last_outcome', sa.String(length=16), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('realm_id'))
    op.drop_table('webhook_events')
    _events_table(with_seq=True)


def downgrade() -> None:
    op.drop_table('webhook_events')
    _events_table(with_seq=False)
    op.drop_table('fleet_realms')
