"""Reading the cache for reports: periods, names, invoices as they stood on a date, scan helpers.

Everything here works the same on SQLite and PostgreSQL; the reports that use it do their
arithmetic in Python on exact Decimals. Every read costs in proportion to the rows it reads: whole
tables are scanned in storage order (``whole_realm``) or through a covering index, never row by row
through an index that jumps about the table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from qbsync.cache.mapping import plain_name
from qbsync.cache.models import Customer, Invoice, Payment, PaymentLink, SalesReceipt
from qbsync.cache.read import ZERO, Raw, chunked
from qbsync.cache.types import Money
from qbsync.errors import InputError


def whole_realm(conn: sa.Connection, column: Any, realm_id: str) -> Any:
    """``column == realm_id`` for a query that reads most of a table.

    A cache usually holds one company, so on SQLite the realm's indexes select everything and
    visiting the rows through one of them (in date or customer order) jumps about the table: once
    the table outgrows the page cache each row costs a read, and a report ten times the size takes
    thirty times as long. ``column || ''`` keeps the indexes out, so SQLite reads the table in
    storage order, at a cost in proportion to its size. PostgreSQL chooses by its statistics.
    """
    if conn.dialect.name == "sqlite":
        return sa.type_coerce(column, sa.String) + "" == realm_id
    return column == realm_id


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
        .where(whole_realm(conn, Customer.realm_id, realm_id)))
    return {cid: CustomerInfo(cid, plain_name(name or ""), company, bool(active), parent, ctype)
            for cid, name, company, active, parent, ctype in rows}


def customer_names(conn: sa.Connection, realm_id: str) -> dict[str, str]:
    """Every customer's name as ``customers`` gives it (``CustomerInfo.name``), without the rest:
    for reports that only show names (a third of ``customers``' time at 100,000 customers)."""
    rows = conn.execute(sa.select(Customer.id, Customer.display_name)
                        .where(whole_realm(conn, Customer.realm_id, realm_id)))
    return {cid: plain_name(name or "") for cid, name in rows}


def money_sum(expr: Any) -> Any:
    return sa.type_coerce(sa.func.sum(expr), Money())


@dataclass(slots=True)
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


def later_applied(conn: sa.Connection, realm_id: str, as_of: date) -> dict[tuple[str, str], Decimal]:
    """Per (txn type, txn id): what payments dated after ``as_of`` applied to it.

    Driven from the later payments through the payments' date index: few rows for a recent date.
    """
    q = (sa.select(PaymentLink.txn_type, PaymentLink.txn_id, PaymentLink.amount)
         .select_from(Payment)
         .join(PaymentLink, sa.and_(PaymentLink.realm_id == Payment.realm_id,
                                    PaymentLink.payment_id == Payment.id))
         .where(Payment.realm_id == realm_id, Payment.txn_date > as_of))
    out: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for txn_type, txn_id, amount in conn.execute(q):
        out[(txn_type, txn_id)] += amount or ZERO
    return dict(out)


def invoice_states(conn: sa.Connection, realm_id: str, as_of: date, *,
                   issued_from: date | None = None) -> Iterator[InvoiceState]:
    """Invoices (not voided) as they stood on ``as_of``: those dated ``issued_from..as_of`` and every
    one dated earlier that was still open on ``as_of``, with what payments dated up to then paid.
    (The open ones alone: ``receivables.open_invoices``.)

    The cache holds today's balance; payments dated after ``as_of`` are added back, so a report
    replayed for an earlier date sees what was owed then.
    """
    later = {txn_id: amount for (kind, txn_id), amount in later_applied(conn, realm_id, as_of).items()
             if kind == "Invoice"}
    raw = Raw(conn)
    cols = (Invoice.id, Invoice.customer_id, Invoice.doc_number, raw.col(Invoice.txn_date),
            raw.col(Invoice.due_date), raw.col(Invoice.total_amt), raw.col(Invoice.balance), Invoice.voided)
    cond = [Invoice.voided.is_(False), Invoice.txn_date <= as_of, Invoice.customer_id.is_not(None),
            whole_realm(conn, Invoice.realm_id, realm_id)]
    if issued_from is not None:
        cond.append(sa.or_(Invoice.txn_date >= issued_from, Invoice.is_open()))
    # what payments dated up to as_of applied to each invoice, and the last one's date
    paid_q = (sa.select(PaymentLink.txn_id, sa.func.max(raw.col(Payment.txn_date)).label("last"),
                        sa.func.sum(raw.col(PaymentLink.amount)).label("amount"))
              .join(Payment, sa.and_(Payment.realm_id == PaymentLink.realm_id,
                                     Payment.id == PaymentLink.payment_id))
              .where(PaymentLink.realm_id == realm_id, PaymentLink.txn_type == "Invoice",
                     Payment.txn_date <= as_of)
              .group_by(PaymentLink.txn_id))
    rows: list[Any]
    if conn.dialect.name == "sqlite":
        # grouped and joined in the database: a Python dict of every paid invoice, probed per
        # invoice, grew x14-20 for x10 the data (SQLite builds an index on the grouped rows)
        paid = paid_q.subquery()
        rows = list(conn.execute(sa.select(*cols, paid.c.last, paid.c.amount).select_from(Invoice)
                                 .outerjoin(paid, paid.c.txn_id == Invoice.id).where(*cond)).all())
    else:
        # PostgreSQL without statistics (a new or restored cache until autovacuum analyzes it) plans
        # that join as a nested loop that groups the payments again for every invoice: minutes for a
        # few thousand invoices. Grouped once here and matched in Python.
        by_invoice = {txn_id: (day, amount) for txn_id, day, amount in conn.execute(paid_q)}
        rows = [(*r, *by_invoice.get(r[0], (None, None)))
                for r in conn.execute(sa.select(*cols).where(*cond))]
    seen = {r[0] for r in rows}
    last_day = raw.raw_day(as_of)
    for part in chunked(sorted(i for i in later if i not in seen)):  # settled since, open on as_of
        # by primary key only (a date condition beside it makes SQLite read the date range per chunk)
        found = [r for r in conn.execute(sa.select(*cols).where(
            Invoice.realm_id == realm_id, Invoice.id.in_(part))).all()
            if not r[7] and r[3] <= last_day and r[1] is not None]
        their = {txn_id: (day, amount) for txn_id, day, amount in conn.execute(
            paid_q.where(PaymentLink.txn_id.in_([r[0] for r in found])))}
        rows += [(*r, *their.get(r[0], (None, None))) for r in found]
    return _states(rows, later, raw)


def _states(rows: list[Any], later: dict[str, Decimal], raw: Raw) -> Iterator[InvoiceState]:
    money, to_day = raw.money, raw.day
    for iid, cid, doc, txn_date, due, total, bal, _voided, last, amount in rows:
        day = to_day(txn_date)
        yield InvoiceState(iid, cid or "", doc, day, to_day(due) if due is not None else day,
                           money(total), money(bal) + later.get(iid, ZERO),
                           None if last is None else to_day(last), money(amount))


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
