"""Reading the cache for reports: periods, names, signed revenue rows, invoices as they stood on a date.

Everything here is set-based SQL that works the same on SQLite and PostgreSQL; the reports that
use it do their arithmetic in Python on exact Decimals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from qbsync.cache.models import CreditMemo, Customer, Invoice, Payment, PaymentLink, SalesReceipt
from qbsync.cache.types import Money
from qbsync.errors import InputError

ZERO = Decimal("0.00")
DELETED_SUFFIX = " (deleted)"


@dataclass(frozen=True)
class Period:
    """An inclusive range of transaction dates."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise InputError(f"period starts {self.start} after it ends {self.end}",
                             hint="give --from a date on or before --to")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length that ends the day before this one starts."""
        end = self.start - timedelta(days=1)
        return Period(end - timedelta(days=self.days - 1), end)

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


def default_period(as_of: date, start: date | None = None, end: date | None = None,
                   days: int = 365) -> Period:
    """``start..end``; the end defaults to ``as_of`` (never after it), the start to ``days`` before it."""
    stop = min(end or as_of, as_of)
    return Period(start or (stop - timedelta(days=days - 1)), stop)


def plain_name(name: str) -> str:
    return name[: -len(DELETED_SUFFIX)] if name.endswith(DELETED_SUFFIX) else name


@dataclass(frozen=True)
class CustomerInfo:
    customer_id: str
    name: str
    company: str | None
    active: bool
    parent_id: str | None
    customer_type_id: str | None


def customers(conn: sa.Connection, realm_id: str) -> dict[str, CustomerInfo]:
    rows = conn.execute(
        sa.select(Customer.id, Customer.display_name, Customer.company_name, Customer.active,
                  Customer.parent_id, Customer.customer_type_id)
        .where(Customer.realm_id == realm_id))
    return {cid: CustomerInfo(cid, plain_name(name or ""), company, bool(active), parent, ctype)
            for cid, name, company, active, parent, ctype in rows}


#: the transactions that make revenue: (model, QBO entity name as in sales_lines.txn_type, sign)
REVENUE_TYPES: tuple[tuple[Any, str, int], ...] = (
    (Invoice, "Invoice", 1), (SalesReceipt, "SalesReceipt", 1), (CreditMemo, "CreditMemo", -1))


def revenue_selects(realm_id: str, start: date | None, end: date) -> list[tuple[Any, str, sa.Select[Any]]]:
    """Per revenue type: (model, entity name, select of its signed rows), for callers that join more."""
    selects: list[tuple[Any, str, sa.Select[Any]]] = []
    for model, entity, sign in REVENUE_TYPES:
        amount = model.total_amt if sign > 0 else -model.total_amt
        q = (sa.select(model.customer_id.label("customer_id"), model.txn_date.label("txn_date"),
                       amount.label("amount"), model.department_id.label("department_id"),
                       model.class_id.label("class_id"))
             .where(model.realm_id == realm_id, model.customer_id.is_not(None), model.txn_date <= end))
        if start is not None:
            q = q.where(model.txn_date >= start)
        if model is Invoice:
            q = q.where(Invoice.voided.is_(False))
        selects.append((model, entity, q))
    return selects


def revenue_union(realm_id: str, start: date | None, end: date) -> sa.Subquery:
    """Signed sales rows (customer_id, txn_date, amount, department_id, class_id) dated in start..end.

    Invoices (not voided) and sales receipts count positive, credit memos negative: what a
    customer spent, net of credits.
    """
    return sa.union_all(*(q for _, _, q in revenue_selects(realm_id, start, end))).subquery("revenue")


def money_sum(expr: Any) -> Any:
    return sa.type_coerce(sa.func.sum(expr), Money())


@dataclass(frozen=True)
class InvoiceState:
    """One invoice as it stood on ``as_of``: what was still owed and when it was (last) paid."""

    invoice_id: str
    customer_id: str
    doc_number: str | None
    txn_date: date
    due_date: date  # the invoice date when QBO has no due date (due on receipt)
    total: Decimal
    balance: Decimal  # open balance on as_of
    last_paid: date | None  # latest payment applied by as_of (None: never paid by then)
    paid_amount: Decimal  # applied by payments dated up to as_of


def _links(realm_id: str) -> Any:
    """Invoice-payment links with the payment's date."""
    return (sa.select(PaymentLink.txn_id.label("invoice_id"), Payment.txn_date.label("paid_on"),
                      PaymentLink.amount.label("amount"))
            .join(Payment, sa.and_(Payment.realm_id == PaymentLink.realm_id,
                                   Payment.id == PaymentLink.payment_id))
            .where(PaymentLink.realm_id == realm_id, PaymentLink.txn_type == "Invoice"))


