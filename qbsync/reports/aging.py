"""A/R aging as QuickBooks' A/R Aging Summary and A/R Aging Detail reports make it.

Every open A/R transaction of a customer (``receivables.open_items``) goes into a column by its
days past due on the report date (the date minus the due date; credits are due on their own date):
*current* when not yet past due, then ``periods - 1`` columns of ``days`` days each and a last
open-ended one (QuickBooks' defaults, 30 days and 4 periods: Current, 1 - 30, 31 - 60, 61 - 90,
91 and over). Unapplied payments and credit memos are negative amounts in their column, so a
customer's total is its QuickBooks balance, customers in credit are listed with a negative total,
and the grand total is the A/R balance (the sum of the customers' balances).

QuickBooks Online ages from the due date; its *aging method* says which payments count
(``receivables.AGING_METHODS``). QuickBooks Desktop's other choice, *age from transaction date*
(``age_from="txn_date"``: every item ages from its own date), is offered too; QuickBooks Online's
Reports API has no such parameter, so that aging cannot be reconciled over it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Literal

import sqlalchemy as sa

from qbsync.cache.read import bulk
from qbsync.errors import InputError
from qbsync.reports.receivables import KIND_TITLES, AgingMethod, OpenItem, open_items
from qbsync.reports.source import ZERO, customer_names
from qbsync.reports.table import Column, Table

AgeFrom = Literal["due_date", "txn_date"]
AGE_FROM: dict[str, AgeFrom] = {"due-date": "due_date", "transaction-date": "txn_date"}


@dataclass(frozen=True)
class AgingParams:
    """QuickBooks' aging options: days per aging period, number of periods, aging method, and what
    an item ages from (its due date, or, as QuickBooks Desktop can, its transaction date)."""

    days: int = 30
    periods: int = 4
    method: AgingMethod = "report_date"
    age_from: AgeFrom = "due_date"

    def __post_init__(self) -> None:
        if self.days < 1:
            raise InputError(f"--aging-period {self.days}: a period needs at least one day",
                             hint="QuickBooks' default is 30")
        if self.periods < 1:
            raise InputError(f"--num-periods {self.periods}: needs at least one period",
                             hint="QuickBooks' default is 4")

    @cached_property  # read once per open item by ``bucket``
    def buckets(self) -> tuple[str, ...]:
        """Column keys: ``current``, ``1-30`` ... and the open-ended ``over 90``."""
        d = self.days
        closed = [f"{(i - 1) * d + 1}-{i * d}" for i in range(1, self.periods)]
        return ("current", *closed, f"over {(self.periods - 1) * d}")

    @property
    def titles(self) -> tuple[str, ...]:
        """QuickBooks' column titles: ``Current``, ``1 - 30`` ... ``91 and over``."""
        d = self.days
        closed = [f"{(i - 1) * d + 1} - {i * d}" for i in range(1, self.periods)]
        return ("Current", *closed, f"{(self.periods - 1) * d + 1} and over")

    def age(self, item: OpenItem, on: date) -> int:
        """Days the item counts as old on ``on``: past its due date, or since its own date."""
        return item.days_past_due(on) if self.age_from == "due_date" else (on - item.txn_date).days

    def bucket(self, days_past_due: int) -> str:
        if days_past_due <= 0:
            return "current"
        index = min((days_past_due - 1) // self.days + 1, self.periods)
        return self.buckets[index]


DEFAULT = AgingParams()
BUCKETS: tuple[str, ...] = DEFAULT.buckets


def bucket_of(days_past_due: int) -> str:
    """The bucket with QuickBooks' default periods (30 days, 4 periods)."""
    return DEFAULT.bucket(days_past_due)


@dataclass
class AgingRow:
    customer_id: str
    name: str
    buckets: dict[str, Decimal]
    items: int = 0
    oldest_due: date | None = None  # of its open charges

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), ZERO)


@dataclass
class AgingReport:
    as_of: date
    params: AgingParams
    rows: list[AgingRow]
    totals: dict[str, Decimal]
    items: list[OpenItem]
    names: dict[str, str] = field(default_factory=dict)
    age_on: date | None = None  # the date days are counted to, when not as_of (aging method current)

    @property
    def aged_on(self) -> date:
        return self.age_on or self.as_of

    @property
    def total(self) -> Decimal:
        return sum(self.totals.values(), ZERO)

    @property
    def in_credit(self) -> int:
        return sum(1 for r in self.rows if r.total < 0)


def compute(items: list[OpenItem], names: dict[str, str], as_of: date,
            params: AgingParams = DEFAULT, today: date | None = None) -> AgingReport:
    """Pure: open items in, one row per customer with something open, columns by days past due.

    With the aging method ``current`` and ``today`` given, days are counted to today (QuickBooks'
    "Current": open balances after every payment received, aged as of today)."""
    age_on = today if params.method == "current" and today is not None else as_of
    by_customer: dict[str, AgingRow] = {}
    totals = dict.fromkeys(params.buckets, ZERO)
    kept = [i for i in items if i.open != 0]
    for item in kept:
        row = by_customer.get(item.customer_id)
        if row is None:
            row = by_customer[item.customer_id] = AgingRow(
                item.customer_id, names.get(item.customer_id, item.customer_id),
                dict.fromkeys(params.buckets, ZERO))
        bucket = params.bucket(params.age(item, age_on))
        row.buckets[bucket] += item.open
        totals[bucket] += item.open
        row.items += 1
        if item.open > 0 and (row.oldest_due is None or item.due_date < row.oldest_due):
            row.oldest_due = item.due_date
    rows = sorted(by_customer.values(), key=lambda r: (-r.total, r.name, r.customer_id))
    return AgingReport(as_of, params, rows, totals, kept, names, age_on if age_on != as_of else None)


