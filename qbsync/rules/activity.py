"""Per-customer activity facts computed from the cache: the input of every customer rule.

``load_activity`` reads each transaction table once, grouped per customer (dates, count, totals,
what is still open, and the purchase days and locations as concatenated values) from the table's
covering index alone (``ix_<table>_customer_activity``, in customer order), adds back what
payments dated after ``as_of`` took off (only when there are such payments) and assembles one
``CustomerActivity`` per customer in pure Python; nothing dated after ``as_of`` counts, so a rule
can replay the past.

It is also the one definition of what counts as a customer's activity (``ACTIVITY``,
``activity_entities``, ``counted`` for cache rows, ``counts`` for QuickBooks' JSON): the write-back
plan's last-activity lookup and its write-time re-check ask here rather than knowing it themselves.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from qbsync.cache import ledger
from qbsync.cache.mapping import JsonDict, is_deleted_stub, is_voided, plain_name
from qbsync.cache.models import (
    ENTITY_MODELS,
    CreditMemo,
    Customer,
    Department,
    Invoice,
    Payment,
    PaymentLink,
)
from qbsync.cache.read import ZERO, Raw, bulk, chunked

#: What counts as a customer's activity: these sales-side transactions (QBO entity, and the kind as
#: a person reads it), in the order that breaks ties on the same date (the most telling first).
#: Estimates count only when the policy says so (``include_estimates``); a voided transaction never
#: counts (QuickBooks keeps it, zeroed, but nothing was sold, paid or credited).
ACTIVITY: tuple[tuple[str, str], ...] = (
    ("Invoice", "invoice"), ("SalesReceipt", "sales receipt"), ("Payment", "payment"),
    ("CreditMemo", "credit memo"), ("RefundReceipt", "refund receipt"), ("Estimate", "estimate"),
)
KINDS: tuple[str, ...] = tuple(kind for _, kind in ACTIVITY)
#: Every kind, estimates included: what "has transactions at all" means (a duplicate with any is
#: merged by hand, never deactivated, and a transaction dated after ``as_of`` makes that unsafe).
HISTORY_ENTITIES: tuple[str, ...] = tuple(entity for entity, _ in ACTIVITY)
#: Transactions that are purchases (their days make a customer's buying rhythm); estimates when counted.
PURCHASE_ENTITIES = frozenset({"Invoice", "SalesReceipt", "Estimate"})


def activity_entities(include_estimates: bool = False) -> tuple[str, ...]:
    """The QBO entities whose transactions count as activity, in ``ACTIVITY`` order."""
    return tuple(e for e in HISTORY_ENTITIES if include_estimates or e != "Estimate")


def counted(model: Any) -> list[Any]:
    """SQL conditions a cached transaction of ``model`` meets to count: it has a customer and is
    not voided (where the cache records voids)."""
    conditions = [model.customer_id.is_not(None)]
    voided = getattr(model, "voided", None)
    if voided is not None:
        conditions.append(voided.is_(False))
    return conditions


def counts(entity: str, obj: JsonDict) -> bool:
    """``counted`` for a transaction as QuickBooks sends it (the write-time re-check reads these):
    not a deleted stub, and not voided where the cache records voids, so both sides agree."""
    if is_deleted_stub(obj):
        return False
    return not (hasattr(ENTITY_MODELS[entity], "voided") and is_voided(obj))


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
        return plain_name(self.display_name)


#: A sum as the driver returns it: integer cents on SQLite, Decimal on PostgreSQL. Per-customer
#: arithmetic stays in this form (exact either way) and becomes a two-place Decimal once, at the end.
Amount = int | Decimal

#: One customer's aggregate row of one table, as the driver returns it:
#: (customer_id, first day, last day, count, total, total over 12 months, held, days, locations).
#: Days are raw (ISO text on SQLite); ``held`` is the open balance (invoices), remaining credit
#: (memos) or unapplied amount (payments); ``days`` the days joined into one value and
#: ``locations`` the transactions' locations (departments) joined the same way (purchase tables only).
_Row = tuple[Any, ...]
_FIRST, _LAST, _COUNT, _TOTAL, _TOTAL_12M, _HELD_AT, _DAYS, _LOCATIONS = range(1, 9)

#: The column each table adds to its aggregate row: what it still holds on ``as_of``.
_HELD: dict[str, str] = {"invoices": "balance", "credit_memos": "balance", "payments": "unapplied_amt"}


class _Reader(Raw):
    """``Raw`` plus the SQL the activity pass reads its aggregates with.

    Aggregates are read untyped: a SQLite cache returns ISO text and integer cents, and converting
    them through the column types costs a regex or a Decimal division per value.
    """

    def utc_day(self, column: Any) -> Any:
        """The UTC calendar day of a ``UTCDateTime`` column, computed by the database (untyped)."""
        if self.sqlite:  # stored as UTC text, "YYYY-MM-DD HH:MM:SS.ffffff"
            return sa.type_coerce(sa.func.substr(column, 1, 10), sa.types.NullType())
        return sa.type_coerce(sa.cast(sa.func.timezone("UTC", column), sa.Date), sa.types.NullType())

    def days_agg(self, column: Any) -> Any:
        """The days of a group in one value: ISO text joined by commas, or a date array. Repeats are
        dropped in Python, where the days of two tables are merged anyway: DISTINCT here would cost
        a temporary B-tree (SQLite) or a sort (PostgreSQL) per customer to remove a handful."""
        if self.sqlite:
            return sa.func.group_concat(column)
        return sa.func.array_agg(column)

    def days_of(self, raw: Any) -> list[Any]:
        if raw is None:
            return []
        if self.sqlite:
            return str(raw).split(",")
        return raw  # psycopg's list of dates, only read

    def ids_of(self, raw: Any) -> list[str]:
        """The Ids a ``days_agg`` of an Id column joined (QuickBooks Ids are digits: no comma in them),
        its NULLs left out (group_concat skips them; array_agg keeps them)."""
        if raw is None:
            return []
        if self.sqlite:
            return str(raw).split(",")
        return [value for value in raw if value is not None]


def _aggregate_query(reader: _Reader, model: Any, realm_id: str, as_of: date, since_12m: date,
                     purchases: bool) -> Any:
    """The per-customer aggregate of ``model``. It reads only columns of the table's covering index
    (``ix_<table>_customer_activity``), in that index's order, so the database never visits the
    table's rows nor sorts to group (tests/rules/test_activity.py checks SQLite's plan)."""
    # sales as QuickBooks' Sales by Customer counts them: after discounts, before tax (reports.sales)
    amount = model.total_amt - model.total_tax if hasattr(model, "total_tax") else model.total_amt
    raw_date = sa.type_coerce(model.txn_date, sa.String) if reader.sqlite else model.txn_date
    recent = sa.case((model.txn_date > since_12m, amount), else_=sa.literal(0))
    held_name = _HELD.get(model.__tablename__)
    columns: list[Any] = [model.customer_id, sa.func.min(raw_date), sa.func.max(raw_date), sa.func.count(),
                          sa.func.sum(amount), sa.func.sum(recent)]
    columns.append(sa.func.sum(getattr(model, held_name)) if held_name else sa.null())
    columns.append(reader.days_agg(model.txn_date) if purchases else sa.null())
    # the locations ride along in the same pass: grouping by (customer, location) in a second query
    # sorted every transaction (SQLite: a temporary B-tree fed from the date index, each row a probe
    # into the table), which grew x26 for ten times the data (issue 15)
    columns.append(reader.days_agg(model.department_id) if purchases else sa.null())
    query = (
        sa.select(*(sa.type_coerce(c, sa.types.NullType()) if i else c for i, c in enumerate(columns)))
        .where(model.realm_id == realm_id, model.txn_date <= as_of, *counted(model))
        .group_by(model.customer_id)
    )
    return query


def _table_aggregates(conn: sa.Connection, reader: _Reader, model: Any, realm_id: str, as_of: date,
                      since_12m: date, purchases: bool) -> dict[str, _Row]:
    """One pass over ``model``: first/last day, count, totals, what it still holds and (for purchase
    tables) the purchase days, per customer, as the driver returns them."""
    query = _aggregate_query(reader, model, realm_id, as_of, since_12m, purchases)
    return {row[0]: row for row in conn.execute(query).all()}


def _later_applied(conn: sa.Connection, reader: _Reader, model: Any, txn_type: str, realm_id: str,
                   as_of: date) -> dict[str, Amount]:
    """What payments dated after ``as_of`` took off ``model``'s documents dated on or before it."""
    query = _later_applied_query(reader, model, txn_type, realm_id, as_of)
    return {cid: value or 0 for cid, value in conn.execute(query).all()}


