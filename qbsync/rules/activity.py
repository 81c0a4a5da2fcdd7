"""Per-customer activity facts computed from the cache: the input of every customer rule.

``load_activity`` reads the cache in a handful of set-based queries (aggregates per customer and
per table, one query of distinct purchase dates) and assembles one ``CustomerActivity`` per
customer in pure Python; nothing dated after ``as_of`` counts, so a rule can replay the past.
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from qbsync.cache.models import (
    CreditMemo,
    Customer,
    Department,
    Estimate,
    Invoice,
    Payment,
    PaymentLink,
    SalesReceipt,
)
from qbsync.cache.types import Money

ZERO = Decimal("0.00")
DELETED_SUFFIX = " (deleted)"

#: Transaction kinds in the order that breaks ties on the same date (the most telling first).
KINDS: tuple[str, ...] = ("invoice", "sales receipt", "payment", "credit memo", "estimate")


def display(name: str) -> str:
    """A customer's name as a person reads it: QBO appends " (deleted)" to inactive records."""
    return name[: -len(DELETED_SUFFIX)] if name.endswith(DELETED_SUFFIX) else name


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
    department_id: str | None  # most frequent location of its transactions (sales documents)
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
    # Added by the implementation (all optional, so the contract's constructor still works):
    realm_id: str = ""
    sync_token: str | None = None
    department_name: str | None = None
    balance_now: Decimal = Decimal("0")  # Customer.Balance as last synced (QBO's own figure)
    later_activity: bool = False  # the cache holds transactions of this customer dated after as_of
    activity_count: int = 0  # every counted transaction: purchases, payments, credit memos
    last_purchase: date | None = None

    @property
    def name(self) -> str:
        """The display name without QBO's " (deleted)" suffix."""
        return display(self.display_name)


@dataclass
class _Agg:
    first: date
    last: date
    count: int
    total: Decimal
    total_12m: Decimal


def _per_customer(query: Any, model: Any) -> Any:
    """Read ``model`` in customer order: SQLite's planner otherwise picks the (realm, date) index for
    the ``txn_date <= as_of`` range and sorts millions of rows in a temporary B-tree to group them."""
    return query.with_hint(model, f"INDEXED BY ix_{model.__tablename__}_realm_customer_date",
                           dialect_name="sqlite")


def _table_aggregates(conn: sa.Connection, model: Any, realm_id: str, as_of: date,
                      since_12m: date) -> dict[str, _Agg]:
    amount = model.total_amt
    recent = sa.type_coerce(sa.case((model.txn_date > since_12m, amount), else_=sa.literal(0)), Money())
    query = (
        sa.select(model.customer_id, sa.func.min(model.txn_date), sa.func.max(model.txn_date),
                  sa.func.count(), sa.type_coerce(sa.func.sum(amount), Money()),
                  sa.type_coerce(sa.func.sum(recent), Money()))
        .where(model.realm_id == realm_id, model.txn_date <= as_of, model.customer_id.is_not(None))
        .group_by(model.customer_id)
    )
    if model is Invoice:
        query = query.where(Invoice.voided.is_(False))
    return {
        cid: _Agg(first, last, count, total or ZERO, recent_total or ZERO)
        for cid, first, last, count, total, recent_total in conn.execute(_per_customer(query, model))
    }


def _sums(conn: sa.Connection, query: sa.Executable) -> dict[str, Decimal]:
    return {cid: (value or ZERO) for cid, value in conn.execute(query)}


def _open_balances(conn: sa.Connection, realm_id: str, as_of: date) -> dict[str, Decimal]:
    """Invoice balances as they stood on ``as_of``: today's balance plus what later payments took off."""
    now = _sums(conn, _per_customer(
        sa.select(Invoice.customer_id, sa.type_coerce(sa.func.sum(Invoice.balance), Money()))
        .where(Invoice.realm_id == realm_id, Invoice.txn_date <= as_of, Invoice.voided.is_(False))
        .group_by(Invoice.customer_id), Invoice))
    later = _later_applied(conn, Invoice, "Invoice", realm_id, as_of)
    return _add(now, later)


