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
from itertools import compress, islice
from operator import eq

import sqlalchemy as sa

from qbsync.cache.mapping import plain_name
from qbsync.cache.models import Customer
from qbsync.cache.read import Raw, bulk
from qbsync.reports import sales
from qbsync.reports.source import ZERO, Period, customer_names
from qbsync.reports.table import Column, Table, record


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
    ranked = sorted(((cid, v, previous.get(cid), names.get(cid, cid)) for cid, v in current.items() if v),
                    key=lambda r: (-r[1], names.get(r[0], ""), r[0]))
    return _report(ranked, current, previous, names, as_of, period)


def _report(ranked: list[tuple[str, Decimal, Decimal | None, str]], current: dict[str, Decimal],
            previous: dict[str, Decimal], names: dict[str, str], as_of: date, period: Period) -> BestReport:
    """The report of (customer, sales, sales in the previous period or None, name shown) in rank
    order: largest sales first, ties by name and id."""
    total = sum(current.values(), ZERO)
    previous_total = sum(previous.values(), ZERO)
    rows: list[BestRow] = []
    running = ZERO
    for rank, (cid, spend, earlier, name) in enumerate(ranked, start=1):
        running += spend
        before = ZERO if earlier is None else earlier
        rows.append(BestRow(
            rank, cid, name, spend,
            spend / total if total else None, running / total if total else None,
            before, spend - before, (spend - before) / before if before > 0 else None))
    return BestReport(as_of, period, period.previous(), rows, total, previous_total, current, names)


def _ranked(conn: sa.Connection, realm_id: str, period: Period) -> tuple[
        list[tuple[str, Decimal, Decimal | None, str]], dict[str, Decimal], dict[str, Decimal]]:
    """``compute``'s ranking, current and previous sales, from the cache.

    The database sums both periods (``sales.two_periods``) and sorts the customers as ``compute``
    does, their names joined on, so that Python walks them once in rank order: ranking 100,000
    customers' Decimals in Python, and looking each one's name up in a dict of them all, missed the
    processor's caches at every step (x27 and x45 for ten times the customers, issue 15). Where the
    database's order of names could differ from Python's (a deleted customer's suffix, collations),
    equal figures are put in ``compute``'s order here.
    """
    before = period.previous()
    sums = sales.two_periods(realm_id, before.start, period.start, period.end)
    q = (sa.select(sums.c.customer_id, sums.c.later, sums.c.earlier, Customer.id, Customer.display_name)
         .select_from(sums)
         .outerjoin(Customer, sa.and_(Customer.realm_id == realm_id, Customer.id == sums.c.customer_id))
         .order_by(sums.c.later.desc().nulls_last(), Customer.display_name, sums.c.customer_id))
    total = Raw(conn).total
    current: dict[str, Decimal] = {}
    previous: dict[str, Decimal] = {}
    ranked: list[tuple[str, Decimal, Decimal | None, str]] = []
    keys: list[tuple[str, str]] = []  # compute's order of equal figures: (name or "", id)
    for cid, later, earlier, known, display in conn.execute(q):
        spend, then = total(later), total(earlier)
        if then is not None:
            previous[cid] = then
        if spend is None:
            continue
        current[cid] = spend
        if spend:
            name = plain_name(display or "") if known is not None else ""
            ranked.append((cid, spend, then, name if known is not None else cid))
            keys.append((name, cid))
    values = [r[1] for r in ranked]
    # the pairs of equal figures in the wrong order (none on SQLite but for deleted customers' names)
    for k in [k for k in compress(range(len(values) - 1), map(eq, values, islice(values, 1, None)))
              if keys[k] > keys[k + 1]]:
        i, j = k, k + 2
        while i > 0 and values[i - 1] == values[k]:
            i -= 1
        while j < len(values) and values[j] == values[k]:
            j += 1
        order = sorted(range(i, j), key=keys.__getitem__)
        ranked[i:j] = [ranked[n] for n in order]
        keys[i:j] = [keys[n] for n in order]
    return ranked, current, previous


@bulk()
def best(engine: sa.Engine, realm_id: str, as_of: date, period: Period) -> BestReport:
    with engine.connect() as conn:
        ranked, current, previous = _ranked(conn, realm_id, period)
        names = customer_names(conn, realm_id)
    return _report(ranked, current, previous, names, as_of, period)


def table(report: BestReport, limit: int | None = 50) -> Table:
    cols = [Column("rank", "#", "int"), Column("customer_id", "Id"), Column("name", "Customer"),
            Column("spend", "Spend", "money"), Column("share", "Share", "share"),
            Column("cumulative_share", "Cumulative", "share"), Column("previous", "Previous", "money"),
            Column("change", "Change", "money"), Column("change_share", "Change %", "share")]
    rows = [record(r) for r in report.rows]
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