def _later_applied_query(reader: _Reader, model: Any, txn_type: str, realm_id: str, as_of: date) -> Any:
    """``_later_applied``'s query, per customer.

    Driven from the later payments (few when ``as_of`` is recent): the document is only reachable
    through the link, so no planner can loop over every document and range-scan payments for each.
    SQLite's planner still chose to walk every document dated up to ``as_of`` by the date index
    (a probe into the table per document, 2.1 s of 1,000,000 invoices against 0.15 s from the
    15,000 later payments' links): the date is compared unindexed there.
    """
    later_links = (
        sa.select(PaymentLink.txn_id, PaymentLink.amount)
        .join(Payment, sa.and_(Payment.realm_id == PaymentLink.realm_id,
                               Payment.id == PaymentLink.payment_id))
        .where(Payment.realm_id == realm_id, Payment.txn_date > as_of,
               PaymentLink.realm_id == realm_id,
               # `|| ''` keeps the (realm, type, txn) index out: on it SQLite reads every link of
               # the type for each later payment instead of the payment's own links (primary key).
               sa.type_coerce(PaymentLink.txn_type, sa.String) + "" == txn_type)
        .cte("later_links").prefix_with("MATERIALIZED")
    )
    query = (
        sa.select(model.customer_id, sa.type_coerce(sa.func.sum(later_links.c.amount), sa.types.NullType()))
        .select_from(later_links)
        .join(model, sa.and_(model.realm_id == realm_id, model.id == later_links.c.txn_id))
        .where(reader.not_indexed(model.txn_date) <= reader.raw_day(as_of), *counted(model))
        .group_by(model.customer_id)
    )
    return query


