"""Per-customer activity facts computed from the cache: the input of every customer rule.

CONTRACT (implementation in progress): other modules may import ``CustomerActivity`` and
``load_activity`` now; the dataclass fields are fixed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import sqlalchemy as sa


@dataclass
class CustomerActivity:
    """What one customer did up to ``as_of`` (sales-side transactions only)."""

    customer_id: str
    display_name: str
    active: bool
    parent_id: str | None
    job: bool
    created: date | None
    customer_type_id: str | None
    department_id: str | None  # most frequent location of its transactions
    first_activity: date | None = None
    last_activity: date | None = None
    last_activity_kind: str | None = None  # "invoice", "sales receipt", "payment", "credit memo", "estimate"
    txn_count: int = 0  # invoices + sales receipts (+ estimates when counted): purchases
    purchase_dates: list[date] = field(default_factory=list)  # distinct purchase dates, ascending
    lifetime_revenue: Decimal = Decimal("0")  # invoices + sales receipts - credit memos
    revenue_12m: Decimal = Decimal("0")  # the same over the 365 days ending at as_of
    open_balance: Decimal = Decimal("0")  # sum of open invoice balances as of as_of
    unapplied_credit: Decimal = Decimal("0")  # credit memo remaining + unapplied payments
    usual_gap_days: float | None = None  # median days between purchase dates (None if < 2)


def load_activity(engine: sa.Engine, realm_id: str, as_of: date,
                  include_estimates: bool = False) -> dict[str, CustomerActivity]:
    """Activity of every customer of ``realm_id`` as seen on ``as_of`` (nothing after it counts)."""
    raise NotImplementedError("being implemented: see qbsync/rules/activity.py")
