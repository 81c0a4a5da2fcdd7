"""covering activity index (revision 0002 after 0001, 2026-11-23)."""

from qbsync.cache.migrations.columns import TXN_INDEXES, replace_indexes

revision, down_revision = '0002', '0001'

#: each transaction table's index by customer and date becomes one covering what activity reads
ACTIVITY = {
    'credit_memos': ['realm_id', 'customer_id', 'txn_date', 'total_amt', 'balance', 'department_id'],
    'estimates': ['realm_id', 'customer_id', 'txn_date', 'total_amt', 'department_id'],
    'invoices': ['realm_id', 'customer_id', 'txn_date', 'total_amt', 'balance', 'voided', 'department_id'],
    'payments': ['realm_id', 'customer_id', 'txn_date', 'total_amt', 'unapplied_amt', 'department_id'],
    'sales_receipts': ['realm_id', 'customer_id', 'txn_date', 'total_amt', 'department_id'],
}


def upgrade() -> None:
    replace_indexes(ACTIVITY, 'customer_activity', was='realm_customer_date')


def downgrade() -> None:
    by_customer = TXN_INDEXES['realm_customer_date']
    replace_indexes({table: by_customer for table in reversed(ACTIVITY)}, 'realm_customer_date',
                    was='customer_activity')