def _journal_open(conn: sa.Connection, reader: _Reader, realm_id: str,
                  as_of: date) -> tuple[dict[str, Amount], dict[str, Amount]]:
    """Journal entries' A/R lines dated up to ``as_of``, less payments applied to them by then, per
    customer: (what is owed on debits, the credit left on credits), as the driver returns amounts."""
    lines = ledger.ar_journal_lines(realm_id).subquery()
    net: dict[tuple[str, str], Amount] = {}
    raw = sa.type_coerce(lines.c.amount, sa.types.NullType())
    for txn_id, cid, amount in conn.execute(sa.select(lines.c.txn_id, lines.c.customer_id, raw)
                                            .where(lines.c.txn_date <= as_of)).all():
        net[(txn_id, cid)] = net.get((txn_id, cid), 0) + (amount or 0)
    if not net:
        return {}, {}
    paid: dict[tuple[str, str], Amount] = {}
    apps = ledger.journal_applications(realm_id).subquery()
    for txn_id, cid, amount in conn.execute(
            sa.select(apps.c.txn_id, apps.c.customer_id, sa.type_coerce(apps.c.amount, sa.types.NullType()))
            .where(apps.c.txn_date <= as_of)).all():
        paid[(txn_id, cid)] = paid.get((txn_id, cid), 0) + (amount or 0)
    owed: dict[str, Amount] = {}
    credit: dict[str, Amount] = {}
    for key, value in net.items():
        left = (value if value > 0 else -value) - paid.get(key, 0)
        if left and value > 0:
            owed[key[1]] = owed.get(key[1], 0) + left
        elif left and value < 0:
            credit[key[1]] = credit.get(key[1], 0) + left
    return owed, credit


def _journal_sales(conn: sa.Connection, reader: _Reader, realm_id: str, as_of: date,
                   since_12m: date) -> dict[str, tuple[Amount, Amount]]:
    """Journal lines posted to income with a customer: (sales up to ``as_of``, of the last 12 months)."""
    lines = ledger.income_journal_lines(realm_id).subquery()
    amount = sa.type_coerce(lines.c.amount, sa.types.NullType())
    recent = sa.case((lines.c.txn_date > since_12m, amount), else_=sa.literal(0))
    q = (sa.select(lines.c.customer_id, sa.func.sum(amount), sa.func.sum(recent))
         .where(lines.c.txn_date <= as_of).group_by(lines.c.customer_id))
    return {cid: (total or 0, last or 0) for cid, total, last in conn.execute(q).all()}


def _payments_after(conn: sa.Connection, realm_id: str, as_of: date) -> bool:
    newest = conn.execute(sa.select(sa.func.max(Payment.txn_date))
                          .where(Payment.realm_id == realm_id)).scalar()
    return newest is not None and newest > as_of


def _add(a: dict[str, Amount], b: dict[str, Amount]) -> dict[str, Amount]:
    out = dict(a)
    for key, value in b.items():
        out[key] = out.get(key, 0) + value
    return out


