"""Best customers (Pareto, change vs the previous period) and the customers x locations/classes report."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import event

from qbsync.cache.db import create_schema, make_engine
from qbsync.reports import best, cross, render, sales
from qbsync.reports.source import Period
from tests.builder import CacheBuilder, D

AS_OF = date(2025, 6, 30)
PERIOD = Period(date(2025, 1, 1), date(2025, 6, 30))


def _shop(c: CacheBuilder) -> None:
    c.department("10", "Downtown")
    c.department("20", "Airport")
    c.qbo_class("7", "Retail")
    for cid, name in (("1", "Big"), ("2", "Middle"), ("3", "Small"), ("4", "Gone")):
        c.customer(cid, name)
    c.invoice("1", date(2025, 2, 1), "600.00", dept="10", cls="7")
    c.receipt("1", date(2025, 3, 1), "200.00", dept="20")
    c.credit_memo("1", date(2025, 3, 2), "100.00", dept="10")
    c.invoice("2", date(2025, 4, 1), "300.00", dept="20")
    c.receipt("3", date(2025, 5, 1), "100.00")
    c.invoice("3", date(2025, 5, 2), "555.00", voided=True, dept="10")
    c.invoice("4", date(2024, 9, 1), "400.00", dept="10")  # previous period only
    c.receipt("2", date(2024, 10, 1), "150.00")  # previous period
    c.receipt("1", date(2025, 7, 2), "9999.00")  # after as_of: never counted


def test_best_customers_rank_share_pareto_and_change(db_url: str) -> None:
    c = CacheBuilder(db_url)
    _shop(c)
    report = best.best(c.engine, c.realm_id, AS_OF, PERIOD)
    assert [r.customer_id for r in report.rows] == ["1", "2", "3"]
    assert [r.spend for r in report.rows] == [D("700.00"), D("300.00"), D("100.00")]
    assert report.total == D("1100.00")
    assert report.rows[0].share == D(700) / D(1100)
    assert [r.cumulative_share for r in report.rows][-1] == 1
    assert report.customers_for(D("0.8")) == 2  # 700 + 300 = 90.9 %
    assert report.previous_period == Period(date(2024, 7, 4), date(2024, 12, 31))
    middle = report.rows[1]
    assert (middle.previous, middle.change, middle.change_share) == (D("150.00"), D("150.00"), D(1))
    assert report.previous_total == D("550.00")


def test_best_renders_to_all_formats_with_rounding_at_display(db_url: str) -> None:
    c = CacheBuilder(db_url)
    _shop(c)
    table = best.table(best.best(c.engine, c.realm_id, AS_OF, PERIOD))
    text = render.to_text(table)
    assert "63.6%" in text and "700.00" in text
    rows = list(csv.DictReader(io.StringIO(render.to_csv(table))))
    assert rows[0]["Spend"] == "700.00" and rows[0]["Share"] == "0.6364"
    doc = json.loads(render.to_json(table))
    assert doc["rows"][0]["spend"] == "700.00"
    assert doc["totals"]["spend"] == "1100.00"


def test_cross_report_margins_add_up(db_url: str) -> None:
    c = CacheBuilder(db_url)
    _shop(c)
    report = cross.cross(c.engine, c.realm_id, AS_OF, PERIOD, "location")
    assert list(report.column_names.values()) == ["Airport", "Downtown", "(none)"]
    assert report.cells["1"] == {"10": D("500.00"), "20": D("200.00")}
    totals = report.column_totals()
    assert totals == {"10": D("500.00"), "20": D("500.00"), "": D("100.00")}
    assert report.total == sum(totals.values()) == sum(report.row_total(cid) for cid in report.cells)
    table = cross.table(report, limit=1)
    assert table.rows[-1]["name"].startswith("(all other customers)")
    assert table.rows[-1]["total"] == D("400.00")
    by_class = cross.cross(c.engine, c.realm_id, AS_OF, PERIOD, "class")
    assert by_class.column_names == {"7": "Retail", "": "(none)"}
    assert by_class.total == report.total


def _classed(c: CacheBuilder) -> dict[str, str]:
    """Sales whose lines carry their own classes; returns a few transaction ids by name."""
    c.department("10", "Downtown")
    c.qbo_class("7", "Retail")
    c.qbo_class("8", "Wholesale")
    c.qbo_class("9", "Online")
    for cid, name in (("1", "Split"), ("2", "Fallback"), ("3", "Lineless")):
        c.customer(cid, name)
    ids = {
        # header says Retail, the lines say 100 Retail + 200 Wholesale
        "split": c.invoice("1", date(2025, 2, 1), "300.00", dept="10", cls="7",
                           items=(("A", "100.00", "7"), ("B", "200.00", "8"))),
        # 100.00 over three equal lines: cents must not get lost
        "thirds": c.receipt("1", date(2025, 2, 2), "100.00", cls="7",
                            items=(("A", "10.00", "7"), ("B", "10.00", "8"), ("C", "10.00", "9"))),
        # lines without a class of their own: the header's
        "fallback": c.receipt("2", date(2025, 3, 1), "50.00", dept="10", cls="8",
                              items=(("A", "20.00"), ("B", "30.00"))),
        # a credit memo split like a sale, negative
        "credit": c.credit_memo("2", date(2025, 3, 2), "30.00", cls="7",
                                items=(("A", "10.00", "7"), ("B", "20.00", "8"))),
        # no lines at all (e.g. cached before lines were mirrored): the header's class and total
        "lineless": c.receipt("3", date(2025, 4, 1), "80.00", cls="9"),
        # tax on top of the lines (60 + 40, total 110): the total is shared 66 / 44
        "taxed": c.invoice("3", date(2025, 4, 2), "110.00", cls="7",
                           items=(("A", "60.00", "7"), ("B", "40.00", "8"))),
    }
    # never counted: a voided invoice's lines, and an estimate's lines that share an invoice's id
    c.invoice("3", date(2025, 5, 1), "500.00", voided=True, cls="7", items=(("A", "500.00", "7"),))
    c._lines("Estimate", ids["split"], (("A", "999.00", "9"),))
    return ids


def test_cross_by_class_splits_transactions_by_line_class(db_url: str) -> None:
    c = CacheBuilder(db_url)
    _classed(c)
    report = cross.cross(c.engine, c.realm_id, AS_OF, PERIOD, "class")
    assert report.column_names == {"9": "Online", "7": "Retail", "8": "Wholesale"}
    # 100 + 200 split by line; 100.00 / 3 = 33.34 + 33.33 + 33.33 (largest remainder, ties by id)
    assert report.cells["1"] == {"7": D("133.34"), "8": D("233.33"), "9": D("33.33")}
    # the receipt's class-less lines fall back to the header (Wholesale 50); the credit memo is -10 / -20
    assert report.cells["2"] == {"7": D("-10.00"), "8": D("30.00")}
    # no lines: header class, whole total; taxed: 110 shared 60:40
    assert report.cells["3"] == {"9": D("80.00"), "7": D("66.00"), "8": D("44.00")}
    by_location = cross.cross(c.engine, c.realm_id, AS_OF, PERIOD, "location")
    assert by_location.cells["1"] == {"10": D("300.00"), "": D("100.00")}  # locations unchanged
    assert report.total == by_location.total == sum(report.column_totals().values()) == D("610.00")
    for cid in report.cells:
        assert report.row_total(cid) == by_location.row_total(cid)
    assert report.total == best.best(c.engine, c.realm_id, AS_OF, PERIOD).total


def test_share_out_adds_up_to_the_cent_whatever_the_sign() -> None:
    assert cross.share_out(D("-0.05"), {"a": D(1), "b": D(1)}) == {"a": D("-0.02"), "b": D("-0.03")}
    shares = cross.share_out(D("10.00"), {"a": D("7.00"), "b": D("7.00"), "c": D("7.00")})
    assert shares == {"a": D("3.34"), "b": D("3.33"), "c": D("3.33")}
    mixed = cross.share_out(D("108.00"), {"a": D("150.00"), "b": D("-50.00")})  # a negative line
    assert mixed == {"a": D("162.00"), "b": D("-54.00")}
    assert cross.share_out(D("15.00"), {"a": D("50.00"), "b": D("-50.00")}) is None


def test_best_lists_a_customer_whose_refunds_outweigh_sales_last_and_the_total_is_sales_by_customer(
        db_url: str) -> None:
    c = CacheBuilder(db_url)
    _shop(c)
    c.customer("5", "Refunded")
    c.credit_memo("5", date(2025, 6, 1), "60.00")  # bought before the period, credited in it
    report = best.best(c.engine, c.realm_id, AS_OF, PERIOD)
    assert [(r.customer_id, r.spend) for r in report.rows][-1] == ("5", D("-60.00"))
    assert report.total == D("1040.00") == sum(r.spend for r in report.rows)
    assert report.rows[-1].cumulative_share == 1
    assert report.customers_for(D("0.8")) == 2
    assert "1 customer's refunds and credits outweigh" in " ".join(best.table(report).notes)


def test_best_notes_write_counts_as_a_person_reads_them(db_url: str) -> None:
    c = CacheBuilder(db_url)
    for n in range(1, 1002):
        c.customer(str(n), f"Shopper {n}")
        c.receipt(str(n), date(2025, 5, 1), f"{n}.00")
    notes = " ".join(best.table(best.best(c.engine, c.realm_id, AS_OF, PERIOD), limit=5).notes)
    assert "showing the top 5 of 1,001 customers" in notes
    assert "of 1,001 paying customers made 80%" in notes


def _recording(engine: Any) -> list[str]:
    """The SQL ``engine`` runs from now on, statement by statement."""
    captured: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _keep(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        captured.append(statement)

    return captured


def _plan(conn: Any, statement: str) -> str:
    """SQLite's query plan of ``statement`` (its parameters as placeholders), as one line."""
    return " ".join(row[-1] for row in conn.exec_driver_sql(
        f"EXPLAIN QUERY PLAN {statement}", tuple(["x"] * statement.count("?"))))


