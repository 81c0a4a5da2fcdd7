"""initial schema (revision 0001 after none, 2026-11-23)."""

import sqlalchemy as sa

from qbsync.cache.migrations.columns import (
    BY_CUSTOMER, BY_REALM, TXN_INDEXES, create_table, created, drop_table, entity_columns, json, line_key_columns,
    money, name_list_columns, own_id, own_key, qbo_id, realm_key, serial_key, transaction_columns, utc)

revision, down_revision = '0001', None


def upgrade() -> None:
    create_table('campaigns',
        *serial_key(),
        realm_key(),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('segment', sa.String(length=200), nullable=False),
        sa.Column('definition', json(), nullable=False),
        sa.Column('as_of', sa.Date(), nullable=False),
        created(),
        sa.Column('control_share', sa.String(length=16), nullable=False),
        sa.Column('seed', sa.BigInteger(), nullable=False),
        sa.Column('members', sa.Integer(), nullable=False),
        sa.Column('controls', sa.Integer(), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.UniqueConstraint('realm_id', 'name', name='uq_campaigns_realm_name'))
    create_table('payment_links',
        realm_key(),
        qbo_id('payment_id'),
        sa.Column('line_no', sa.Integer(), nullable=False),
        qbo_id('txn_id'),
        sa.Column('txn_type', sa.String(length=32), nullable=False),
        sa.Column('amount', money(), nullable=False),
        sa.PrimaryKeyConstraint('realm_id', 'payment_id', 'line_no'),
        indexes={'txn': ['realm_id', 'txn_type', 'txn_id']})
    create_table('realms',
        realm_key(),
        sa.Column('company_name', sa.String(length=255), nullable=True),
        sa.Column('country', sa.String(length=8), nullable=True),
        sa.Column('currency', sa.String(length=8), nullable=True),
        sa.Column('base_url', sa.String(length=512), nullable=True),
        created(),
        sa.Column('raw_company_info', json(), nullable=True),
        sa.Column('raw_preferences', json(), nullable=True),
        sa.PrimaryKeyConstraint('realm_id'))
    create_table('sales_lines',
        *line_key_columns(),
        qbo_id('item_id', nullable=True),
        qbo_id('class_id', nullable=True),
        sa.Column('qty', money(), nullable=True),
        sa.Column('amount', money(), nullable=False),
        sa.PrimaryKeyConstraint('realm_id', 'txn_type', 'txn_id', 'line_no'),
        indexes={'item': ['realm_id', 'item_id']})
    create_table('writeback_plans',
        *own_key(),
        realm_key(),
        sa.Column('rule', sa.String(length=32), nullable=False),
        sa.Column('as_of', sa.Date(), nullable=False),
        created(),
        sa.Column('params', json(), nullable=False),
        indexes=BY_REALM)
    create_table('campaign_exports',
        *serial_key(),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        created(),
        sa.Column('list_kind', sa.String(length=32), nullable=False),
        sa.Column('fmt', sa.String(length=32), nullable=False),
        sa.Column('path', sa.Text(), nullable=False),
        sa.Column('rows', sa.Integer(), nullable=False),
        sa.Column('params', json(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ),
        indexes={'campaign_id': ['campaign_id']})
    create_table('campaign_members',
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        qbo_id('customer_id'),
        sa.Column('control', sa.Boolean(), nullable=False),
        sa.Column('display_name', sa.String(length=500), nullable=False),
        sa.Column('email', sa.String(length=255), nullable=True),
        sa.Column('last_purchase', sa.Date(), nullable=True),
        sa.Column('lifetime_value', money(), nullable=False),
        sa.Column('balance', money(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('facts', json(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], ),
        sa.PrimaryKeyConstraint('campaign_id', 'customer_id'),
        indexes={'control': ['campaign_id', 'control']})
    create_table('classes',
        *name_list_columns(),
        *entity_columns())
    create_table('credit_memos',
        sa.Column('balance', money(), nullable=False),
        *transaction_columns(),
        *entity_columns(),
        indexes=TXN_INDEXES)
    create_table('customers',
        sa.Column('display_name', sa.String(length=500), nullable=False),
        sa.Column('title', sa.String(length=16), nullable=True),
        sa.Column('given_name', sa.String(length=100), nullable=True),
        sa.Column('middle_name', sa.String(length=100), nullable=True),
        sa.Column('family_name', sa.String(length=100), nullable=True),
        sa.Column('suffix', sa.String(length=16), nullable=True),
        sa.Column('company_name', sa.String(length=100), nullable=True),
        sa.Column('fully_qualified_name', sa.String(length=1000), nullable=True),
        sa.Column('email', sa.String(length=255), nullable=True),
        sa.Column('phone', sa.String(length=50), nullable=True),
        sa.Column('mobile', sa.String(length=50), nullable=True),
        sa.Column('bill_line1', sa.String(length=500), nullable=True),
        sa.Column('bill_line2', sa.String(length=500), nullable=True),
        sa.Column('bill_city', sa.String(length=255), nullable=True),
        sa.Column('bill_region', sa.String(length=255), nullable=True),
        sa.Column('bill_postal_code', sa.String(length=30), nullable=True),
        sa.Column('bill_country', sa.String(length=255), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('job', sa.Boolean(), nullable=False),
        qbo_id('parent_id', nullable=True),
        sa.Column('level', sa.Integer(), nullable=False),
        sa.Column('bill_with_parent', sa.Boolean(), nullable=False),
        qbo_id('customer_type_id', nullable=True),
        sa.Column('balance', money(), nullable=False),
        sa.Column('balance_with_jobs', money(), nullable=False),
        sa.Column('currency', sa.String(length=8), nullable=True),
        *entity_columns(),
        indexes={'realm_active': ['realm_id', 'active'], 'realm_email': ['realm_id', 'email'],
                 'realm_parent': ['realm_id', 'parent_id'], 'realm_updated': ['realm_id', 'updated_at']})
    create_table('departments',
        *name_list_columns(),
        *entity_columns())
    create_table('estimates',
        sa.Column('txn_status', sa.String(length=32), nullable=True),
        sa.Column('expiration_date', sa.Date(), nullable=True),
        *transaction_columns(),
        *entity_columns(),
        indexes=TXN_INDEXES)
    create_table('invoices',
        sa.Column('due_date', sa.Date(), nullable=True),
        sa.Column('balance', money(), nullable=False),
        sa.Column('voided', sa.Boolean(), nullable=False),
        *transaction_columns(),
        *entity_columns(),
        indexes=TXN_INDEXES)
    create_table('items',
        sa.Column('type', sa.String(length=32), nullable=True),
        sa.Column('unit_price', money(), nullable=True),
        *name_list_columns(),
        *entity_columns())
    create_table('payments',
        sa.Column('unapplied_amt', money(), nullable=False),
        *transaction_columns(),
        *entity_columns(),
        indexes=TXN_INDEXES)
    create_table('sales_receipts',
        *transaction_columns(),
        *entity_columns(),
        indexes=TXN_INDEXES)
    create_table('sync_state',
        realm_key(),
        sa.Column('entity', sa.String(length=32), nullable=False),
        sa.Column('cursor', utc(), nullable=True),
        sa.Column('full_sync_started_at', utc(), nullable=True),
        qbo_id('full_sync_last_id', nullable=True),
        sa.Column('full_sync_total', sa.Integer(), nullable=True),
        sa.Column('full_sync_pages', json(), nullable=True),
        sa.Column('full_sync_done_at', utc(), nullable=True),
        sa.Column('last_run_at', utc(), nullable=True),
        sa.Column('last_success_at', utc(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('row_count', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['realm_id'], ['realms.realm_id'], ),
        sa.PrimaryKeyConstraint('realm_id', 'entity'))
    create_table('writeback_plan_items',
        own_id('plan_id'),
        sa.Column('seq', sa.Integer(), nullable=False),
        qbo_id('customer_id'),
        sa.Column('display_name', sa.String(length=500), nullable=False),
        sa.Column('disposition', sa.String(length=16), nullable=False),
        sa.Column('current_active', sa.Boolean(), nullable=False),
        sa.Column('new_active', sa.Boolean(), nullable=False),
        sa.Column('sync_token', sa.String(length=16), nullable=False),
        sa.Column('balance', money(), nullable=False),
        sa.Column('level', sa.Integer(), nullable=False),
        sa.Column('last_activity', sa.Date(), nullable=True),
        sa.Column('rule', sa.String(length=32), nullable=False),
        sa.Column('action', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('facts', json(), nullable=False),
        sa.Column('steps', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['plan_id'], ['writeback_plans.id'], ),
        sa.PrimaryKeyConstraint('plan_id', 'seq'),
        indexes={'customer': ['plan_id', 'customer_id']})
    create_table('writeback_runs',
        *own_key(),
        realm_key(),
        sa.Column('kind', sa.String(length=8), nullable=False),
        own_id('plan_id', nullable=True),
        own_id('undo_of', nullable=True),
        sa.Column('started_at', utc(), nullable=False),
        sa.Column('finished_at', utc(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('summary', json(), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['plan_id'], ['writeback_plans.id'], ),
        sa.ForeignKeyConstraint(['undo_of'], ['writeback_runs.id'], ),
        indexes=BY_REALM)
    create_table('writeback_audit',
        *serial_key(),
        own_id('run_id'),
        realm_key(),
        sa.Column('at', utc(), nullable=False),
        qbo_id('customer_id'),
        sa.Column('display_name', sa.String(length=500), nullable=True),
        sa.Column('event', sa.String(length=16), nullable=False),
        sa.Column('attempt', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.String(length=64), nullable=True),
        sa.Column('old_active', sa.Boolean(), nullable=True),
        sa.Column('new_active', sa.Boolean(), nullable=True),
        sa.Column('sync_token_sent', sa.String(length=16), nullable=True),
        sa.Column('sync_token_after', sa.String(length=16), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('fault_code', sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(['run_id'], ['writeback_runs.id'], ),
        indexes={**BY_CUSTOMER, 'run_id': ['run_id']})


def downgrade() -> None:
    drop_table('writeback_audit', [*BY_CUSTOMER, 'run_id'])
    drop_table('writeback_runs', BY_REALM)
    drop_table('writeback_plan_items', BY_CUSTOMER)
    drop_table('sync_state')
    drop_table('sales_receipts', TXN_INDEXES)
    drop_table('payments', TXN_INDEXES)
    drop_table('items')
    drop_table('invoices', TXN_INDEXES)
    drop_table('estimates', TXN_INDEXES)
    drop_table('departments')
    drop_table('customers', ['realm_active', 'realm_email', 'realm_parent', 'realm_updated'])
    drop_table('credit_memos', TXN_INDEXES)
    drop_table('classes')
    drop_table('campaign_members', ['control'])
    drop_table('campaign_exports', ['campaign_id'])
    drop_table('writeback_plans', BY_REALM)
    drop_table('sales_lines', ['item'])
    drop_table('realms')
    drop_table('payment_links', ['txn'])
    drop_table('campaigns')