def _main_location(reader: _Reader, purchases: list[dict[str, _Row]]) -> dict[str, str]:
    """Each customer's most frequent location over its counted purchase documents (a void was never
    a sale there); ties go to the smallest Id so the answer never flickers."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    ids_of = reader.ids_of
    for rows in purchases:
        for cid, row in rows.items():
            if row[_LOCATIONS] is not None:
                counts[cid].update(ids_of(row[_LOCATIONS]))
    return {cid: min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] for cid, c in counts.items() if c}


def _later_customers(conn: sa.Connection, models: list[Any], realm_id: str, as_of: date) -> set[str]:
    found: set[str] = set()
    for model in models:
        q = sa.select(model.customer_id).distinct().where(
            model.realm_id == realm_id, model.txn_date > as_of, *counted(model))
        found.update(cid for (cid,) in conn.execute(q))
    return found


def last_activity(conn: sa.Connection | Session, realm_id: str, ids: Sequence[str], as_of: date | None,
                  entities: Sequence[str]) -> dict[str, date]:
    """The day of each customer's latest ``counted`` transaction of ``entities`` (up to ``as_of`` when
    given): ``CustomerActivity.last_activity`` for a few customers, without the whole pass."""
    out: dict[str, date] = {}
    for entity in entities:
        model: Any = ENTITY_MODELS[entity]
        for part in chunked(ids):
            stmt = (sa.select(model.customer_id, sa.func.max(model.txn_date))
                    .where(model.realm_id == realm_id, model.customer_id.in_(part), *counted(model))
                    .group_by(model.customer_id))
            if as_of is not None:
                stmt = stmt.where(model.txn_date <= as_of)
            for cid, last in conn.execute(stmt):
                if last is not None and (cid not in out or last > out[cid]):
                    out[cid] = last
    return out


def median_gap(dates: list[date]) -> float | None:
    """Median days between consecutive distinct dates (None with fewer than two dates)."""
    if len(dates) < 2:
        return None
    return _median_of_gaps([d.toordinal() for d in dates])


def _median_of_gaps(days: list[int]) -> float:
    """What ``median_gap`` gives, from day ordinals (at least two)."""
    gaps = sorted([b - a for a, b in itertools.pairwise(days)])
    n = len(gaps)
    mid = n // 2
    # statistics.median: the middle gap, or the mean of the two middle ones (same float either way)
    return float(gaps[mid]) if n % 2 else (gaps[mid - 1] + gaps[mid]) / 2


@bulk()
def load_activity(engine: sa.Engine, realm_id: str, as_of: date,
                  include_estimates: bool = False) -> dict[str, CustomerActivity]:
    """Activity of every customer of ``realm_id`` as seen on ``as_of`` (nothing after it counts).

    Customers created after ``as_of`` did not exist yet and are left out.
    """
    since_12m = as_of - timedelta(days=365)
    counted_entities = activity_entities(include_estimates)
    kind_models: list[tuple[str, Any]] = [(kind, ENTITY_MODELS[entity]) for entity, kind in ACTIVITY
                                          if entity in counted_entities]
    purchase_models: list[Any] = [ENTITY_MODELS[e] for e in counted_entities if e in PURCHASE_ENTITIES]
    all_models = [m for _, m in kind_models]

    with engine.connect() as conn:
        reader = _Reader(engine.dialect.name)
        customers = conn.execute(
            sa.select(Customer.id, Customer.display_name, Customer.active, Customer.parent_id,
                      Customer.job, reader.utc_day(Customer.created_at), Customer.customer_type_id,
                      Customer.sync_token, sa.type_coerce(Customer.balance, sa.types.NullType()))
            .where(Customer.realm_id == realm_id)
        ).all()
        aggs = {kind: _table_aggregates(conn, reader, model, realm_id, as_of, since_12m,
                                        model in purchase_models)
                for kind, model in kind_models}
        balances = _held(aggs, "invoice")
        credits = _add(_held(aggs, "credit memo"), _held(aggs, "payment"))
        # Payments dated after as_of took money off older documents; the usual as_of (today) has none.
        if _payments_after(conn, realm_id, as_of):
            balances = _add(balances, _later_applied(conn, reader, Invoice, "Invoice", realm_id, as_of))
            credits = _add(credits, _later_applied(conn, reader, CreditMemo, "CreditMemo", realm_id, as_of))
        journal_owed, journal_credit = _journal_open(conn, reader, realm_id, as_of)
        balances = _add(balances, journal_owed)
        credits = _add(credits, journal_credit)
        journal_sales = _journal_sales(conn, reader, realm_id, as_of, since_12m)
        later = _later_customers(conn, all_models, realm_id, as_of)
        dept_names = dict(conn.execute(sa.select(Department.id, Department.name)
                                       .where(Department.realm_id == realm_id)).all())

    purchase_kinds = [kind for kind, model in kind_models if model in purchase_models]
    locations = _main_location(reader, [aggs[kind] for kind in purchase_kinds])
    assemble = _Assembler(reader, aggs, purchase_kinds)
    as_of_raw = as_of.isoformat() if reader.sqlite else as_of
    out: dict[str, CustomerActivity] = {}
    for cid, name, active, parent_id, job, created_raw, type_id, token, balance_now in customers:
        if created_raw is not None and created_raw > as_of_raw:
            continue
        department_id = locations.get(cid)
        act = CustomerActivity(
            customer_id=cid, display_name=plain_name(name), active=bool(active), parent_id=parent_id,
            job=bool(job), created=reader.day(created_raw) if created_raw is not None else None,
            customer_type_id=type_id, department_id=department_id,
            realm_id=realm_id, sync_token=token,
            balance_now=reader.money(balance_now) if balance_now is not None else ZERO,
            later_activity=cid in later,
            department_name=dept_names.get(department_id) if department_id else None,
        )
        assemble(act)
        if cid in journal_sales:
            total, recent = journal_sales[cid]
            act.lifetime_revenue += reader.money(total)
            act.revenue_12m += reader.money(recent)
        act.open_balance = reader.money(balances.get(cid))
        act.unapplied_credit = reader.money(credits.get(cid))
        out[cid] = act
    return out


def _held(aggs: dict[str, dict[str, _Row]], kind: str) -> dict[str, Amount]:
    return {cid: row[_HELD_AT] or 0 for cid, row in aggs.get(kind, {}).items()}


class _Assembler:
    """Fills one customer's facts from its aggregate rows (every table, in ``KINDS`` rank order)."""

    def __init__(self, reader: _Reader, aggs: dict[str, dict[str, _Row]], purchase_kinds: list[str]) -> None:
        self.reader = reader
        # (kind, rank on ties, rows, revenue sign, counts as purchases), one entry per table read
        self.tables = [(kind, -KINDS.index(kind), rows,
                        1 if kind in ("invoice", "sales receipt")
                        else -1 if kind in ("credit memo", "refund receipt") else 0,
                        kind in ("invoice", "sales receipt", "estimate"))
                       for kind, rows in aggs.items()]
        self.purchases = [aggs[kind] for kind in purchase_kinds]
        self.ordinals: dict[Any, int] = {}

    def __call__(self, act: CustomerActivity) -> None:
        cid = act.customer_id
        day = self.reader.day
        first: Any = None
        best: tuple[Any, int] | None = None
        revenue: Amount | None = None  # None: no sales document nor credit memo, so the plain default stays
        revenue_12m: Amount = 0
        for kind, rank, rows, sign, purchase in self.tables:
            row = rows.get(cid)
            if row is None:
                continue
            act.activity_count += row[_COUNT]
            # raw days compare like the dates they spell (ISO text on SQLite, dates on PostgreSQL)
            if first is None or row[_FIRST] < first:
                first = row[_FIRST]
            if best is None or (row[_LAST], rank) > best:
                best = (row[_LAST], rank)
                act.last_activity_kind = kind
            if sign > 0:
                revenue = (revenue or 0) + (row[_TOTAL] or 0)
                revenue_12m += row[_TOTAL_12M] or 0
            elif sign < 0:
                revenue = (revenue or 0) - (row[_TOTAL] or 0)
                revenue_12m -= row[_TOTAL_12M] or 0
            if purchase:
                act.txn_count += row[_COUNT]
        if first is not None:
            act.first_activity = day(first)
        if best is not None:
            act.last_activity = day(best[0])
        if revenue is not None:
            act.lifetime_revenue = self.reader.money(revenue)
            act.revenue_12m = self.reader.money(revenue_12m)
        raw = self._purchase_days(cid)
        if raw:
            act.purchase_dates = self.reader.days(raw)
            act.last_purchase = act.purchase_dates[-1]
            if len(raw) > 1:
                ordinal = self.ordinals
                act.usual_gap_days = _median_of_gaps(
                    [ordinal[d] if d in ordinal else self._ordinal(d) for d in raw])

    def _ordinal(self, raw: Any) -> int:
        found = self.ordinals[raw] = self.reader.day(raw).toordinal()
        return found

    def _purchase_days(self, cid: str) -> list[Any]:
        """Distinct purchase days of ``cid``, raw and ascending (ISO text sorts like the dates it spells)."""
        days_of = self.reader.days_of
        found = [days_of(row[_DAYS]) for rows in self.purchases if (row := rows.get(cid)) is not None]
        if not found:
            return []
        return sorted(set(found[0]).union(*found[1:]))