@bulk()
def aging(engine: sa.Engine, realm_id: str, as_of: date, params: AgingParams = DEFAULT,
          today: date | None = None) -> AgingReport:
    with engine.connect() as conn:
        items = open_items(conn, realm_id, as_of, params.method)
        names = customer_names(conn, realm_id)
    return compute(items, names, as_of, params, today)


def _meta(report: AgingReport) -> dict[str, object]:
    return {"as_of": report.as_of, "customers": len(report.rows), "aging_period": report.params.days,
            "num_periods": report.params.periods, "aging_method": report.params.method,
            "age_from": report.params.age_from, "aged_on": report.aged_on, "in_credit": report.in_credit}


def table(report: AgingReport, limit: int | None = None) -> Table:
    """QuickBooks' A/R Aging Summary: one row per customer."""
    params = report.params
    cols = [Column("customer_id", "Id"), Column("name", "Customer"), Column("items", "Open items", "int"),
            *(Column(b, t, "money") for b, t in zip(params.buckets, params.titles, strict=True)),
            Column("total", "Total", "money"), Column("oldest_due", "Oldest due", "date")]
    rows = [{"customer_id": r.customer_id, "name": r.name, "items": r.items, **r.buckets,
             "total": r.total, "oldest_due": r.oldest_due} for r in report.rows]
    notes = _age_note(report)
    if report.in_credit:
        notes.append(f"{report.in_credit} customers are in credit (negative total): unapplied payments and "
                     "credit memos count against what is owed, as in QuickBooks")
    if limit is not None and len(rows) > limit:
        notes.insert(0, f"showing the {limit} largest of {len(rows)} customers; totals cover all of them")
        rows = rows[:limit]
    totals = {"customer_id": "", "name": "TOTAL", "items": sum(r.items for r in report.rows),
              **report.totals, "total": report.total}
    return Table(f"A/R aging summary as of {report.as_of.isoformat()}", cols, rows, totals, notes,
                 _meta(report))


def detail_table(report: AgingReport, limit: int | None = None) -> Table:
    """QuickBooks' A/R Aging Detail: one row per open transaction, by column, then customer and date."""
    params = report.params
    order = {b: n for n, b in enumerate(params.buckets)}
    title = dict(zip(params.buckets, params.titles, strict=True))
    cols = [Column("bucket", "Aging"), Column("txn_date", "Date", "date"), Column("kind", "Transaction type"),
            Column("doc_number", "No."), Column("txn_id", "Id"), Column("customer_id", "Customer Id"),
            Column("name", "Customer"), Column("due_date", "Due date", "date"),
            Column("past_due", "Past due" if params.age_from == "due_date" else "Age", "int"),
            Column("amount", "Amount", "money"),
            Column("open", "Open balance", "money")]
    keyed = []
    for item in report.items:
        days = params.age(item, report.aged_on)
        bucket = params.bucket(days)
        name = report.names.get(item.customer_id, item.customer_id)
        keyed.append(((order[bucket], name.casefold(), item.customer_id, item.txn_date, item.txn_id),
                      {"bucket": title[bucket], "txn_date": item.txn_date, "kind": KIND_TITLES[item.kind],
                       "doc_number": item.doc_number, "txn_id": item.txn_id, "customer_id": item.customer_id,
                       "name": name, "due_date": item.due_date, "past_due": max(days, 0),
                       "amount": item.amount, "open": item.open}))
    keyed.sort(key=lambda kv: kv[0])
    rows = [r for _, r in keyed]
    notes = _age_note(report)
    if limit is not None and len(rows) > limit:
        notes.append(f"showing {limit} of {len(rows)} transactions; totals cover all of them")
        rows = rows[:limit]
    totals = {"bucket": "TOTAL", "amount": sum((i.amount for i in report.items), ZERO), "open": report.total}
    return Table(f"A/R aging detail as of {report.as_of.isoformat()}", cols, rows, totals, notes,
                 {**_meta(report), "transactions": len(report.items)})


def _age_note(report: AgingReport) -> list[str]:
    notes = []
    if report.age_on is not None:
        notes.append(f"aging method current: what is open after every payment received, aged as of "
                     f"{report.age_on.isoformat()}")
    if report.params.age_from != "due_date":
        notes.append("aged from each transaction's date (QuickBooks Desktop's \"Age from transaction "
                     "date\"); QuickBooks Online ages from the due date")
    return notes


def by_customer(report: AgingReport) -> dict[str, AgingRow]:
    return {r.customer_id: r for r in report.rows}

