"""Payment behaviour classes, statements with running balance, bad-debt candidates, sync health."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from qbsync.cache.models import Customer
from qbsync.clock import FixedClock
from qbsync.errors import InputError
from qbsync.reports import baddebt, health, payments, receivables, statement
from qbsync.reports.source import Period, invoice_states
from tests.builder import CacheBuilder, D

AS_OF = date(2025, 6, 30)
YEAR = Period(date(2024, 7, 1), AS_OF)


def _invoices(c: CacheBuilder, cid: str, late_days: list[int | None], start: date = date(2024, 8, 1)) -> None:
    """One 100.00 invoice a month, net 30, paid ``late`` days after due (None: never paid)."""
    for n, late in enumerate(late_days):
        day = start + timedelta(days=30 * n)
        due = day + timedelta(days=30)
        inv = c.invoice(cid, day, "100.00", due=due)
        if late is not None:
            c.pay(cid, due + timedelta(days=late), (inv, "100.00"))


def test_payment_classes(db_url: str) -> None:
    c = CacheBuilder(db_url)
    for cid, name in (("1", "Punctual"), ("2", "Sometimes"), ("3", "Chronic"), ("4", "Never"),
                      ("5", "New"), ("6", "Stopped paying"), ("7", "Pays at the till"), ("8", "Old debt")):
        c.customer(cid, name)
    _invoices(c, "1", [-5, 0, 2, -10, 0, 3, 0, -1, 0, 0])
    _invoices(c, "2", [0, 20, 0, 0, 35, 0, 0, 14, 0, 0])
    _invoices(c, "3", [40, 25, 60, 0, 30, 45, 20, 10, 0, 33])
    _invoices(c, "4", [None, None, None, None, None, None])  # owing since 2024-08-31: over 180 days
    c.invoice("5", date(2025, 6, 20), "100.00", due=date(2025, 7, 20))  # nothing due yet
    _invoices(c, "6", [None, None], start=date(2025, 2, 20))  # 70 and 40 days overdue, nothing paid
    c.receipt("7", date(2025, 5, 2), "300.00")
    old = c.invoice("8", date(2023, 3, 1), "893.89", due=date(2023, 3, 31))  # issued long before the period
    report = payments.payments(c.engine, c.realm_id, AS_OF, YEAR)
    got = {r.customer_id: r.payment_class for r in report.rows}
    assert got == {"1": "on time", "2": "sometimes late", "3": "chronically late", "4": "long-term debtor",
                   "5": "no history", "6": "non-payer", "7": "paid at sale", "8": "long-term debtor"}
    rows = {r.customer_id: r for r in report.rows}
    assert rows["2"].late_invoices == 3 and rows["2"].late_share == D("0.3")
    assert rows["3"].avg_days_late == D(263) / 10
    assert rows["1"].avg_days_to_pay == D(30 + 30 + 32 + 30 + 30 + 33 + 30 + 30 + 30 + 30 - 16) / 10
    assert rows["4"].open_overdue == 6 and rows["4"].paid_share == 0
    assert rows["8"].open_amount == D("893.89")
    assert rows["8"].max_overdue_days == (AS_OF - date(2023, 3, 31)).days
    assert rows["8"].size is None  # bought nothing in the period: no deal size
    # a deal size for every buyer in the period, sales receipts included: the top 20 % (2 of 7) are large
    sizes = {r.customer_id: r.size for r in report.rows if r.size}
    assert sizes == {"1": "large", "2": "large", "3": "small", "4": "small", "5": "small", "6": "small",
                     "7": "small"}
    assert rows["7"].sales == D("300.00") and rows["1"].sales == D("1000.00")
    split = payments.size_split(report)
    assert [g.customers for g in split] == [2, 5, 8]
    assert split[2].avg_days_late == D(5 + 69 + 263) / 30  # the paid invoices of customers 1, 2 and 3
    # once the old debt is paid it no longer counts: it was issued before the period
    c.pay("8", date(2025, 6, 1), (old, "893.89"))
    again = payments.payments(c.engine, c.realm_id, AS_OF, YEAR)
    assert "8" not in {r.customer_id for r in again.rows}


def test_payment_averages_are_over_paid_invoices() -> None:
    # A customer's days late and days to pay are averaged over its paid invoices (not all its due
    # ones), a group's over all its customers' paid invoices (not the mean of their averages).
    from qbsync.reports.source import InvoiceState

    def inv(n: int, cid: str, paid_late: int | None) -> InvoiceState:
        issued = date(2025, 1, 1) + timedelta(days=n)
        due = issued + timedelta(days=30)
        if paid_late is None:
            return InvoiceState(str(n), cid, None, issued, due, D(100), D(100), None, D(0))
        paid_on = due + timedelta(days=paid_late)
        return InvoiceState(str(n), cid, None, issued, due, D(100), D(0), paid_on, D(100))

    states = [inv(1, "A", 12), inv(2, "A", None), inv(3, "B", 0), inv(4, "B", 0), inv(5, "B", 3)]
    report = payments.compute(iter(states), {"A": "A", "B": "B"}, AS_OF, YEAR)
    rows = {r.customer_id: r for r in report.rows}
    assert (rows["A"].due_invoices, rows["A"].paid_invoices) == (2, 1)
    assert rows["A"].avg_days_late == 12 and rows["A"].avg_days_to_pay == 42
    assert rows["B"].avg_days_late == 1 and rows["B"].avg_days_to_pay == 31
    (everyone,) = [g for g in payments.size_split(report) if g.group == "all accounts"]
    assert everyone.avg_days_late == D(15) / 4  # not (12 + 1) / 2
    assert everyone.avg_days_to_pay == D(42 + 30 + 30 + 33) / 4

def test_payment_class_replayed_as_of_an_earlier_date(db_url: str) -> None:
    c = CacheBuilder(db_url)
    c.customer("1", "Paid late in the end")
    inv = c.invoice("1", date(2025, 1, 1), "100.00", due=date(2025, 1, 31))
    c.pay("1", date(2025, 6, 1), (inv, "100.00"))
    earlier = payments.payments(c.engine, c.realm_id, date(2025, 5, 1), Period(date(2025, 1, 1),
                                                                                date(2025, 5, 1)))
    assert earlier.rows[0].payment_class == "non-payer"  # 90 days overdue, nothing paid by then
    now = payments.payments(c.engine, c.realm_id, AS_OF, YEAR)
    assert now.rows[0].payment_class == "chronically late"
    assert now.rows[0].avg_days_late == D(121)


def test_open_invoices_on_a_date_agree_with_every_invoice_read(db_url: str) -> None:
    """The open invoices alone (dunning's read, from the A/R open items) say what the read of every
    invoice (the payments report's) says of each: open on the date, including one settled since by a
    payment dated after it; and that read carries what was paid on each and when."""
    c = CacheBuilder(db_url)
    c.customer("1", "Acme")
    c.customer("2", "Bolt")
    part = c.invoice("1", date(2025, 3, 1), "100.00", doc="A-1")
    twice = c.invoice("1", date(2025, 4, 1), "90.00")
    settled_later = c.invoice("2", date(2025, 5, 1), "80.00")
    paid = c.invoice("2", date(2025, 5, 2), "70.00")
    unpaid = c.invoice("2", date(2025, 6, 1), "60.00")
    c.invoice("2", date(2025, 7, 1), "50.00")  # after the date
    c.pay("1", date(2025, 3, 20), (part, "40.00"), (twice, "10.00"))
    c.pay("1", date(2025, 5, 20), (twice, "20.00"))
    c.pay("2", date(2025, 5, 30), (paid, "70.00"), (settled_later, "30.00"))
    c.pay("2", date(2025, 7, 15), (settled_later, "50.00"))  # after the date: open on it
    with c.engine.connect() as conn:
        every = {s.invoice_id: s for s in invoice_states(conn, c.realm_id, AS_OF)}
        open_ = {i.txn_id: i for i in receivables.open_invoices(conn, c.realm_id, AS_OF)}
    assert {i: (s.balance, s.paid_amount, s.last_paid) for i, s in every.items()} == {
        part: (D("60.00"), D("40.00"), date(2025, 3, 20)),
        twice: (D("60.00"), D("30.00"), date(2025, 5, 20)),
        settled_later: (D("50.00"), D("30.00"), date(2025, 5, 30)),
        paid: (D("0.00"), D("70.00"), date(2025, 5, 30)),
        unpaid: (D("60.00"), D("0"), None)}
    seen = {i: (o.open, o.amount, o.customer_id, o.txn_date, o.due_date, o.doc_number)
            for i, o in open_.items()}
    assert seen == {i: (s.balance, s.total, s.customer_id, s.txn_date, s.due_date, s.doc_number)
                    for i, s in every.items() if s.balance}


@contextmanager
def _sent(engine: sa.Engine) -> Iterator[list[tuple[str, Any]]]:
    """Every (statement, parameters) sent to ``engine`` inside the block."""
    captured: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement_: str, params: Any, context: Any, many: bool) -> None:
        captured.append((statement_, params))

    sa.event.listen(engine, "before_cursor_execute", keep)
    try:
        yield captured
    finally:
        sa.event.remove(engine, "before_cursor_execute", keep)

def _loops_over_aggregate(node: dict[str, Any]) -> bool:
    """Whether a PostgreSQL plan node (EXPLAIN's JSON) runs an aggregate on the inner side of a
    nested loop, that is once per outer row."""
    kids = node.get("Plans", [])
    if node["Node Type"] == "Nested Loop" and len(kids) > 1 and _has_aggregate(kids[1]):
        return True
    return any(_loops_over_aggregate(k) for k in kids)


def _has_aggregate(node: dict[str, Any]) -> bool:
    return node["Node Type"] == "Aggregate" or any(_has_aggregate(k) for k in node.get("Plans", []))


def test_postgresql_groups_once_not_once_per_row_in_every_report(db_url: str) -> None:
    """A new PostgreSQL cache has no statistics until autovacuum analyzes it. Joined to the invoices
    in one query, the payments grouped per invoice were planned as a nested loop that grouped them
    again for every invoice: 294 s instead of 0.3 s for 6,000 transactions (review). No query of
    the A/R and sales reports may run an aggregate once per row of another table on a fresh cache."""
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's planner")
    from qbsync.campaigns import dunning
    from qbsync.reports import aging, best, cross

    c = CacheBuilder(db_url)
    for k in range(5):
        c.customer(str(k), f"Customer {k}")
    for n in range(80):
        cid = str(n % 5)
        day = date(2025, 1, 1) + timedelta(days=n)
        inv = c.invoice(cid, day, "10.00", due=day + timedelta(days=19))
        if n % 2:
            c.pay(cid, date(2025, 3, 1) + timedelta(days=n), (inv, "10.00"))
        if n % 7 == 0:
            c.receipt(cid, date(2025, 2, 1) + timedelta(days=n), "5.00")
        if n % 9 == 0:
            c.credit_memo(cid, date(2025, 2, 1) + timedelta(days=n), "3.00")
    with _sent(c.engine) as captured:
        report = payments.payments(c.engine, c.realm_id, AS_OF, YEAR)
        aging.aging(c.engine, c.realm_id, AS_OF)
        best.best(c.engine, c.realm_id, AS_OF, YEAR)
        cross.cross(c.engine, c.realm_id, AS_OF, YEAR)
        cross.cross(c.engine, c.realm_id, AS_OF, YEAR, "class")
        statement.statement(c.engine, c.realm_id, "1", AS_OF)
        baddebt.baddebt(c.engine, c.realm_id, AS_OF)
        dunning.dunning(c.engine, c.realm_id, AS_OF)
    assert sum(r.paid_amount for r in report.rows) == D("400.00")
    selects = [(st, params) for st, params in captured if st.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert len(selects) > 40
    with c.engine.connect() as conn:
        for statement_, params in selects:
            plan = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement_, params).scalar()
            assert plan is not None and not _loops_over_aggregate(plan[0]["Plan"]), statement_


def test_open_items_are_read_from_the_open_rows_alone(db_url: str) -> None:
    """A/R reports read what is open, not a company's whole history: on SQLite the open-item reads
    (company-wide for aging and dunning, one customer's for a statement) walk only
    ``ix_<table>_open``, the partial index of the rows with something open, and never the table."""
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's plans; PostgreSQL chooses by its statistics")
    from qbsync.campaigns import dunning
    from qbsync.reports import aging

    c = CacheBuilder(db_url)
    for k in range(3):
        c.customer(str(k), f"Customer {k}")
    for n in range(30):
        day = date(2025, 1, 1) + timedelta(days=n)
        inv = c.invoice(str(n % 3), day, "10.00", due=day + timedelta(days=30))
        if n % 2:
            c.pay(str(n % 3), day + timedelta(days=5), (inv, "10.00"))
    c.credit_memo("1", date(2025, 2, 1), "3.00")
    c.pay("2", date(2025, 2, 2), unapplied="4.00")
    with _sent(c.engine) as captured:
        report = aging.aging(c.engine, c.realm_id, AS_OF)
        dunning.dunning(c.engine, c.realm_id, AS_OF)
        statement.statement(c.engine, c.realm_id, "1", AS_OF)
    assert report.total == D("143.00")  # 15 open invoices less 3.00 and 4.00 of credit
    open_column = {"invoices": "balance", "credit_memos": "balance", "payments": "unapplied_amt"}
    reads = {(table, st): params for st, params in captured for table, column in open_column.items()
             if f"FROM {table} " in st and f"{table}.{column} != 0" in st}
    assert {table for table, _ in reads} == {"invoices", "credit_memos", "payments"}
    assert len(reads) >= 6  # each table company-wide and for one customer
    with c.engine.connect() as conn:
        for (table, st), params in reads.items():
            plan = " ".join(r[3] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + st, params))
            assert plan == f"SCAN {table} USING COVERING INDEX ix_{table}_open" or plan.startswith(
                f"SEARCH {table} USING COVERING INDEX ix_{table}_open"), (st, plan)

def test_statement_running_balance_matches_customer_balance(db_url: str) -> None:
    c = CacheBuilder(db_url)
    c.customer("1", "Acme Ltd", line1="1 Main St", city="Springfield", region="IL", postal="62701",
               country="USA")
    a = c.invoice("1", date(2025, 1, 5), "100.00", due=date(2025, 2, 4))
    b = c.invoice("1", date(2025, 2, 5), "250.50", due=date(2025, 3, 7))
    c.receipt("1", date(2025, 2, 10), "40.00")  # paid at sale: never on a statement
    c.pay("1", date(2025, 3, 1), (a, "100.00"), (b, "50.50"), unapplied="10.00")
    c.credit_memo("1", date(2025, 3, 5), "25.00")
    c.invoice("1", date(2025, 4, 1), "70.00", voided=True)
    st = statement.statement(c.engine, c.realm_id, "Acme Ltd", AS_OF)
    assert [x.kind for x in st.lines] == ["Invoice", "Invoice", "Payment", "Credit Memo", "Invoice"]
    assert [x.balance for x in st.lines] == [D(100), D("350.50"), D("190.00"), D("165.00"), D("165.00")]
    assert st.closing == st.amount_due == c.scalar(sa.select(Customer.balance).where(Customer.id == "1"))
    assert st.address.lines == ("Acme Ltd", "1 Main St", "Springfield IL 62701", "USA")
    part = statement.statement(c.engine, c.realm_id, "1", AS_OF, start=date(2025, 3, 1))
    assert part.opening == D("350.50") and part.closing == st.closing
    table = statement.table(part)
    assert table.rows[0]["kind"] == "Balance forward"
    assert "bill to: Acme Ltd, 1 Main St, Springfield IL 62701, USA" in table.notes


def test_statement_unknown_customer_says_how_to_fix(db_url: str) -> None:
    c = CacheBuilder(db_url)
    with pytest.raises(InputError, match="no customer"):
        statement.statement(c.engine, c.realm_id, "Nobody", AS_OF)


def test_bad_debt_candidates_are_quiet_and_long_overdue(db_url: str) -> None:
    c = CacheBuilder(db_url)
    for cid in "1234":
        c.customer(cid, f"C{cid}")
    c.invoice("1", date(2024, 10, 1), "500.00", due=date(2024, 10, 31))  # 242 days overdue, quiet
    c.invoice("1", date(2025, 2, 1), "100.00", due=date(2025, 3, 3))  # 119 days
    c.invoice("2", date(2025, 2, 1), "300.00", due=date(2025, 3, 3))  # 119 days, quiet since
    c.invoice("3", date(2024, 10, 1), "800.00", due=date(2024, 10, 31))  # old but still buying
    c.receipt("3", date(2025, 6, 1), "20.00")
    c.invoice("4", date(2025, 5, 1), "900.00", due=date(2025, 5, 31))  # only 30 days overdue
    rows = baddebt.baddebt(c.engine, c.realm_id, AS_OF)
    assert [(r.customer_id, r.tier, r.over_90, r.over_180) for r in rows] == [
        ("1", "over 180", D("600.00"), D("500.00")), ("2", "over 90", D("300.00"), D(0))]
    assert rows[0].quiet_days == (AS_OF - date(2025, 2, 1)).days


def test_health_statuses(db_url: str) -> None:
    c = CacheBuilder(db_url)
    now = datetime(2025, 6, 30, 12, tzinfo=UTC)
    c.sync_state("Customer", last_success_at=now - timedelta(hours=2), last_run_at=now - timedelta(hours=2),
                 row_count=3)
    c.sync_state("Invoice", last_success_at=now - timedelta(days=3), last_run_at=now - timedelta(days=3),
                 row_count=0)
    c.sync_state("Payment", last_success_at=now - timedelta(hours=5), last_run_at=now - timedelta(hours=1),
                 last_error="ServerError: 503", row_count=0)
    c.customer("1", "A")
    rows = {r.entity: r for r in health.health(c.engine, FixedClock(now))}
    assert rows["Customer"].status == "ok" and rows["Customer"].cached_rows == 1
    assert rows["Invoice"].status == "stale"
    assert rows["Payment"].status == "error"
    assert rows["Estimate"].status == "never"
    assert rows["Customer"].age_hours == 2.0
