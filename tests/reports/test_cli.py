"""`qbsync report ...` end to end on a crafted cache: formats, files, --as-of, errors."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

from click.testing import CliRunner

from qbsync.cli import cli
from tests.builder import CacheBuilder


def _cache(db_url: str) -> CacheBuilder:
    c = CacheBuilder(db_url)
    c.customer("1", "=HYPERLINK(\"http://evil\")")
    c.customer("2", "Plain Co")
    inv = c.invoice("1", date(2025, 1, 1), "120.00", due=date(2025, 1, 31))
    c.invoice("2", date(2025, 5, 1), "80.00", due=date(2025, 5, 31))
    c.pay("1", date(2025, 7, 1), (inv, "120.00"))
    return c


def _run(db_url: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["report", *args, "--cache-url", db_url], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_aging_json_replays_as_of(db_url: str) -> None:
    _cache(db_url)
    before = json.loads(_run(db_url, "aging", "--format", "json", "--as-of", "2025-06-30"))
    assert before["totals"]["total"] == "200.00"
    after = json.loads(_run(db_url, "aging", "--format", "json", "--as-of", "2025-07-02"))
    assert after["totals"]["total"] == "80.00"


def test_best_csv_to_file_is_spreadsheet_safe(db_url: str, tmp_path: Path) -> None:
    _cache(db_url)
    out = tmp_path / "best.csv"
    _run(db_url, "best", "--format", "csv", "--output", str(out), "--as-of", "2025-06-30", "--bom")
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    names = [r["Customer"] for r in rows]
    assert "'=HYPERLINK(\"http://evil\")" in names
    assert not any(n.startswith(("=", "+", "-", "@")) for n in names)


def test_every_report_runs_as_a_table(db_url: str) -> None:
    _cache(db_url)
    for args in (["best"], ["cross", "--by", "class"], ["aging"], ["payments"], ["baddebt"],
                 ["statement", "2"], ["health"]):
        text = _run(db_url, *args, "--as-of", "2025-06-30") if args != ["health"] else _run(db_url, *args)
        assert text.strip(), args


def test_unknown_customer_is_a_clean_error(db_url: str) -> None:
    _cache(db_url)
    result = CliRunner().invoke(cli, ["report", "statement", "Nobody", "--cache-url", db_url])
    assert result.exit_code == 2
    assert "error: no customer" in result.output


def test_cross_by_class_splits_by_line_class(db_url: str) -> None:
    c = CacheBuilder(db_url)
    c.qbo_class("7", "Retail")
    c.qbo_class("8", "Wholesale")
    c.customer("1", "Split Co")
    c.invoice("1", date(2025, 3, 1), "300.00", cls="7", items=(("A", "100.00", "7"), ("B", "200.00", "8")))
    c.receipt("1", date(2025, 3, 2), "40.00", cls="8")  # no lines: header class
    doc = json.loads(_run(db_url, "cross", "--by", "class", "--format", "json", "--as-of", "2025-06-30"))
    assert doc["rows"] == [{"customer_id": "1", "name": "Split Co", "d:7": "100.00", "d:8": "240.00",
                            "total": "340.00"}]
    assert doc["totals"]["total"] == "340.00"
    by_location = json.loads(_run(db_url, "cross", "--format", "json", "--as-of", "2025-06-30"))
    assert by_location["totals"]["total"] == "340.00"


def test_aging_options_detail_and_credits(db_url: str) -> None:
    c = _cache(db_url)
    c.pay("2", date(2025, 6, 1), unapplied="30.00")
    summary = json.loads(_run(db_url, "aging", "--format", "json", "--as-of", "2025-06-30",
                              "--aging-period", "60", "--num-periods", "2"))
    assert [col["title"] for col in summary["columns"]][3:6] == ["Current", "1 - 60", "61 and over"]
    assert summary["totals"]["total"] == "170.00"  # 120 + 80 owed, 30 paid ahead
    assert summary["meta"]["aging_period"] == 60
    detail = json.loads(_run(db_url, "aging", "--detail", "--format", "json", "--as-of", "2025-06-30"))
    assert [(r["kind"], r["open"]) for r in detail["rows"]] == [
        ("Invoice", "80.00"), ("Payment", "-30.00"), ("Invoice", "120.00")]
    current = json.loads(_run(db_url, "aging", "--format", "json", "--as-of", "2025-06-30", "--aging-method",
                              "current"))
    assert current["totals"]["total"] == "50.00"  # the July payment counts


def test_statement_batch_and_kinds(db_url: str) -> None:
    _cache(db_url)
    text = _run(db_url, "statement", "--all", "--as-of", "2025-06-30", "--from", "2025-01-01")
    assert "2 statements" in text and "Balance forward statement" in text
    doc = json.loads(_run(db_url, "statement", "--all", "--kind", "open-item", "--balance", "overdue",
                          "--format", "json", "--as-of", "2025-06-30"))
    assert doc["meta"]["statements"] == 2
    one = json.loads(_run(db_url, "statement", "2", "--kind", "transaction", "--format", "json",
                          "--as-of", "2025-06-30"))
    assert one["totals"]["charge"] == "80.00"
    result = CliRunner().invoke(cli, ["report", "statement", "--cache-url", db_url])
    assert result.exit_code == 2 and "one CUSTOMER or --all" in result.output