def _later_applied(conn: sa.Connection, model: Any, txn_type: str, realm_id: str,
                   as_of: date) -> dict[str, Decimal]:
    query = (
        sa.select(model.customer_id, sa.type_coerce(sa.func.sum(PaymentLink.amount), Money()))
        .join(Payment, sa.and_(Payment.realm_id == PaymentLink.realm_id,
                               Payment.id == PaymentLink.payment_id))
        .join(model, sa.and_(model.realm_id == PaymentLink.realm_id, model.id == PaymentLink.txn_id))
        .where(PaymentLink.realm_id == realm_id, PaymentLink.txn_type == txn_type,
               Payment.txn_date > as_of, model.txn_date <= as_of)
        .group_by(model.customer_id)
    )
    if model is Invoice:
        query = query.where(Invoice.voided.is_(False))
    return _sums(conn, query)


def _unapplied_credit(conn: sa.Connection, realm_id: str, as_of: date) -> dict[str, Decimal]:
    memos = _sums(conn, _per_customer(
        sa.select(CreditMemo.customer_id, sa.type_coerce(sa.func.sum(CreditMemo.balance), Money()))
        .where(CreditMemo.realm_id == realm_id, CreditMemo.txn_date <= as_of)
        .group_by(CreditMemo.customer_id), CreditMemo))
    memos = _add(memos, _later_applied(conn, CreditMemo, "CreditMemo", realm_id, as_of))
    payments = _sums(conn, _per_customer(
        sa.select(Payment.customer_id, sa.type_coerce(sa.func.sum(Payment.unapplied_amt), Money()))
        .where(Payment.realm_id == realm_id, Payment.txn_date <= as_of)
        .group_by(Payment.customer_id), Payment))
    return _add(memos, payments)


def _add(a: dict[str, Decimal], b: dict[str, Decimal]) -> dict[str, Decimal]:
    out = dict(a)
    for key, value in b.items():
        out[key] = out.get(key, ZERO) + value
    return out


def _purchase_dates(conn: sa.Connection, models: list[Any], realm_id: str,
                    as_of: date) -> dict[str, list[date]]:
    # Dates come back as text on SQLite: a company has a few thousand distinct days, so parsing each
    # once (memo) instead of once per row, and de-duplicating in Python instead of a SQL UNION + sort,
    # keeps millions of rows fast on both backends.
    parsed: dict[Any, date] = {}
    days: dict[str, set[date]] = defaultdict(set)
    for model in models:
        q = sa.select(model.customer_id, sa.type_coerce(model.txn_date, sa.String)).distinct().where(
            model.realm_id == realm_id, model.txn_date <= as_of, model.customer_id.is_not(None))
        if model is Invoice:
            q = q.where(Invoice.voided.is_(False))
        for cid, raw in conn.execute(q):
            day = parsed.get(raw)
            if day is None:
                day = parsed[raw] = raw if isinstance(raw, date) else date.fromisoformat(str(raw)[:10])
            days[cid].add(day)
    return {cid: sorted(found) for cid, found in days.items()}


def _main_location(conn: sa.Connection, models: list[Any], realm_id: str,
                   as_of: date) -> dict[str, str]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for model in models:
        q = (sa.select(model.customer_id, model.department_id, sa.func.count())
             .where(model.realm_id == realm_id, model.txn_date <= as_of,
                    model.department_id.is_not(None), model.customer_id.is_not(None))
             .group_by(model.customer_id, model.department_id))
        for cid, dept, n in conn.execute(_per_customer(q, model)):
            counts[cid][dept] += n
    # most transactions wins; ties go to the smallest Id so the answer never flickers
    return {cid: min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] for cid, c in counts.items()}


def _later_customers(conn: sa.Connection, models: list[Any], realm_id: str, as_of: date) -> set[str]:
    found: set[str] = set()
    for model in models:
        q = sa.select(model.customer_id).distinct().where(
            model.realm_id == realm_id, model.txn_date > as_of, model.customer_id.is_not(None))
        found.update(cid for (cid,) in conn.execute(q))
    return found


