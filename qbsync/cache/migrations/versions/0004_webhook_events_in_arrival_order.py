"""webhook events in arrival order (seq), fleet_realms (revision 0004 after 0003, 2026-12-05).

Written by hand: the primary key of ``webhook_events`` moves from ``event_id`` to an arrival sequence,
which no ALTER does portably. The table is an inbox of the last days' webhook events, so it is
re-created empty: any change its events announced is read by the next scheduled sync.
"""

import sqlalchemy as sa
from alembic import op
import qbsync.cache.types

revision, down_revision = '0004', '0003'


def _events_table(with_seq: bool) -> None:
    columns = [sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True,
                         nullable=False)] if with_seq else []
    op.create_table('webhook_events', *columns,
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('realm_id', sa.String(length=32), nullable=False),
    sa.Column('entity', sa.String(length=64), nullable=False),
    sa.Column('entity_id', sa.String(length=255), nullable=False),
    sa.Column('operation', sa.String(length=16), nullable=False),
    sa.Column('occurred_at', qbsync.cache.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('received_at', qbsync.cache.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('seq' if with_seq else 'event_id')
    )
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        if with_seq:
            batch_op.create_index('ux_webhook_events_event_id', ['event_id'], unique=True)
            batch_op.create_index('ix_webhook_events_realm_seq', ['realm_id', 'seq'], unique=False)
        batch_op.create_index('ix_webhook_events_realm_entity_occurred', ['realm_id', 'entity', 'occurred_at'], unique=False)
        batch_op.create_index('ix_webhook_events_realm_received', ['realm_id', 'received_at'], unique=False)


def upgrade() -> None:
    op.create_table('fleet_realms',
    sa.Column('realm_id', sa.String(length=32), nullable=False),
    sa.Column('events_through', sa.BigInteger(), nullable=False),
    sa.Column('last_started_at', qbsync.cache.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_finished_at', qbsync.cache.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_outcome', sa.String(length=16), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('realm_id')
    )
    op.drop_table('webhook_events')
    _events_table(with_seq=True)


def downgrade() -> None:
    op.drop_table('webhook_events')
    _events_table(with_seq=False)
    op.drop_table('fleet_realms')