def test_sqlite_reads_sales_by_location_from_the_covering_indexes(tmp_path: Path) -> None:
    # Grouped by customer and location, SQLite took the date index and probed the table for every
    # transaction of the period: x14 for ten times the data, twice the covering index's time (issue 15).
    engine = make_engine(f"sqlite:///{tmp_path / 'plan.sqlite3'}")
    create_schema(engine)
    captured = _recording(engine)
    with engine.connect() as conn:
        sales.by_customer_and(conn, "1", AS_OF.replace(month=1), AS_OF, "department_id")
        for model, _entity, _sign in sales.SALES_TYPES:
            plan = _plan(conn, next(s for s in captured if f"FROM {model.__tablename__} " in s))
            assert f"COVERING INDEX ix_{model.__tablename__}_customer_activity" in plan, plan
    engine.dispose()


def test_best_from_the_database_ranks_as_compute_does(db_url: str) -> None:
    # best sums both periods and sorts in SQL, names joined on (issue 15); compute, over
    # by_customer's dicts, is the definition: ties by name (without " (deleted)") then id, unknown
    # customers by "" and shown by id, zero net sales not ranked, previous-only customers counted
    c = CacheBuilder(db_url)
    for cid, name in (("1", "Zed"), ("2", "Amy (deleted)"), ("3", "Amy"), ("4", "Bob"), ("5", "Old"),
                      ("6", "Even"), ("8", "Credited"), ("10", "Neg B"), ("11", "Neg A")):
        c.customer(cid, name)
    for cid in ("1", "2", "3", "4", "9"):  # "9" is not in the customers table
        c.receipt(cid, date(2025, 2, 1), "100.00")
    c.invoice("1", date(2024, 8, 1), "40.00")
    c.receipt("5", date(2024, 11, 1), "70.00")  # previous period only
    c.invoice("6", date(2025, 3, 1), "50.00")
    c.credit_memo("6", date(2025, 3, 5), "50.00")  # nets to zero: in the total, not ranked
    c.invoice("4", date(2025, 4, 1), "0.01")
    c.receipt("12", date(2025, 4, 1), "100.01")  # ties with "4" at 100.01
    for cid in ("8", "10", "11"):
        c.credit_memo(cid, date(2025, 5, 1), "20.00")
    report = best.best(c.engine, c.realm_id, AS_OF, PERIOD)
    with c.engine.connect() as conn:
        current = sales.by_customer(conn, c.realm_id, PERIOD.start, PERIOD.end)
        before = PERIOD.previous()
        previous = sales.by_customer(conn, c.realm_id, before.start, before.end)
    names = report.names
    assert report == best.compute(current, previous, names, AS_OF, PERIOD)
    assert [r.customer_id for r in report.rows] == ["12", "4", "9", "2", "3", "1", "8", "11", "10"]
    assert [r.name for r in report.rows][:4] == ["12", "Bob", "9", "Amy"]
    assert report.current["6"] == D("0.00") and "5" not in report.current
    assert report.previous_total == D("110.00")  # 40.00 + the previous-only customer's 70.00
    assert [str(r.spend) for r in report.rows][:2] == ["100.01", "100.01"]


