"""SQLAlchemy models of the local cache, and the entity registry: each mirrored QBO entity declared once.

A mirrored entity is one model class decorated with ``@mirrored(name, kind, children)``, its columns
declared with the QBO JSON they come from (``mapping.qbo_column``). Everything else derives from
that declaration (``ENTITIES``): table names, the JSON->row mapping that ``jsonsql`` compiles, the
child rows, which entities are name lists (whose queries must ask for inactive rows too), and the
sync order (declaration order: name lists before the transactions that refer to them). Adding an
entity is one declaration plus a generated migration (DEVELOPERS.md).

Every mirrored row is keyed by (realm_id, id) — QBO Ids are strings and unique per realm and
entity — and keeps the full JSON in ``raw`` next to typed columns for what rules and reports
filter on. Money is ``Money`` (exact), times are ``UTCDateTime`` (aware, UTC), dates are the
company's own calendar dates as QBO writes them (``TxnDate``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any, ClassVar, Literal, TypeVar

from sqlalchemy import JSON, ColumnElement, ForeignKey, Index, Integer, String, Text, literal_column, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from qbsync.cache.mapping import (
    JOURNAL_LINES,
    PAYMENT_LINKS,
    SALES_LINES,
    Child,
    Field,
    fields_of,
    qbo_column,
)
from qbsync.cache.types import Money, UTCDateTime

JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    pass


class Realm(Base):
    """A connected QuickBooks company."""

    __tablename__ = "realms"

    realm_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    company_name: Mapped[str | None] = mapped_column(String(255))
    country: Mapped[str | None] = mapped_column(String(8))
    currency: Mapped[str | None] = mapped_column(String(8))
    base_url: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    raw_company_info: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    raw_preferences: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    last_sync_requests: Mapped[int | None] = mapped_column(Integer)  # requests of the last sync run


EntityKind = Literal["name_list", "transaction"]


@dataclass(frozen=True)
class Entity:
    """A mirrored QBO entity: what its one declaration says, and what derives from it."""

    name: str  # as the API, CDC and webhooks spell it: "Invoice"
    model: type[DeclarativeBase]
    #: name lists (customers, items, ...) are deactivated, never deleted, and a query returns only
    #: active ones unless it mentions Active; transactions can be deleted (CDC sends a stub)
    kind: EntityKind
    children: tuple[Child, ...] = ()

    @property
    def table(self) -> str:
        return str(self.model.__tablename__)

    @property
    def name_list(self) -> bool:
        return self.kind == "name_list"

    @cached_property
    def fields(self) -> tuple[Field, ...]:
        """Every column the JSON fills, in declaration order (``_Mirrored``'s first)."""
        return fields_of(self.model)


#: QBO entity name -> its declaration, in the order a full sync fetches them (declaration order)
ENTITIES: dict[str, Entity] = {}

_M = TypeVar("_M", bound=type)


def mirrored(name: str, kind: EntityKind, children: tuple[Child, ...] = ()) -> Callable[[_M], _M]:
    """Declare ``cls`` the cache table of QBO entity ``name`` (see the module docstring)."""
    def declare(cls: _M) -> _M:
        if name in ENTITIES:
            raise ValueError(f"{name} is declared twice")
        ENTITIES[name] = Entity(name, cls, kind, children)
        return cls
    return declare


def entity(name: str) -> Entity:
    """The declaration of ``name``; a ValueError names what is mirrored when it is not."""
    try:
        return ENTITIES[name]
    except KeyError:
        raise ValueError(f"qbsync does not mirror {name} (it mirrors {', '.join(ENTITIES)})") from None


class _Mirrored:
    """Columns every mirrored QBO object has."""

    realm_id: Mapped[str] = mapped_column(String(32), ForeignKey("realms.realm_id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sync_token: Mapped[str] = qbo_column("text", "SyncToken", type_=String(16), default="0")
    created_at: Mapped[datetime | None] = qbo_column("time", "MetaData.CreateTime")
    updated_at: Mapped[datetime | None] = qbo_column("time", "MetaData.LastUpdatedTime")
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # Server time of the sync run that last wrote the row; a full pass deletes rows it did not see.
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def _text(n: int | None, *paths: str, default: str | None = None) -> Any:
    return qbo_column("text", *paths, type_=String(n) if n else Text(), default=default)


def _ref(path: str, n: int = 32) -> Any:
    return qbo_column("ref", path, type_=String(n))


class _NameList(_Mirrored):
    """Columns every name list but Customer has (Customer names its own)."""

    name: Mapped[str] = _text(500, "Name", "DisplayName", default="")
    fully_qualified_name: Mapped[str | None] = _text(1000, "FullyQualifiedName")
    parent_id: Mapped[str | None] = _ref("ParentRef.value")
    active: Mapped[bool] = qbo_column("bool", "Active", default=True)


@mirrored("Department", "name_list")
class Department(_NameList, Base):
    """A QBO Department, which the UI calls Location."""

    __tablename__ = "departments"


@mirrored("Class", "name_list")
class QboClass(_NameList, Base):
    __tablename__ = "classes"


@mirrored("Item", "name_list")
class Item(_NameList, Base):
    __tablename__ = "items"

    type: Mapped[str | None] = _text(32, "Type")
    unit_price: Mapped[Decimal | None] = qbo_column("money", "UnitPrice")


@mirrored("Account", "name_list")
class Account(_NameList, Base):
    """The chart of accounts: which journal-entry lines post to Accounts Receivable, and to income."""

    __tablename__ = "accounts"

    account_type: Mapped[str | None] = _text(64, "AccountType")  # "Accounts Receivable", "Income", ...
    account_sub_type: Mapped[str | None] = _text(64, "AccountSubType")
    classification: Mapped[str | None] = _text(32, "Classification")  # Asset, Revenue, ...


@mirrored("Customer", "name_list")
class Customer(_Mirrored, Base):
    __tablename__ = "customers"

    display_name: Mapped[str] = _text(500, "DisplayName", default="")
    title: Mapped[str | None] = _text(16, "Title")
    given_name: Mapped[str | None] = _text(100, "GivenName")
    middle_name: Mapped[str | None] = _text(100, "MiddleName")
    family_name: Mapped[str | None] = _text(100, "FamilyName")
    suffix: Mapped[str | None] = _text(16, "Suffix")
    company_name: Mapped[str | None] = _text(100, "CompanyName")
    fully_qualified_name: Mapped[str | None] = _text(1000, "FullyQualifiedName")
    email: Mapped[str | None] = _text(255, "PrimaryEmailAddr.Address")
    phone: Mapped[str | None] = _text(50, "PrimaryPhone.FreeFormNumber")
    mobile: Mapped[str | None] = _text(50, "Mobile.FreeFormNumber")
    bill_line1: Mapped[str | None] = _text(500, "BillAddr.Line1")
    bill_line2: Mapped[str | None] = _text(500, "BillAddr.Line2")
    bill_city: Mapped[str | None] = _text(255, "BillAddr.City")
    bill_region: Mapped[str | None] = _text(255, "BillAddr.CountrySubDivisionCode")
    bill_postal_code: Mapped[str | None] = _text(30, "BillAddr.PostalCode")
    bill_country: Mapped[str | None] = _text(255, "BillAddr.Country")
    active: Mapped[bool] = qbo_column("bool", "Active", default=True)
    job: Mapped[bool] = qbo_column("bool", "Job", default=False)
    parent_id: Mapped[str | None] = _ref("ParentRef.value")
    level: Mapped[int] = qbo_column("int0", "Level")
    bill_with_parent: Mapped[bool] = qbo_column("bool", "BillWithParent", default=False)
    customer_type_id: Mapped[str | None] = _ref("CustomerTypeRef.value")
    balance: Mapped[Decimal] = qbo_column("money0", "Balance")
    balance_with_jobs: Mapped[Decimal] = qbo_column("money0", "BalanceWithJobs", "Balance")
    currency: Mapped[str | None] = _ref("CurrencyRef.value", 8)

    __table_args__ = (
        Index("ix_customers_realm_active", "realm_id", "active"),
        Index("ix_customers_realm_parent", "realm_id", "parent_id"),
        Index("ix_customers_realm_email", "realm_id", "email"),
        Index("ix_customers_realm_updated", "realm_id", "updated_at"),
    )


class _Txn(_Mirrored):
    """Columns every sales-side transaction has."""

    customer_id: Mapped[str | None] = _ref("CustomerRef.value")
    txn_date: Mapped[date] = qbo_column("txn_date", "TxnDate", "MetaData.CreateTime")
    doc_number: Mapped[str | None] = _text(64, "DocNumber")
    total_amt: Mapped[Decimal] = qbo_column("money0", "TotalAmt")
    department_id: Mapped[str | None] = _ref("DepartmentRef.value")  # location
    class_id: Mapped[str | None] = _ref("ClassRef.value")  # header ClassRef
    currency: Mapped[str | None] = _ref("CurrencyRef.value", 8)
    private_note: Mapped[str | None] = _text(None, "PrivateNote")

    #: the table's own columns the activity pass reads, besides the header's (``_txn_indexes``)
    _activity_reads: ClassVar[tuple[str, ...]] = ()
    #: A/R transactions: (the column of what is still open, what the open-item reads take besides
    #: the customer and date), for ``ix_<table>_open`` (``_txn_indexes``)
    _open_reads: ClassVar[tuple[str, tuple[str, ...]] | None] = None

    @declared_attr.directive
    def __table_args__(cls: Any) -> tuple[Index, ...]:  # cls: the model class, which names its table
        return _txn_indexes(cls.__tablename__, *cls._activity_reads, open_reads=cls._open_reads)

    @classmethod
    def is_open(cls) -> ColumnElement[bool]:
        """The rows with something open (A/R tables only): the condition of ``ix_<table>_open``, with a
        literal 0 as the index has it, so the planner sees the index holds every row asked for."""
        if cls._open_reads is None:
            raise TypeError(f"{cls.__name__} is not an A/R transaction")
        return getattr(cls, cls._open_reads[0]) != literal_column("0")


def _txn_indexes(table: str, *own: str,
                 open_reads: tuple[str, tuple[str, ...]] | None = None) -> tuple[Index, ...]:
    """The table's indexes; ``own`` names the table's own columns the activity pass reads.

    ``ix_<table>_customer_activity`` covers everything ``rules.activity`` reads in its per-customer
    pass, so that pass walks the index alone: a row in the table is one to several KB (``raw``), an
    entry of this index about 60 bytes.

    ``ix_<table>_open`` (invoices, credit memos, payments) holds only the rows with something open
    (a partial index: ``balance != 0``), with every column the open-item reads take, by customer and
    date. A/R reports read what is open, a few per cent of a company's history, and a customer's open
    items come out together in date order; a row settling leaves it.
    """
    indexes = (
        Index(f"ix_{table}_customer_activity", "realm_id", "customer_id", "txn_date", "total_amt", *own,
              "department_id"),
        Index(f"ix_{table}_realm_date", "realm_id", "txn_date"),
        Index(f"ix_{table}_realm_updated", "realm_id", "updated_at"),
    )
    if open_reads is None:
        return indexes
    column, reads = open_reads
    where = text(f"{column} != 0")
    return (*indexes, Index(f"ix_{table}_open", "realm_id", "customer_id", "txn_date", *reads,
                            sqlite_where=where, postgresql_where=where))


class _Voidable(_Txn):
    """A transaction QuickBooks can void (Invoice, Payment, SalesReceipt, CreditMemo, RefundReceipt):
    QBO keeps it with zero amounts, and nothing counts it as a sale, a payment or activity."""

    voided: Mapped[bool] = qbo_column("voided", "PrivateNote", "TotalAmt")

    _activity_reads: ClassVar[tuple[str, ...]] = ("voided",)


class _Sale(_Voidable):
    """Columns of the transactions that make sales (QuickBooks' Sales by Customer: after discounts,
    before tax, so ``total_amt - total_tax``) and can be voided."""

    total_tax: Mapped[Decimal] = qbo_column("money0", "TxnTaxDetail.TotalTax")

    _activity_reads: ClassVar[tuple[str, ...]] = (*_Voidable._activity_reads, "total_tax")


@mirrored("Invoice", "transaction", (SALES_LINES,))
class Invoice(_Sale, Base):
    __tablename__ = "invoices"

    due_date: Mapped[date | None] = qbo_column("date", "DueDate")
    balance: Mapped[Decimal] = qbo_column("money0", "Balance")

    _activity_reads = ("balance", *_Sale._activity_reads)
    _open_reads = ("balance", ("due_date", "doc_number", "id", "total_amt", "balance", "voided"))


@mirrored("Payment", "transaction", (PAYMENT_LINKS,))
class Payment(_Voidable, Base):
    __tablename__ = "payments"

    unapplied_amt: Mapped[Decimal] = qbo_column("money0", "UnappliedAmt")

    _activity_reads = ("unapplied_amt", *_Voidable._activity_reads)
    _open_reads = ("unapplied_amt", ("doc_number", "id", "total_amt", "unapplied_amt"))


@mirrored("SalesReceipt", "transaction", (SALES_LINES,))
class SalesReceipt(_Sale, Base):
    __tablename__ = "sales_receipts"


@mirrored("CreditMemo", "transaction", (SALES_LINES,))
class CreditMemo(_Sale, Base):
    __tablename__ = "credit_memos"

    balance: Mapped[Decimal] = qbo_column("money0", "RemainingCredit", "Balance")  # remaining credit

    _activity_reads = ("balance", *_Sale._activity_reads)
    _open_reads = ("balance", ("doc_number", "id", "total_amt", "balance"))


@mirrored("RefundReceipt", "transaction", (SALES_LINES,))
class RefundReceipt(_Sale, Base):
    """Money paid back to a customer at once: negative sales, never in A/R."""

    __tablename__ = "refund_receipts"


@mirrored("Estimate", "transaction", (SALES_LINES,))
class Estimate(_Txn, Base):
    __tablename__ = "estimates"

    txn_status: Mapped[str | None] = _text(32, "TxnStatus")
    expiration_date: Mapped[date | None] = qbo_column("date", "ExpirationDate")


@mirrored("JournalEntry", "transaction", (JOURNAL_LINES,))
class JournalEntry(_Mirrored, Base):
    """A journal entry; its lines (``journal_lines``) posted to Accounts Receivable with a customer move
    that customer's balance, and those posted to income with a customer its sales."""

    __tablename__ = "journal_entries"

    txn_date: Mapped[date] = qbo_column("txn_date", "TxnDate", "MetaData.CreateTime")
    doc_number: Mapped[str | None] = _text(64, "DocNumber")
    total_amt: Mapped[Decimal] = qbo_column("money0", "TotalAmt")
    adjustment: Mapped[bool] = qbo_column("bool", "Adjustment", default=False)
    currency: Mapped[str | None] = _ref("CurrencyRef.value", 8)
    private_note: Mapped[str | None] = _text(None, "PrivateNote")

    __table_args__ = (Index("ix_journal_entries_realm_date", "realm_id", "txn_date"),
                      Index("ix_journal_entries_realm_updated", "realm_id", "updated_at"))


class PaymentLink(Base):
    """One line of a Payment applied to a transaction (an Invoice, ...): ``mapping.PAYMENT_LINKS``."""

    __tablename__ = "payment_links"

    realm_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    payment_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    txn_id: Mapped[str] = mapped_column(String(32))
    txn_type: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal] = mapped_column(Money())

    __table_args__ = (Index("ix_payment_links_txn", "realm_id", "txn_type", "txn_id"),)


class SalesLine(Base):
    """A SalesItemLine of a sales document (for 'top items'): ``mapping.SALES_LINES``."""

    __tablename__ = "sales_lines"

    realm_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    txn_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    txn_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[str | None] = mapped_column(String(32))
    class_id: Mapped[str | None] = mapped_column(String(32))
    qty: Mapped[Decimal | None] = mapped_column(Money())
    amount: Mapped[Decimal] = mapped_column(Money())

    __table_args__ = (Index("ix_sales_lines_item", "realm_id", "item_id"),)


class JournalLine(Base):
    """One line of a JournalEntry: ``mapping.JOURNAL_LINES``."""

    __tablename__ = "journal_lines"

    realm_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    txn_type: Mapped[str] = mapped_column(String(32), primary_key=True)  # "JournalEntry"
    txn_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    posting_type: Mapped[str | None] = mapped_column(String(8))  # Debit / Credit
    account_id: Mapped[str | None] = mapped_column(String(32))
    entity_type: Mapped[str | None] = mapped_column(String(16))  # Customer, Vendor, Employee
    entity_id: Mapped[str | None] = mapped_column(String(32))
    class_id: Mapped[str | None] = mapped_column(String(32))
    department_id: Mapped[str | None] = mapped_column(String(32))
    amount: Mapped[Decimal] = mapped_column(Money())

    __table_args__ = (Index("ix_journal_lines_entity", "realm_id", "entity_id", "account_id"),)


class SyncState(Base):
    """The bookmark per realm and entity, committed in the same transaction as the rows it covers."""

    __tablename__ = "sync_state"

    realm_id: Mapped[str] = mapped_column(String(32), ForeignKey("realms.realm_id"), primary_key=True)
    entity: Mapped[str] = mapped_column(String(32), primary_key=True)
    cursor: Mapped[datetime | None] = mapped_column(UTCDateTime())  # CDC changedSince bookmark
    full_sync_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    full_sync_last_id: Mapped[str | None] = mapped_column(String(32))  # resume point of a full pass
    full_sync_total: Mapped[int | None] = mapped_column(Integer)  # COUNT(*) that sized the pass's pages
    full_sync_pages: Mapped[list[int] | None] = mapped_column(JSONType)  # page numbers committed
    full_sync_done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    # requests of the last run that named this entity alone (pages, COUNTs, its own CDC)
    last_run_requests: Mapped[int | None] = mapped_column(Integer)


#: QBO entity name -> model, in sync order (derived from ``ENTITIES``)
ENTITY_MODELS: dict[str, type[DeclarativeBase]] = {name: e.model for name, e in ENTITIES.items()}
