"""Best customers (Pareto, change vs the previous period) and the customers x locations/classes report."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

from qbsync.reports import best, cross, render
from qbsync.reports.source import Period

from .builder import Cache, D

AS_OF = date(2025, 6, 30)
PERIOD = Period(date(2025, 1, 1), date(2025, 6, 30))


def _shop(c: Cache) -> None:
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
    c = Cache(db_url)
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
    c = Cache(db_url)
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
    c = Cache(db_url)
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