def test_share_cents_is_the_exact_largest_remainder() -> None:
    import math
    import random
    from fractions import Fraction

    def reference(total: int, parts: dict[str, int]) -> dict[str, int] | None:
        weight = sum(parts.values())
        if not weight:
            return None
        exact = {k: Fraction(total * parts[k], weight) for k in sorted(parts)}
        out = {k: math.floor(v) for k, v in exact.items()}
        for k in sorted(exact, key=lambda k: -(exact[k] - out[k]))[:total - sum(out.values())]:
            out[k] += 1
        return out

    rng = random.Random(15)
    for _ in range(3000):
        parts = {k: rng.randint(-5000, 20000) for k in "abcd"[:rng.randint(1, 4)]}
        total = rng.randint(-100000, 100000)
        assert cross.share_cents(total, parts) == reference(total, parts), (total, parts)
    # parts not in whole cents take the exact fractions
    assert cross.share_out(D("1.00"), {"a": D("0.001"), "b": D("0.002")}) == {"a": D("0.33"), "b": D("0.67")}


def _class_plan(engine: Any, period: Period) -> str:
    """SQLite's plan of the cross report by class's query over ``period``."""
    captured = _recording(engine)
    cross.cross(engine, "1", AS_OF, period, "class")
    with engine.connect() as conn:
        return _plan(conn, next(s for s in captured if "sales_lines" in s))