def invoice_states(conn: sa.Connection, realm_id: str, as_of: date, *, open_only: bool = False,
                   issued_from: date | None = None, customer_id: str | None = None) -> list[InvoiceState]:
    """Invoices dated up to ``as_of`` (not voided), each with its balance as it stood on ``as_of``.

    The cache holds today's balance; payments dated after ``as_of`` are added back, so a report
    replayed for an earlier date sees what was owed then. With ``as_of`` at or after the last
    payment the balance is exactly the cached one, so totals match QuickBooks to the cent.
    """
    links = _links(realm_id).subquery("links")
    later = (sa.select(links.c.invoice_id, money_sum(links.c.amount).label("later"))
             .where(links.c.paid_on > as_of).group_by(links.c.invoice_id).subquery("later"))
    paid = (sa.select(links.c.invoice_id, sa.func.max(links.c.paid_on).label("last_paid"),
                      money_sum(links.c.amount).label("paid"))
            .where(links.c.paid_on <= as_of).group_by(links.c.invoice_id).subquery("paid"))
    balance = sa.type_coerce(Invoice.balance + sa.func.coalesce(later.c.later, 0), Money())
    query = (
        sa.select(Invoice.id, Invoice.customer_id, Invoice.doc_number, Invoice.txn_date, Invoice.due_date,
                  Invoice.total_amt, balance, paid.c.last_paid, sa.type_coerce(paid.c.paid, Money()))
        .outerjoin(later, later.c.invoice_id == Invoice.id)
        .outerjoin(paid, paid.c.invoice_id == Invoice.id)
        .where(Invoice.realm_id == realm_id, Invoice.voided.is_(False), Invoice.txn_date <= as_of,
               Invoice.customer_id.is_not(None))
    )
    if open_only:
        query = query.where(balance != 0)
    if issued_from is not None:
        query = query.where(Invoice.txn_date >= issued_from)
    if customer_id is not None:
        query = query.where(Invoice.customer_id == customer_id)
    return [
        InvoiceState(iid, cid, doc, txn_date, due or txn_date, total or ZERO, bal or ZERO, last_paid,
                     paid_amt or ZERO)
        for iid, cid, doc, txn_date, due, total, bal, last_paid, paid_amt in conn.execute(query)
    ]


def last_dates(conn: sa.Connection, realm_id: str, as_of: date) -> tuple[dict[str, date], dict[str, date]]:
    """(last purchase date, last payment date) per customer, up to ``as_of``."""
    purchases: dict[str, date] = {}
    for model in (Invoice, SalesReceipt):
        q = (sa.select(model.customer_id, sa.func.max(model.txn_date))
             .where(model.realm_id == realm_id, model.txn_date <= as_of, model.customer_id.is_not(None))
             .group_by(model.customer_id))
        if model is Invoice:
            q = q.where(Invoice.voided.is_(False))
        for cid, day in conn.execute(q):
            assert cid is not None
            if cid not in purchases or day > purchases[cid]:
                purchases[cid] = day
    payments: dict[str, date] = dict(conn.execute(  # type: ignore[arg-type]
        sa.select(Payment.customer_id, sa.func.max(Payment.txn_date))
        .where(Payment.realm_id == realm_id, Payment.txn_date <= as_of, Payment.customer_id.is_not(None))
        .group_by(Payment.customer_id)).all())
    return purchases, payments
