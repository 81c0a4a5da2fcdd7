"""The column sets and table shapes the schema revisions share, written once.

Every mirrored QuickBooks entity ends in the same columns (``_Mirrored`` in cache/models.py), every
transaction has the same header (``_Txn``) and the same indexes, the line tables share their key,
and later revisions replace a transaction table's covering activity index. Across all tables, a row
belongs to a company (``realm_key``), refers to QuickBooks entities by their Id (``qbo_id``), is
keyed by a number the database counts (``serial_key``) or by an id qbsync makes and shows
(``own_key``), and is found by company (``BY_REALM``) or by company and customer (``BY_CUSTOMER``).
Alembic wrote each of them out in full in every revision; the revisions spell them through these
names instead.

A revision is frozen once shipped (caches in the field were built by it, and
``tests/cache/test_schema.py`` holds the models equal to what the revisions build), so nothing here
may change what it builds: a new shape is a new function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import qbsync.cache.types

#: a transaction's indexes as revision 0001 made them: by customer and date, by date, by update time
TXN_INDEXES = {'realm_customer_date': ['realm_id', 'customer_id', 'txn_date'],
               'realm_date': ['realm_id', 'txn_date'], 'realm_updated': ['realm_id', 'updated_at']}
#: a webhook event's indexes as revision 0003 made them (0004 keeps them)
WEBHOOK_EVENT_INDEXES = {'realm_entity_occurred': ['realm_id', 'entity', 'occurred_at'],
                         'realm_received': ['realm_id', 'received_at']}
#: rows of one company (plans, write-back runs, outreach batches) are found by company
BY_REALM = {'realm_id': ['realm_id']}
#: rows about one customer (notes, losses, outreach, audit) are found by company and customer
BY_CUSTOMER = {'customer': ['realm_id', 'customer_id']}


def money() -> qbsync.cache.types.Money:
    return qbsync.cache.types.Money(precision=18, scale=2)


def utc() -> qbsync.cache.types.UTCDateTime:
    return qbsync.cache.types.UTCDateTime(timezone=True)


def json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def realm_key() -> sa.Column[object]:
    """A company's QuickBooks realm id: the key of ``realms``; in every other table, whose row it is."""
    return sa.Column('realm_id', sa.String(length=32), nullable=False)


def qbo_id(name: str, nullable: bool = False) -> sa.Column[object]:
    """A QuickBooks Id in column ``name`` (QBO Ids are strings; 32 characters hold them)."""
    return sa.Column(name, sa.String(length=32), nullable=nullable)


def own_id(name: str, nullable: bool = False) -> sa.Column[object]:
    """An id qbsync makes and shows to users ("P", "R" or "B" and 10 hex digits) in column ``name``."""
    return sa.Column(name, sa.String(length=32), nullable=nullable)


def own_key() -> list[sa.schema.SchemaItem]:
    """A row named by an id qbsync makes (``own_id``): column ``id``, the primary key."""
    return [own_id('id'), sa.PrimaryKeyConstraint('id')]


def serial_key() -> list[sa.schema.SchemaItem]:
    """A row numbered by the database: column ``id``, the primary key."""
    return [sa.Column('id', sa.Integer(), autoincrement=True, nullable=False), sa.PrimaryKeyConstraint('id')]


def created() -> sa.Column[object]:
    """When qbsync made the row (a realm, a plan, a campaign, an export, an outreach batch)."""
    return sa.Column('created_at', utc(), nullable=False)


def entity_columns() -> list[sa.schema.SchemaItem]:
    """What every mirrored entity's table ends with: the company, the id, the sync token, the
    entity's own times, its JSON and when a sync last saw it."""
    return [
        realm_key(),
        qbo_id('id'),
        sa.Column('sync_token', sa.String(length=16), nullable=False),
        sa.Column('created_at', utc(), nullable=True),
        sa.Column('updated_at', utc(), nullable=True),
        sa.Column('raw', json(), nullable=False),
        sa.Column('seen_at', utc(), nullable=True),
        sa.ForeignKeyConstraint(['realm_id'], ['realms.realm_id'], ),
        sa.PrimaryKeyConstraint('realm_id', 'id'),
    ]


def name_list_columns() -> list[sa.Column[object]]:
    """A name-list entity's header (classes, departments, items, accounts)."""
    return [
        sa.Column('name', sa.String(length=500), nullable=False),
        sa.Column('fully_qualified_name', sa.String(length=1000), nullable=True),
        qbo_id('parent_id', nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
    ]


def transaction_columns() -> list[sa.Column[object]]:
    """A customer transaction's header (invoices, sales receipts, payments, credit memos, ...)."""
    return [
        qbo_id('customer_id', nullable=True),
        sa.Column('txn_date', sa.Date(), nullable=False),
        sa.Column('doc_number', sa.String(length=64), nullable=True),
        sa.Column('total_amt', money(), nullable=False),
        qbo_id('department_id', nullable=True),
        qbo_id('class_id', nullable=True),
        sa.Column('currency', sa.String(length=8), nullable=True),
        sa.Column('private_note', sa.Text(), nullable=True),
    ]


def line_key_columns() -> list[sa.Column[object]]:
    """The key of a transaction's lines (sales lines, journal lines): which transaction, which line."""
    return [
        realm_key(),
        sa.Column('txn_type', sa.String(length=32), nullable=False),
        qbo_id('txn_id'),
        sa.Column('line_no', sa.Integer(), nullable=False),
    ]


def create_table(table: str, *columns: sa.schema.SchemaItem,
                 indexes: Mapping[str, Sequence[str]] | None = None) -> None:
    """``table`` with ``columns``, then its indexes ``ix_<table>_<name>`` over the columns named."""
    op.create_table(table, *columns)
    if indexes:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, on in indexes.items():
                batch_op.create_index(f'ix_{table}_{name}', list(on), unique=False)


def drop_table(table: str, indexes: Iterable[str] = ()) -> None:
    """``table`` and its indexes ``ix_<table>_<name>`` (named as ``create_table`` was given them: they
    are dropped in the reverse order)."""
    if names := list(indexes):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in reversed(names):
                batch_op.drop_index(f'ix_{table}_{name}')
    op.drop_table(table)


def replace_indexes(indexes: Mapping[str, Sequence[str]], name: str, *, was: str | None = None,
                    add: Callable[[], sa.Column[object]] | None = None,
                    drop_column: str | None = None) -> None:
    """For each table of ``indexes`` (in order): ``add`` its column, then index ``ix_<table>_<name>``
    made over the columns given in place of ``ix_<table>_<was>`` (by default the same name), then
    ``drop_column`` dropped."""
    for table, on in indexes.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            if add is not None:
                batch_op.add_column(add())
            batch_op.drop_index(f'ix_{table}_{was or name}')
            batch_op.create_index(f'ix_{table}_{name}', list(on), unique=False)
            if drop_column is not None:
                batch_op.drop_column(drop_column)


def webhook_event_columns() -> list[sa.Column[object]]:
    """A webhook event as revision 0003 stored it (0004 re-creates the table with an arrival seq)."""
    return [
        sa.Column('event_id', sa.String(length=255), nullable=False),
        realm_key(),
        sa.Column('entity', sa.String(length=64), nullable=False),
        sa.Column('entity_id', sa.String(length=255), nullable=False),
        sa.Column('operation', sa.String(length=16), nullable=False),
        sa.Column('occurred_at', utc(), nullable=True),
        sa.Column('received_at', utc(), nullable=False),
        sa.Column('format', sa.String(length=16), nullable=False),
    ]
