"""SQLAlchemy models of the local cache: one table per mirrored QBO entity plus sync state.

Every mirrored row is keyed by (realm_id, id) — QBO Ids are strings and unique per realm and
entity — and keeps the full JSON in ``raw`` next to typed columns for what rules and reports
filter on. Money is ``Money`` (exact), times are ``UTCDateTime`` (aware, UTC), dates are the
company's own calendar dates as QBO writes them (``TxnDate``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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


class _Mirrored:
    """Columns every mirrored QBO object has."""

    realm_id: Mapped[str] = mapped_column(String(32), ForeignKey("realms.realm_id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sync_token: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # MetaData.LastUpdatedTime
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # Server time of the sync run that last wrote the row; a full pass deletes rows it did not see.
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Customer(_Mirrored, Base):
    __tablename__ = "customers"

    display_name: Mapped[str] = mapped_column(String(500))
    title: Mapped[str | None] = mapped_column(String(16))
    given_name: Mapped[str | None] = mapped_column(String(100))
    middle_name: Mapped[str | None] = mapped_column(String(100))
    family_name: Mapped[str | None] = mapped_column(String(100))
    suffix: Mapped[str | None] = mapped_column(String(16))
    company_name: Mapped[str | None] = mapped_column(String(100))
    fully_qualified_name: Mapped[str | None] = mapped_column(String(1000))
    email: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(50))
    mobile: Mapped[str | None] = mapped_column(String(50))
    bill_line1: Mapped[str | None] = mapped_column(String(500))
    bill_line2: Mapped[str | None] = mapped_column(String(500))
    bill_city: Mapped[str | None] = mapped_column(String(255))
    bill_region: Mapped[str | None] = mapped_column(String(255))  # CountrySubDivisionCode
    bill_postal_code: Mapped[str | None] = mapped_column(String(30))
    bill_country: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean)
    job: Mapped[bool] = mapped_column(Boolean, default=False)
    parent_id: Mapped[str | None] = mapped_column(String(32))
    level: Mapped[int] = mapped_column(Integer, default=0)
    bill_with_parent: Mapped[bool] = mapped_column(Boolean, default=False)
    customer_type_id: Mapped[str | None] = mapped_column(String(32))
    balance: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    balance_with_jobs: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    currency: Mapped[str | None] = mapped_column(String(8))

    __table_args__ = (
        Index("ix_customers_realm_active", "realm_id", "active"),
        Index("ix_customers_realm_parent", "realm_id", "parent_id"),
        Index("ix_customers_realm_email", "realm_id", "email"),
        Index("ix_customers_realm_updated", "realm_id", "updated_at"),
    )


class _Txn(_Mirrored):
    """Columns every sales-side transaction has."""

    customer_id: Mapped[str | None] = mapped_column(String(32))
    txn_date: Mapped[date] = mapped_column(Date)
    doc_number: Mapped[str | None] = mapped_column(String(64))
    total_amt: Mapped[Decimal] = mapped_column(Money())
    department_id: Mapped[str | None] = mapped_column(String(32))  # location
    class_id: Mapped[str | None] = mapped_column(String(32))  # header ClassRef
    currency: Mapped[str | None] = mapped_column(String(8))
    private_note: Mapped[str | None] = mapped_column(Text)


def _txn_indexes(table: str, *own: str) -> tuple[Index, ...]:
    """The table's indexes; ``own`` names the table's own columns the activity pass reads.

    ``ix_<table>_customer_activity`` covers everything ``rules.activity`` reads in its per-customer
    pass, so that pass walks the index alone: a row in the table is one to several KB (``raw``), an
    entry of this index about 60 bytes.
    """
    return (
        Index(f"ix_{table}_customer_activity", "realm_id", "customer_id", "txn_date", "total_amt", *own,
              "department_id"),
        Index(f"ix_{table}_realm_date", "realm_id", "txn_date"),
        Index(f"ix_{table}_realm_updated", "realm_id", "updated_at"),
    )


class Invoice(_Txn, Base):
    __tablename__ = "invoices"

    due_date: Mapped[date | None] = mapped_column(Date)
    balance: Mapped[Decimal] = mapped_column(Money())
    voided: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = _txn_indexes("invoices", "balance", "voided")


class Payment(_Txn, Base):
    __tablename__ = "payments"

    unapplied_amt: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))

    __table_args__ = _txn_indexes("payments", "unapplied_amt")


class PaymentLink(Base):
    """One line of a Payment applied to a transaction (Invoice, CreditMemo, ...)."""

    __tablename__ = "payment_links"

    realm_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    payment_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    txn_id: Mapped[str] = mapped_column(String(32))
    txn_type: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal] = mapped_column(Money())

    __table_args__ = (Index("ix_payment_links_txn", "realm_id", "txn_type", "txn_id"),)


class SalesReceipt(_Txn, Base):
    __tablename__ = "sales_receipts"

    __table_args__ = _txn_indexes("sales_receipts")


class CreditMemo(_Txn, Base):
    __tablename__ = "credit_memos"

    balance: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))  # remaining credit

    __table_args__ = _txn_indexes("credit_memos", "balance")


class Estimate(_Txn, Base):
    __tablename__ = "estimates"

    txn_status: Mapped[str | None] = mapped_column(String(32))
    expiration_date: Mapped[date | None] = mapped_column(Date)

    __table_args__ = _txn_indexes("estimates")


class SalesLine(Base):
    """A SalesItemLine of an Invoice, SalesReceipt, CreditMemo or Estimate (for 'top items')."""

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


class _NameList(_Mirrored):
    name: Mapped[str] = mapped_column(String(500))
    fully_qualified_name: Mapped[str | None] = mapped_column(String(1000))
    parent_id: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean)


class Item(_NameList, Base):
    __tablename__ = "items"

    type: Mapped[str | None] = mapped_column(String(32))
    unit_price: Mapped[Decimal | None] = mapped_column(Money())


class Department(_NameList, Base):
    """A QBO Department, which the UI calls Location."""

    __tablename__ = "departments"


class QboClass(_NameList, Base):
    __tablename__ = "classes"


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


#: QBO entity name -> model, in the order a full sync fetches them (lists before transactions).
ENTITY_MODELS: dict[str, type[Base]] = {
    "Department": Department,
    "Class": QboClass,
    "Item": Item,
    "Customer": Customer,
    "Invoice": Invoice,
    "Payment": Payment,
    "SalesReceipt": SalesReceipt,
    "CreditMemo": CreditMemo,
    "Estimate": Estimate,
}

NAME_LIST_ENTITIES = frozenset({"Department", "Class", "Item", "Customer"})
TRANSACTION_ENTITIES = frozenset({"Invoice", "Payment", "SalesReceipt", "CreditMemo", "Estimate"})
