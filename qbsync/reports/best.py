"""Best customers: ranked by sales in a period, with share, cumulative (Pareto) share and change vs before.

A customer's figure is its sales as QuickBooks' Sales by Customer Summary counts them
(``reports.sales``: invoices and sales receipts less credit memos and refund receipts, after
discounts, before tax) dated in the period; the total is that report's total, so a customer whose
refunds outweigh its sales is listed last with a negative figure. The previous period is the one of
the same length just before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from qbsync.cache.read import bulk
from qbsync.reports import sales
from qbsync.reports.source import ZERO, Period, customers
from qbsync.reports.table import Column, Table


@dataclass
class BestRow:
    rank: int
    customer_id: str
    name: str
    spend: Decimal
    share: Decimal | None
    cumulative_share: Decimal | None
    previous: Decimal
    change: Decimal
    change_share: Decimal | None  # change / previous (None when there was nothing before)


@dataclass
class BestReport:
    as_of: date
    period: Period
    previous_period: Period
    rows: list[BestRow]
    total: Decimal
    previous_total: Decimal
    current: dict[str, Decimal] = field(default_factory=dict)  # every customer's sales, credits too
    names: dict[str, str] = field(default_factory=dict)

    def customers_for(self, share: Decimal) -> int:
        """How many top customers make up ``share`` of the period's revenue (the Pareto count)."""
        for row in self.rows:
            if row.cumulative_share is not None and row.cumulative_share >= share:
                return row.rank
        return len(self.rows)


def spend_by_customer(conn: sa.Connection, realm_id: str, period: Period) -> dict[str, Decimal]:
    return sales.by_customer(conn, realm_id, period.start, period.end)


def compute(current: dict[str, Decimal], previous: dict[str, Decimal], names: dict[str, str],
            as_of: date, period: Period) -> BestReport:
    """Rank every customer with sales (net) in the period, pure. Those whose refunds and credits
    outweigh their sales come last with a negative figure, as in Sales by Customer, whose total
    (every customer's, negative ones included) is the report's total."""
    total = sum(current.values(), ZERO)
    previous_total = sum(previous.values(), ZERO)
    ranked = sorted(((cid, v) for cid, v in current.items() if v),
                    key=lambda kv: (-kv[1], names.get(kv[0], ""), kv[0]))
    rows: list[BestRow] = []
    running = ZERO
    for rank, (cid, spend) in enumerate(ranked, start=1):
        running += spend
        before = previous.get(cid, ZERO)
        rows.append(BestRow(
            rank, cid, names.get(cid, cid), spend,
            spend / total if total else None, running / total if total else None,
            before, spend - before, (spend - before) / before if before > 0 else None))
    return BestReport(as_of, period, period.previous(), rows, total, previous_total, current, names)


@bulk()
def best(engine: sa.Engine, realm_id: str, as_of: date, period: Period) -> BestReport:
    with engine.connect() as conn:
        current = spend_by_customer(conn, realm_id, period)
        previous = spend_by_customer(conn, realm_id, period.previous())
        names = {cid: c.name for cid, c in customers(conn, realm_id).items()}
    return compute(current, previous, names, as_of, period)


def table(report: BestReport, limit: int | None = 50) -> Table:
    cols = [Column("rank", "#", "int"), Column("customer_id", "Id"), Column("name", "Customer"),
            Column("spend", "Spend", "money"), Column("share", "Share", "share"),
            Column("cumulative_share", "Cumulative", "share"), Column("previous", "Previous", "money"),
            Column("change", "Change", "money"), Column("change_share", "Change %", "share")]
    rows = [vars(r).copy() for r in report.rows]
    pareto = report.customers_for(Decimal("0.8"))
    paying = sum(1 for r in report.rows if r.spend > 0)
    notes = [f"{pareto:,} of {paying:,} paying customers made 80% of revenue in {report.period}"]
    if paying < len(report.rows):
        outweighed = len(report.rows) - paying
        whose = "1 customer's" if outweighed == 1 else f"{outweighed:,} customers'"
        notes.append(f"{whose} refunds and credits outweigh their sales "
                     "in the period: listed last, negative, and counted in the total as in Sales by Customer")
    if limit is not None and len(rows) > limit:
        notes.insert(0, f"showing the top {limit:,} of {len(rows):,} customers; totals cover all of them")
        rows = rows[:limit]
    change = report.total - report.previous_total
    totals = {"name": "TOTAL", "spend": report.total, "share": Decimal(1) if report.total else None,
              "previous": report.previous_total, "change": change,
              "change_share": change / report.previous_total if report.previous_total > 0 else None}
    return Table(f"Best customers {report.period} (previous {report.previous_period})", cols, rows, totals,
                 notes, {"as_of": report.as_of, "period": str(report.period),
                         "previous_period": str(report.previous_period), "customers_for_80pct": pareto})