def test_a_short_period_of_a_long_history_reads_sales_by_class_through_the_date_index(
        tmp_path: Path) -> None:
    """Reading the tables whole pays when the period is a good part of the data, not for a month of
    ten years: then the date index is used (``sales.scan_pays``)."""
    b = CacheBuilder(f"sqlite:///{tmp_path / 'long.sqlite3'}", realm_id="1")
    b.customer("1", "Acme")
    b.invoice("1", date(2015, 1, 5), "100", cls="A")
    b.invoice("1", date(2025, 6, 5), "40", cls="B")
    month = Period(date(2025, 6, 1), date(2025, 6, 30))
    with b.engine.connect() as conn:
        assert not sales.scan_pays(conn, "1", month.start, month.end)
        assert sales.scan_pays(conn, "1", date(2024, 1, 1), AS_OF)  # a year and a half of ten
    plan = _class_plan(b.engine, month)
    assert "ix_invoices_realm_date" in plan and "SCAN invoices" not in plan, plan
    report = cross.cross(b.engine, "1", AS_OF, month, "class")
    assert {k: v for k, v in report.cells["1"].items()} == {"B": D("40.00")}  # the month's only
    b.engine.dispose()


def test_sqlite_reads_sales_by_class_in_storage_order(tmp_path: Path) -> None:
    # Through the date index, each of the period's transactions cost a jump about the table: x15 for
    # ten times the data against x10 reading the tables in storage order (issue 15).
    engine = make_engine(f"sqlite:///{tmp_path / 'plan.sqlite3'}")
    create_schema(engine)
    plan = _class_plan(engine, PERIOD)
    for model, _entity, _sign in sales.SALES_TYPES:
        table = model.__tablename__
        assert f"SCAN {table}" in plan and f"ix_{table}_realm_date" not in plan, plan
    engine.dispose()
