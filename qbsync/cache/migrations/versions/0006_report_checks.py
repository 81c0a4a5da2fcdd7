"""report checks (revision 0006 after 0005, 2026-12-05)."""

import sqlalchemy as sa

from qbsync.cache.migrations.columns import create_table, drop_table, json, realm_key, serial_key, utc

revision, down_revision = '0006', '0005'


def upgrade() -> None:
    create_table('report_checks',
        *serial_key(),
        realm_key(),
        sa.Column('report', sa.String(length=32), nullable=False),
        sa.Column('qbo_report', sa.String(length=64), nullable=False),
        sa.Column('checked_at', utc(), nullable=False),
        sa.Column('as_of', sa.Date(), nullable=False),
        sa.Column('params', json(), nullable=False),
        sa.Column('compared', sa.Integer(), nullable=False),
        sa.Column('differences', sa.Integer(), nullable=False),
        sa.Column('detail', json(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        indexes={'realm_report': ['realm_id', 'report', 'checked_at']})


def downgrade() -> None:
    drop_table('report_checks', ['realm_report'])