def median_gap(dates: list[date]) -> float | None:
    """Median days between consecutive distinct dates (None with fewer than two dates)."""
    if len(dates) < 2:
        return None
    return float(statistics.median((b - a).days for a, b in itertools.pairwise(dates)))


def load_activity(engine: sa.Engine, realm_id: str, as_of: date,
                  include_estimates: bool = False) -> dict[str, CustomerActivity]:
    """Activity of every customer of ``realm_id`` as seen on ``as_of`` (nothing after it counts).

    Customers created after ``as_of`` did not exist yet and are left out.
    """
    since_12m = as_of - timedelta(days=365)
    purchase_models: list[Any] = [Invoice, SalesReceipt] + ([Estimate] if include_estimates else [])
    kind_models: list[tuple[str, Any]] = [("invoice", Invoice), ("sales receipt", SalesReceipt),
                                          ("payment", Payment), ("credit memo", CreditMemo)]
    if include_estimates:
        kind_models.append(("estimate", Estimate))
    all_models = [m for _, m in kind_models]

    with engine.connect() as conn:
        customers = conn.execute(
            sa.select(Customer.id, Customer.display_name, Customer.active, Customer.parent_id,
                      Customer.job, Customer.created_at, Customer.customer_type_id,
                      Customer.sync_token, Customer.balance)
            .where(Customer.realm_id == realm_id)
        ).all()
        aggs = {kind: _table_aggregates(conn, model, realm_id, as_of, since_12m)
                for kind, model in kind_models}
        dates = _purchase_dates(conn, purchase_models, realm_id, as_of)
        balances = _open_balances(conn, realm_id, as_of)
        credits = _unapplied_credit(conn, realm_id, as_of)
        locations = _main_location(conn, purchase_models, realm_id, as_of)
        later = _later_customers(conn, all_models, realm_id, as_of)
        dept_names = dict(conn.execute(sa.select(Department.id, Department.name)
                                       .where(Department.realm_id == realm_id)).all())

    out: dict[str, CustomerActivity] = {}
    for cid, name, active, parent_id, job, created_at, type_id, token, balance_now in customers:
        created = created_at.date() if created_at is not None else None
        if created is not None and created > as_of:
            continue
        act = CustomerActivity(
            customer_id=cid, display_name=display(name), active=bool(active), parent_id=parent_id,
            job=bool(job), created=created, customer_type_id=type_id, department_id=locations.get(cid),
            realm_id=realm_id, sync_token=token, balance_now=balance_now or ZERO,
            later_activity=cid in later,
        )
        act.department_name = dept_names.get(act.department_id) if act.department_id else None
        _fill(act, aggs, dates.get(cid, []))
        act.open_balance = balances.get(cid, ZERO)
        act.unapplied_credit = credits.get(cid, ZERO)
        out[cid] = act
    return out


def _fill(act: CustomerActivity, aggs: dict[str, dict[str, _Agg]], dates: list[date]) -> None:
    cid = act.customer_id
    best: tuple[date, int] | None = None
    for kind, table in aggs.items():
        agg = table.get(cid)
        if agg is None:
            continue
        act.activity_count += agg.count
        if act.first_activity is None or agg.first < act.first_activity:
            act.first_activity = agg.first
        rank = -KINDS.index(kind)
        if best is None or (agg.last, rank) > best:
            best = (agg.last, rank)
            act.last_activity, act.last_activity_kind = agg.last, kind
        if kind in ("invoice", "sales receipt"):
            act.lifetime_revenue += agg.total
            act.revenue_12m += agg.total_12m
        elif kind == "credit memo":
            act.lifetime_revenue -= agg.total
            act.revenue_12m -= agg.total_12m
        if kind in ("invoice", "sales receipt", "estimate"):
            act.txn_count += agg.count
    act.purchase_dates = dates
    act.last_purchase = dates[-1] if dates else None
    act.usual_gap_days = median_gap(dates)
