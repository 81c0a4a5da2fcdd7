"""Bad-debt candidates: customers gone quiet with invoices open past 90 or 180 days, for a write-off review.

A candidate owes money (its balance, unapplied credits counted against it, is above zero) on a
charge more than ``min_days`` (90) past due on ``as_of`` and has neither bought nor paid for
``quiet_days`` (90). The old amounts are the open charges in A/R aging's columns; the open total
is the customer's balance. qbsync never writes anything off itself: this is a list for a person
to review.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from qbsync.cache.read import bulk
from qbsync.reports.receivables import OpenItem, open_items
from qbsync.reports.source import ZERO, customer_names, last_dates
from qbsync.reports.table import Column, Table, record


@dataclass
class BadDebtRow:
    customer_id: str
    name: str
    open_total: Decimal
    over_90: Decimal
    over_180: Decimal
    invoices_over_90: int
    oldest_due: date
    last_purchase: date | None
    last_payment: date | None
    quiet_days: int | None  # days since last purchase or payment (None: never did either)
    tier: str  # "over 180" or "over 90"


def compute(items: list[OpenItem], names: dict[str, str], purchases: dict[str, date],
            payments: dict[str, date], as_of: date, *, min_days: int = 90,
            quiet_days: int = 90) -> list[BadDebtRow]:
    """Pure: open A/R items and last dates in, candidates (largest old debt first) out."""
    per: dict[str, list[OpenItem]] = {}
    for item in items:
        per.setdefault(item.customer_id, []).append(item)
    rows: list[BadDebtRow] = []
    for cid, its in per.items():
        balance = sum((i.open for i in its), ZERO)
        old = [i for i in its if i.open > 0 and i.days_past_due(as_of) > min_days]
        if not old or balance <= 0:
            continue
        last = max((d for d in (purchases.get(cid), payments.get(cid)) if d is not None), default=None)
        quiet = (as_of - last).days if last is not None else None
        if quiet is not None and quiet < quiet_days:
            continue
        over_180 = sum((i.open for i in old if i.days_past_due(as_of) > 180), ZERO)
        rows.append(BadDebtRow(
            cid, names.get(cid, cid), balance, sum((i.open for i in old), ZERO),
            over_180, len(old), min(i.due_date for i in old), purchases.get(cid), payments.get(cid), quiet,
            "over 180" if over_180 > 0 else "over 90"))
    rows.sort(key=lambda r: (-r.over_90, r.name, r.customer_id))
    return rows


@bulk()
def baddebt(engine: sa.Engine, realm_id: str, as_of: date, *, min_days: int = 90,
            quiet_days: int = 90) -> list[BadDebtRow]:
    with engine.connect() as conn:
        items = open_items(conn, realm_id, as_of)
        purchases, pays = last_dates(conn, realm_id, as_of)
        names = customer_names(conn, realm_id)
    return compute(items, names, purchases, pays, as_of, min_days=min_days, quiet_days=quiet_days)


def table(rows: list[BadDebtRow], as_of: date, limit: int | None = None) -> Table:
    cols = [Column("customer_id", "Id"), Column("name", "Customer"), Column("tier", "Tier"),
            Column("over_90", "Open > 90 days", "money"), Column("over_180", "Open > 180 days", "money"),
            Column("open_total", "Balance", "money"), Column("invoices_over_90", "Old charges", "int"),
            Column("oldest_due", "Oldest due", "date"), Column("last_purchase", "Last purchase", "date"),
            Column("last_payment", "Last payment", "date"), Column("quiet_days", "Quiet days", "int")]
    shown = rows if limit is None else rows[:limit]
    totals = {"name": "TOTAL", "over_90": sum((r.over_90 for r in rows), ZERO),
              "over_180": sum((r.over_180 for r in rows), ZERO),
              "open_total": sum((r.open_total for r in rows), ZERO),
              "invoices_over_90": sum(r.invoices_over_90 for r in rows)}
    notes = ["for review only: qbsync never writes anything off"]
    if len(shown) < len(rows):
        notes.insert(0, f"showing {len(shown)} of {len(rows)} candidates; totals cover all of them")
    return Table(f"Bad-debt candidates as of {as_of.isoformat()}", cols, [record(r) for r in shown],
                 totals, notes, {"as_of": as_of, "candidates": len(rows)})
