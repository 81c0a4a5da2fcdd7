"""open A/R items indexed apart (revision 0010 after 0009, 2026-12-06).

A partial index per A/R table holding only the rows with something open, covering what the open-item
reads take (``reports.receivables``): A/R reports read the open few per cent of a company's history
instead of scanning every invoice, credit memo and payment it ever had.
"""

import sqlalchemy as sa
from alembic import op

revision, down_revision = '0010', '0009'

#: table -> (the column of what is open, the index's columns)
OPEN = {
    'invoices': ('balance', ['realm_id', 'customer_id', 'txn_date', 'due_date', 'doc_number', 'id', 'total_amt',
                             'balance', 'voided']),
    'credit_memos': ('balance', ['realm_id', 'customer_id', 'txn_date', 'doc_number', 'id', 'total_amt',
                                 'balance']),
    'payments': ('unapplied_amt', ['realm_id', 'customer_id', 'txn_date', 'doc_number', 'id', 'total_amt',
                                   'unapplied_amt']),
}


def upgrade() -> None:
    for table, (column, on) in OPEN.items():
        where = sa.text(f'{column} != 0')
        op.create_index(f'ix_{table}_open', table, on, unique=False, sqlite_where=where,
                        postgresql_where=where)


def downgrade() -> None:
    for table in reversed(OPEN):
        op.drop_index(f'ix_{table}_open', table_name=table)
