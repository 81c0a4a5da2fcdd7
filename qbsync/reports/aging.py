"""A/R aging: open invoice balances per customer in current / 1-30 / 31-60 / 61-90 / over-90 buckets.

Days past due = ``as_of`` - due date (the invoice date when QBO has none). Not yet due or due
today is "current". The total is the plain sum of every open invoice balance on ``as_of`` (as
QuickBooks' own A/R aging detail lists invoices; unapplied credits are never netted into a
bucket), so it matches the cache to the cent.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from qbsync.reports.source import ZERO, InvoiceState, customers, invoice_states
from qbsync.reports.table import Column, Table

BUCKETS: tuple[str, ...] = ("current", "1-30", "31-60", "61-90", "over 90")


def bucket_of(days_past_due: int) -> str:
    if days_past_due <= 0:
        return "current"
    if days_past_due <= 30:
        return "1-30"
    if days_past_due <= 60:
        return "31-60"
    if days_past_due <= 90:
        return "61-90"
    return "over 90"


@dataclass
class AgingRow:
    customer_id: str
    name: str
    buckets: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(BUCKETS, ZERO))
    invoices: int = 0
    oldest_due: date | None = None

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), ZERO)


@dataclass
class AgingReport:
    as_of: date
    rows: list[AgingRow]
    totals: dict[str, Decimal]
    invoices: list[InvoiceState]

    @property
    def total(self) -> Decimal:
        return sum(self.totals.values(), ZERO)


def compute(invoices: list[InvoiceState], names: dict[str, str], as_of: date) -> AgingReport:
    """Pure bucketing of open invoices (rows in, report out)."""
    by_customer: dict[str, AgingRow] = {}
    totals = dict.fromkeys(BUCKETS, ZERO)
    for inv in invoices:
        if inv.balance == 0:
            continue
        row = by_customer.get(inv.customer_id)
        if row is None:
            row = by_customer[inv.customer_id] = AgingRow(inv.customer_id,
                                                          names.get(inv.customer_id, inv.customer_id))
        bucket = bucket_of((as_of - inv.due_date).days)
        row.buckets[bucket] += inv.balance
        totals[bucket] += inv.balance
        row.invoices += 1
        if row.oldest_due is None or inv.due_date < row.oldest_due:
            row.oldest_due = inv.due_date
    rows = sorted(by_customer.values(), key=lambda r: (-r.total, r.name, r.customer_id))
    return AgingReport(as_of, rows, totals, [i for i in invoices if i.balance != 0])


def aging(engine: sa.Engine, realm_id: str, as_of: date) -> AgingReport:
    with engine.connect() as conn:
        invoices = invoice_states(conn, realm_id, as_of, open_only=True)
        names = {cid: c.name for cid, c in customers(conn, realm_id).items()}
    return compute(invoices, names, as_of)


def table(report: AgingReport, limit: int | None = None) -> Table:
    cols = [Column("customer_id", "Id"), Column("name", "Customer"), Column("invoices", "Invoices", "int"),
            *(Column(b, b.capitalize() if b[0].isalpha() else b, "money") for b in BUCKETS),
            Column("total", "Total", "money"), Column("oldest_due", "Oldest due", "date")]
    rows = [{"customer_id": r.customer_id, "name": r.name, "invoices": r.invoices, **r.buckets,
             "total": r.total, "oldest_due": r.oldest_due} for r in report.rows]
    notes = []
    if limit is not None and len(rows) > limit:
        notes.append(f"showing the {limit} largest of {len(rows)} customers; totals cover all of them")
        rows = rows[:limit]
    totals = {"customer_id": "", "name": "TOTAL", "invoices": sum(r.invoices for r in report.rows),
              **report.totals, "total": report.total}
    return Table(f"A/R aging as of {report.as_of.isoformat()}", cols, rows, totals, notes,
                 {"as_of": report.as_of, "customers": len(report.rows)})


def by_customer(report: AgingReport) -> dict[str, AgingRow]:
    return {r.customer_id: r for r in report.rows}


def invoices_by_customer(report: AgingReport) -> dict[str, list[InvoiceState]]:
    out: dict[str, list[InvoiceState]] = defaultdict(list)
    for inv in report.invoices:
        out[inv.customer_id].append(inv)
    return out
