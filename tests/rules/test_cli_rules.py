"""`qbsync rules inactive | reactivate | disappearing` end to end on a crafted cache."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from qbsync.cli import cli
from tests.builder import CacheBuilder


@pytest.fixture
def cache(config_file: Path, sqlite_url: str) -> str:
    config_file.write_text('[rules.inactive]\nexclude_names = ["Internal*"]\n')
    b = CacheBuilder(sqlite_url)
    b.customer("1", "=Stale Co")
    b.invoice("1", date(2024, 5, 8), balance="0")
    b.customer("2", "Internal Account")
    b.invoice("2", date(2024, 5, 8), balance="0")
    b.customer("3", "Back Again (deleted)", active=False)
    b.receipt("3", date(2025, 6, 20))
    b.customer("4", "Owes Us")
    b.invoice("4", date(2024, 1, 1), "50", balance="50")
    for i in range(10, 40):  # regular buyers, some of whom stop
        b.customer(str(i), f"Regular {i}")
        stop = date(2025, 6, 30) - timedelta(days=20 * (i % 7) + 1)
        day = date(2023, 1, 1) + timedelta(days=i)
        while day <= stop:
            b.invoice(str(i), day, balance="0")
            day += timedelta(days=14 + i % 5)
    return sqlite_url


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_inactive_table_csv_json(cache: str, tmp_path: Path) -> None:
    out = _run("rules", "inactive", "--cache-url", cache, "--as-of", "2025-06-30")
    assert "last invoice 2024-05-08, 418 days ago; threshold 365; balance 0.00" in out
    assert "Internal Account" not in out  # excluded by the config file
    assert "collections" in out and "Owes Us" in out
    _run("rules", "inactive", "--cache-url", cache, "--as-of", "2025-06-30", "--format", "csv",
         "-o", str(tmp_path / "out.csv"))
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text())))
    assert {r["customer_id"]: r["action"] for r in rows} == {"1": "deactivate", "4": "collections"}
    assert next(r for r in rows if r["customer_id"] == "1")["display_name"] == "'=Stale Co"
    doc = json.loads(_run("rules", "inactive", "--cache-url", cache, "--as-of", "2025-06-30",
                          "--format", "json", "--days", "500"))
    assert doc["policy"]["days"] == 500
    assert [f["customer_id"] for f in doc["findings"]] == ["4"]  # 546 days > 500; 418 days < 500


def test_reactivate_and_as_of_replay(cache: str) -> None:
    out = _run("rules", "reactivate", "--cache-url", cache, "--as-of", "2025-06-30")
    assert "Back Again" in out and "(deleted)" not in out
    assert "Back Again" not in _run("rules", "reactivate", "--cache-url", cache, "--as-of", "2025-06-01")


def test_disappearing_reports_backtest_auc(cache: str) -> None:
    doc = json.loads(_run("rules", "disappearing", "--cache-url", cache, "--as-of", "2025-06-30",
                          "--format", "json", "--holdout-days", "90", "--top", "5"))
    assert "AUC" in doc["summary"] and doc["backtest"]["holdout_days"] == 90
    assert len(doc["findings"]) == 5 and doc["scorer"] in doc["backtest"]["mean_auc"]
    assert doc["scorer"] == doc["backtest"]["chosen"] and doc["summary"].startswith("Ranked by ")
    assert all(f["action"] == "watch" for f in doc["findings"])


def test_bad_threshold_option_is_a_clear_error(cache: str) -> None:
    result = CliRunner().invoke(cli, ["rules", "inactive", "--cache-url", cache, "--type-days", "3:730"])
    assert result.exit_code == 2 and "KEY=DAYS" in result.output


def test_as_of_after_today_is_refused(cache: str) -> None:
    for args in (["rules", "inactive"], ["rules", "duplicates"], ["report", "aging"]):
        result = CliRunner().invoke(cli, [*args, "--cache-url", cache, "--as-of", "2999-01-01"])
        assert result.exit_code == 2, (args, result.output)
        assert "--as-of 2999-01-01 is after today" in result.output


def test_missing_cache_and_unknown_realm_are_clear_errors(cache: str, tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'nope.sqlite3'}"
    for args in (["rules", "inactive"], ["rules", "duplicates"], ["report", "best"]):
        result = CliRunner().invoke(cli, [*args, "--cache-url", missing])
        assert result.exit_code == 3, (args, result.output)
        assert "no cache at" in result.output and "qbsync sync" in result.output
        assert not (tmp_path / "nope.sqlite3").exists()  # nothing left behind
        unknown = CliRunner().invoke(cli, [*args, "--cache-url", cache, "--realm", "123"])
        assert unknown.exit_code == 2, (args, unknown.output)
        assert "no company (realm) 123 in the cache" in unknown.output
    unreachable = CliRunner().invoke(cli, ["rules", "inactive", "--cache-url",
                                           "postgresql+psycopg://nobody@127.0.0.1:1/none"])
    assert unreachable.exit_code == 3 and "cannot open the cache" in unreachable.output
    no_driver = CliRunner().invoke(cli, ["rules", "inactive", "--cache-url", "mysql://x@127.0.0.1/y"])
    assert no_driver.exit_code == 3 and "cannot use the cache URL" in no_driver.output


def test_an_empty_database_is_no_cache_and_stays_empty(db_url: str, config_file: Path) -> None:
    import sqlalchemy as sa

    for args in (["rules", "inactive"], ["report", "aging"], ["writeback", "log"]):
        result = CliRunner().invoke(cli, [*args, "--cache-url", db_url])
        assert result.exit_code == 3, (args, result.output)
        assert "no cache at" in result.output or "no qbsync cache at" in result.output
    if db_url.startswith("postgresql"):
        engine = sa.create_engine(db_url)
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == []  # nothing was created
        engine.dispose()


def test_csv_of_findings_is_formula_safe_for_all_six_leading_characters(tmp_path: Path) -> None:
    # Issue 10: `rules inactive --format csv` neutralised = + - @ but not a leading TAB or CR,
    # and wrote the CR cell unquoted.
    url = f"sqlite:///{tmp_path / 'cache.sqlite3'}"
    b = CacheBuilder(url)
    names = ["=A", "+B", "-C", "@D", "\tE", "\rF"]
    for i, name in enumerate(names, start=1):
        b.customer(str(i), name)
        b.invoice(str(i), date(2024, 1, 1), balance="0")
    text = _run("rules", "inactive", "--cache-url", url, "--as-of", "2025-06-30", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert sorted(r["display_name"] for r in rows) == sorted("'" + n for n in names)
    assert '"\'\rF"' in text

