"""Lost customers by reason over time: how many, and the yearly revenue that left with them.

A customer counts as lost on the date recorded with ``qbsync customer lost ID --reason R`` (a
customer who came back, ``--clear``, no longer counts). Its *lost revenue* is what it spent in the
365 days up to that date, counted as the best-customers report counts spend (one definition:
``reports.sales``), so it reads as "sales per year we no longer make". Rows are one per
period (month, quarter or year of the date lost) and reason.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from qbsync.customers.file import LOSS_REASONS, Loss, losses
from qbsync.errors import InputError
from qbsync.reports import sales
from qbsync.reports.source import ZERO, Period, customer_names
from qbsync.reports.table import Column, Table

GRAINS = ("month", "quarter", "year")
WINDOW_DAYS = 365


def period_label(day: date, grain: str) -> str:
    if grain == "month":
        return f"{day.year}-{day.month:02d}"
    if grain == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if grain == "year":
        return str(day.year)
    raise InputError(f"unknown period {grain!r}", hint=f"use one of: {', '.join(GRAINS)}")


@dataclass(frozen=True)
class LostCustomer:
    customer_id: str
    name: str
    reason: str
    lost_on: date
    revenue: Decimal  # spend in the WINDOW_DAYS up to lost_on


@dataclass
class LostRow:
    period: str
    reason: str
    customers: int
    revenue: Decimal


@dataclass
class LostReport:
    as_of: date
    period: Period | None
    grain: str
    rows: list[LostRow]
    lost: list[LostCustomer]

    @property
    def total_customers(self) -> int:
        return len(self.lost)

    @property
    def total_revenue(self) -> Decimal:
        return sum((c.revenue for c in self.lost), ZERO)

    def by_reason(self) -> dict[str, tuple[int, Decimal]]:
        out = {r: (0, ZERO) for r in LOSS_REASONS}
        for c in self.lost:
            n, amount = out[c.reason]
            out[c.reason] = (n + 1, amount + c.revenue)
        return out

    def periods(self) -> list[str]:
        return sorted({r.period for r in self.rows})


def compute(found: Sequence[Loss], spend: Mapping[str, Iterable[tuple[date, Decimal]]],
            names: Mapping[str, str], as_of: date, grain: str, period: Period | None = None) -> LostReport:
    """Group losses by period and reason; ``spend`` holds each lost customer's dated sales. Pure."""
    lost: list[LostCustomer] = []
    for loss in found:
        if loss.lost_on > as_of or (period and not period.start <= loss.lost_on <= period.end):
            continue
        start = loss.lost_on - timedelta(days=WINDOW_DAYS - 1)
        revenue = sum((amount for day, amount in spend.get(loss.customer_id, ())
                       if start <= day <= loss.lost_on), ZERO)
        lost.append(LostCustomer(loss.customer_id, names.get(loss.customer_id, loss.customer_id), loss.reason,
                                 loss.lost_on, revenue))
    cells: dict[tuple[str, str], LostRow] = {}
    for c in lost:
        key = (period_label(c.lost_on, grain), c.reason)
        row = cells.setdefault(key, LostRow(key[0], key[1], 0, ZERO))
        row.customers += 1
        row.revenue += c.revenue
    rows = sorted(cells.values(), key=lambda r: (r.period, LOSS_REASONS.index(r.reason)))
    lost.sort(key=lambda c: (c.lost_on, c.name.casefold(), c.customer_id))
    return LostReport(as_of, period, grain, rows, lost)


def lost(engine: sa.Engine, realm_id: str, as_of: date, grain: str = "month",
         period: Period | None = None) -> LostReport:
    period_label(as_of, grain)  # an unknown grain fails before any query
    with engine.connect() as conn:
        found = losses(conn, realm_id)
        ids = {x.customer_id for x in found}
        spend: dict[str, list[tuple[date, Decimal]]] = defaultdict(list)
        if found:
            first = min(x.lost_on for x in found) - timedelta(days=WINDOW_DAYS)
            rev = sales.union(realm_id, first, max(x.lost_on for x in found))
            for cid, day, amount in conn.execute(sa.select(rev.c.customer_id, rev.c.txn_date, rev.c.amount)):
                if cid in ids:
                    spend[cid].append((day, amount))
        names = {cid: n for cid, n in customer_names(conn, realm_id).items() if cid in ids}
    return compute(found, spend, names, as_of, grain, period)


def table(report: LostReport) -> Table:
    cols = [Column("period", report.grain.capitalize()), Column("reason", "Reason"),
            Column("customers", "Customers", "int"), Column("revenue", "Lost revenue (12 months)", "money"),
            Column("share", "Share of lost revenue", "share")]
    total = report.total_revenue
    rows = [{"period": r.period, "reason": r.reason, "customers": r.customers, "revenue": r.revenue,
             "share": (r.revenue / total) if total else None} for r in report.rows]
    by_reason = report.by_reason()
    notes = ["lost revenue: what each customer spent in the 365 days up to the day it was lost"]
    notes += [f"{reason}: {n} customer{'s' if n != 1 else ''}, {amount:,.2f}"
              for reason, (n, amount) in by_reason.items() if n]
    span = f" {report.period}" if report.period else ""
    return Table(f"Lost customers by reason{span} as of {report.as_of.isoformat()}", cols, rows,
                 {"period": "TOTAL", "customers": report.total_customers, "revenue": total,
                  "share": Decimal(1) if total else None}, notes,
                 {"as_of": report.as_of, "grain": report.grain,
                  "period": str(report.period) if report.period else None})
