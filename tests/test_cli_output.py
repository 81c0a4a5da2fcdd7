"""Quieter, clearer output: warnings only by default, progress bars with honest rates on a terminal
only, a sync summary that says what fetched and changed mean, times to the second, shell completion."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from qbsync.cli import cli
from qbsync.cli.progress import SyncProgress
from qbsync.sync.runner import SyncSummary
from qbsync.sync.state import EntityCounts
from tests.builder import CacheBuilder
from tests.clirunner import EnvRunner

ROOT = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _lines(stream: io.StringIO) -> list[str]:
    return [line for line in ANSI.sub("", stream.getvalue()).splitlines() if line.strip()]


def test_sync_bars_show_a_rate_only_once_it_is_measured() -> None:
    # Issue 10: "CreditMemo 407 rows 4,499,027/s" - one page divided by the microseconds since it came.
    now = [100.0]
    screen = _Terminal()
    with SyncProgress(screen, monotonic=lambda: now[0]) as bars:
        bars.advance("CreditMemo", 407)  # one page, before its COUNT answered
        bars.start("CreditMemo", 407)
        bars.finish("CreditMemo")
        bars.start("Invoice", 3000)
        for _ in range(3):
            now[0] += 2.0  # 1,000 rows every two seconds
            bars.advance("Invoice", 1000)
        bars.refresh()
        last = {line.split()[0]: line for line in _lines(screen)}
    assert "/s" not in last["CreditMemo"]
    assert "500 rows/s" in last["Invoice"], last["Invoice"]
    assert "407/407" in last["CreditMemo"] and "3000/3000" in last["Invoice"]


def test_no_bar_and_no_info_line_off_a_terminal(tmp_path: Path) -> None:
    # Cron and pipes: the summary and warnings only; -v says what is done, each line with its time.
    url = f"sqlite:///{tmp_path / 'cache.sqlite3'}"
    c = CacheBuilder(url)
    c.customer("1", "Old Co")
    c.receipt("1", date(2023, 1, 1))
    c.engine.dispose()
    env = {**os.environ, "QBSYNC_CONFIG": str(tmp_path / "none.toml")}
    (tmp_path / "none.toml").write_text("")
    args = [sys.executable, "-m", "qbsync", "writeback", "plan", "--rule", "inactive", "--cache-url", url,
            "--as-of", "2025-06-30", "--format", "json"]
    quiet = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=env, check=True)
    assert json.loads(quiet.stdout)["counts"] == {"change": 1}
    assert "INFO" not in quiet.stderr and not re.search(r"\d\d:\d\d:\d\d", quiet.stderr), quiet.stderr
    assert quiet.stderr.strip().startswith("plan P")  # the one summary line
    loud = subprocess.run([*args[:3], "-v", *args[3:]], cwd=ROOT, capture_output=True, text=True, env=env,
                          check=True)
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO qbsync\.writeback: plan P", loud.stderr,
                     re.M), loud.stderr


def test_the_sync_summary_says_what_fetched_and_changed_mean() -> None:
    from qbsync.cli.sync import summary_text

    summary = SyncSummary("9130", {"Customer": EntityCounts(fetched=2000, changed=3, deleted=1, requests=3)},
                          incremental=["Customer"], requests=3, duration_s=1.25)
    text = summary_text(summary)
    assert "2,000 rows fetched from QuickBooks, 3 new or changed in the cache, 1 deleted" in text
    assert "1,997 fetched rows were already in the cache as they are" in text
    assert "; 3 requests, 1.2 s" in text
    one = SyncSummary("9130", {"Customer": EntityCounts(fetched=1, changed=1, requests=1)},
                      incremental=["Customer"], requests=1, duration_s=0.0)
    assert "1 row fetched from QuickBooks, 1 new or changed in the cache, 0 deleted; 1 request, 0.0 s" in (
        summary_text(one))  # a CDC run that found one change: 'rows', 'requests' read wrong in the singular


def test_times_for_a_person_have_no_microseconds(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cache.sqlite3'}"
    CacheBuilder(url).engine.dispose()
    runner = EnvRunner()
    made = runner.invoke(cli, ["writeback", "plan", "--rule", "inactive", "--cache-url", url])
    assert made.exit_code == 0, made.output
    table = runner.invoke(cli, ["writeback", "log", "--plans", "--cache-url", url]).stdout
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$", table, re.M), table
    assert not re.search(r"\d\d:\d\d:\d\d[.+]|T\d\d:", table), table  # no microseconds, no ISO T
    # status's table: the two times of a row are two columns, not one run-on string
    # ('2026-12-05 22:24:23 UTC 2026-12-05 22:24:19 UTC')
    import sqlalchemy as sa

    from qbsync.cache.models import Realm, SyncState

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        realm_id = conn.execute(sa.select(Realm.realm_id)).scalar_one()
        conn.execute(sa.insert(SyncState).values(
            realm_id=realm_id, entity="Customer", row_count=0,
            last_success_at=datetime(2026, 12, 5, 22, 24, 23, 5, tzinfo=UTC),
            cursor=datetime(2026, 12, 5, 22, 24, 19, 7, tzinfo=UTC)))
    engine.dispose()
    status = runner.invoke(cli, ["status", "--cache-url", url]).stdout
    assert re.search(r"2026-12-05 22:24:23 UTC {2,}2026-12-05 22:24:19 UTC", status), status
    health = runner.invoke(cli, ["report", "health", "--cache-url", url]).stdout
    assert re.search(r"Sync health at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", health), health


def test_auth_status_csv_has_times_to_the_second(tmp_path: Path, config_file: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # The CSV of `auth status` (for a spreadsheet) carried '2026-12-05T23:24:18.676606+00:00' while
    # every other CSV writes times as '2026-12-05 23:24:18+00:00'; JSON keeps ISO 8601.
    from datetime import timedelta

    from qbsync.auth.tokens import TokenSet, TokenStore

    monkeypatch.setenv("QBSYNC_TOKEN_DIR", str(tmp_path / "tokens"))
    t0 = datetime(2026, 12, 5, 22, 24, 18, 676606, tzinfo=UTC)
    TokenStore(tmp_path / "tokens").save(TokenSet(
        realm_id="123", access_token="a", refresh_token="r", access_expires_at=t0 + timedelta(hours=1),
        refresh_expires_at=t0 + timedelta(days=100), obtained_at=t0, company_name="Crafted Co"))
    shown = EnvRunner().invoke(cli, ["auth", "status", "--format", "csv"])
    assert shown.exit_code == 0, shown.output
    row = next(iter(csv.DictReader(io.StringIO(shown.stdout))))
    assert row["access_expires_at"] == "2026-12-05 23:24:18+00:00"
    assert row["refresh_expires_at"] == "2027-03-15 22:24:18+00:00"
    assert json.loads(EnvRunner().invoke(cli, ["auth", "status", "--json"]).stdout)[0][
        "access_expires_at"] == "2026-12-05T23:24:18.676606+00:00"


@pytest.mark.parametrize(("words", "cword", "expect"), [
    ("qbsync ru", 1, "rules"), ("qbsync rules in", 2, "inactive"), ("qbsync report ag", 2, "aging"),
    ("qbsync rules inactive --est", 3, "--estimates")])
def test_shell_completion_completes_commands_and_options(words: str, cword: int, expect: str) -> None:
    env = {**os.environ, "_QBSYNC_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    out = subprocess.run([sys.executable, "-c", "from qbsync.cli import main; main()"], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    assert f"plain,{expect}" in out.stdout.splitlines(), out.stdout + out.stderr


def test_human_time() -> None:
    from qbsync.texttable import human_time

    assert human_time(datetime(2026, 12, 5, 14, 3, 7, 123456, tzinfo=UTC)) == "2026-12-05 14:03:07 UTC"
    assert human_time(date(2026, 12, 5)) == "2026-12-05"
