"""The one command context: every command judges the same "today" (the company's), opens the cache
the same way, and ends a database failure with one clean line."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from qbsync.cache.models import Realm
from qbsync.cli import cli
from qbsync.cli.context import Env
from qbsync.clock import FixedClock
from tests.builder import CacheBuilder
from tests.clirunner import EnvRunner

NOON_UTC = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)  # 2026-12-06 02:00 on Kiritimati (UTC+14)


@pytest.fixture
def kiritimati(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    monkeypatch.setenv("QBSYNC_CONFIG", str(tmp_path / "qbsync.toml"))
    monkeypatch.delenv("QBSYNC_TIMEZONE", raising=False)
    (tmp_path / "qbsync.toml").write_text("")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _cache(tmp_path: Path, offset: str | None = None) -> str:
    url = f"sqlite:///{tmp_path / 'cache.sqlite3'}"
    c = CacheBuilder(url)
    c.customer("1", "Old Co")
    c.invoice("1", date(2024, 1, 1), "100.00", due=date(2024, 1, 31))
    if offset is not None:
        info = {"CompanyName": "Crafted Co", "MetaData": {"CreateTime": f"2020-01-01T09:00:00{offset}",
                                                           "LastUpdatedTime": f"2026-11-30T10:00:00{offset}"}}
        with c.engine.begin() as conn:
            conn.execute(sa.update(Realm).values(raw_company_info=info))
    c.engine.dispose()
    return url


def _as_of_everywhere(runner: EnvRunner, url: str) -> set[str]:
    """The as-of date each kind of command chose on its own (no --as-of)."""
    seen = set()
    for args, key in ((["rules", "inactive"], ("as_of",)), (["report", "aging"], ("meta", "as_of")),
                      (["writeback", "plan", "--rule", "inactive"], ("as_of",)),
                      (["rules", "duplicates"], ("as_of",))):
        result = runner.invoke(cli, [*args, "--cache-url", url, "--format", "json"])
        assert result.exit_code == 0, (args, result.output)
        doc = json.loads(result.stdout)
        for k in key:
            doc = doc[k]
        seen.add(doc)
    return seen


def test_rules_reports_and_plans_agree_on_today_whatever_the_shells_zone(kiritimati: None,
                                                                         tmp_path: Path) -> None:
    # Issue 10: with TZ=Pacific/Kiritimati `rules inactive` judged as of 2026-12-06, `report aging`
    # as of 2026-12-05. A company whose zone nothing tells: this computer's, for every command.
    runner = EnvRunner(Env(clock=FixedClock(NOON_UTC)))
    assert _as_of_everywhere(runner, _cache(tmp_path)) == {"2026-12-06"}


def test_today_is_the_companys_when_quickbooks_tells_its_offset(kiritimati: None, tmp_path: Path) -> None:
    url = _cache(tmp_path, "-08:00")  # 04:00 on 2026-12-05 for the company
    runner = EnvRunner(Env(clock=FixedClock(NOON_UTC)))
    assert _as_of_everywhere(runner, url) == {"2026-12-05"}
    # "after today" is the company's today too, though this computer is already on the 6th
    refused = runner.invoke(cli, ["report", "aging", "--cache-url", url, "--as-of", "2026-12-06"])
    assert refused.exit_code == 2 and "--as-of 2026-12-06 is after today (2026-12-05)" in refused.output


def test_the_timezone_setting_wins(kiritimati: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = _cache(tmp_path, "-08:00")
    monkeypatch.setenv("QBSYNC_TIMEZONE", "Australia/Sydney")  # 2026-12-06 01:00 in Sydney (UTC+11)
    runner = EnvRunner(Env(clock=FixedClock(datetime(2026, 12, 5, 14, 0, tzinfo=UTC))))
    assert _as_of_everywhere(runner, url) == {"2026-12-06"}
    monkeypatch.setenv("QBSYNC_TIMEZONE", "Mars/Olympus")
    bad = runner.invoke(cli, ["report", "aging", "--cache-url", url])
    assert bad.exit_code == 2 and "setting 'timezone'" in bad.output and "IANA" in bad.output


def test_a_database_failure_under_a_command_is_one_clean_line(tmp_path: Path) -> None:
    url = _cache(tmp_path)
    with sqlite3.connect(tmp_path / "cache.sqlite3") as conn:
        conn.execute("ALTER TABLE invoices RENAME COLUMN balance TO balance_gone")
    result = EnvRunner().invoke(cli, ["report", "aging", "--cache-url", url])
    assert result.exit_code == 3, result.output
    assert "error: cannot open the cache at sqlite:///" in result.output
    assert "no such column: invoices.balance" in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)


def test_the_command_context_has_one_home() -> None:
    # Issue 10: the context was built five ways, one an `open_cache` in cli/report.py returning a
    # `Ctx` that shadowed cache.schema.open_cache. Only cli/context.py builds a CommandContext now;
    # nothing else in qbsync defines open_cache, aliases the context or re-exports its options.
    import ast

    root = Path(__file__).resolve().parents[1]
    defines: dict[str, set[str]] = {}
    for path in sorted((root / "qbsync").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                names = [node.name]
            elif isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.ImportFrom) and node.module == "qbsync.cli.context":
                names = [a.asname for a in node.names if a.asname]  # `import x as x`: a re-export
            for name in names:
                defines.setdefault(name, set()).add(str(path.relative_to(root)))
    assert defines["open_cache"] == {"qbsync/cache/schema.py"}
    assert defines["CommandContext"] == {"qbsync/cli/context.py"}
    assert "Ctx" not in defines
    for option in ("as_of_option", "realm_option", "cache_url_option", "DATE"):
        assert defines[option] == {"qbsync/cli/context.py"}, option


def test_a_cache_of_several_companies_asks_which_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # It said "setting 'realm': not set ... or run `qbsync sync` first", naming neither the companies
    # nor that there were several; the token store already said "connected to several companies".
    monkeypatch.setenv("QBSYNC_CONFIG", str(tmp_path / "qbsync.toml"))
    monkeypatch.delenv("QBSYNC_REALM", raising=False)
    (tmp_path / "qbsync.toml").write_text("")
    url = f"sqlite:///{tmp_path / 'cache.sqlite3'}"
    for realm in ("4620", "777"):
        c = CacheBuilder(url, realm_id=realm)
        c.customer("1", f"Customer of {realm}")
        c.engine.dispose()
    for args in (["rules", "inactive"], ["report", "aging"], ["customer", "show", "1"]):
        result = EnvRunner().invoke(cli, [*args, "--cache-url", url])
        assert result.exit_code == 2, result.output
        assert "the cache holds several companies (4620, 777): which one?" in result.output
        assert "--realm" in result.output and "QBSYNC_REALM" in result.output and "sync" not in result.output
    chosen = EnvRunner().invoke(cli, ["customer", "show", "1", "--realm", "777", "--cache-url", url])
    assert chosen.exit_code == 0 and "Customer of 777" in chosen.output
