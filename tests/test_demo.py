"""`qbsync demo` end to end on a small company: files, cache, tour, and refusing foreign directories."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from qbsync.cache.models import Customer
from qbsync.cli import cli
from qbsync.clock import FixedClock
from qbsync.demo import MARKER, prepare_dir
from qbsync.errors import InputError
from qbsync.sandbox.store import Store

CUSTOMERS = "150"


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["demo", *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    work = tmp_path_factory.mktemp("demo") / "work"
    return work, _run("--dir", str(work), "--customers", CUSTOMERS)


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def test_demo_succeeds_and_writes_the_outreach_files(demo: tuple[Path, Result]) -> None:
    work, res = demo
    assert res.exit_code == 0, res.output
    out = work / "outreach"
    header, rows = _rows(out / "demo-winback-mailchimp.csv")
    assert header[:3] == ["Email Address", "First Name", "Last Name"]
    emails = [r["Email Address"] for r in rows]
    assert rows and all("@" in e for e in emails)
    assert len(set(e.lower() for e in emails)) == len(emails), "one row per email address"
    hub_header, hub_rows = _rows(out / "demo-winback-hubspot.csv")
    assert "Email" in hub_header and len(hub_rows) == len(rows)
    _, generic = _rows(out / "demo-winback-generic.csv")
    assert len(generic) >= len(rows)
    for name in ("demo-winback-call-list.csv", "demo-winback-collections.csv", "dunning.csv"):
        header, _ = _rows(out / name)
        assert header, f"{name} has no header"
        assert str(out / name) in res.output


def test_cache_holds_every_sandbox_customer(demo: tuple[Path, Result]) -> None:
    work, res = demo
    assert res.exit_code == 0, res.output
    store = Store(str(work / "sandbox.sqlite3"))
    try:
        (realm,) = store.realms()
        in_sandbox = store.count(realm, "Customer")
    finally:
        store.close()
    engine = sa.create_engine(f"sqlite:///{work / 'cache.sqlite3'}")
    try:
        with engine.connect() as conn:
            in_cache = conn.execute(sa.select(sa.func.count()).select_from(Customer)
                                    .where(Customer.realm_id == realm)).scalar_one()
    finally:
        engine.dispose()
    assert in_sandbox >= int(CUSTOMERS)
    assert in_cache == in_sandbox


def test_tour_says_where_things_are_and_what_to_try(demo: tuple[Path, Result]) -> None:
    work, res = demo
    assert str(work / "cache.sqlite3") in res.output
    assert f"qbsync rules inactive --cache-url sqlite:///{work / 'cache.sqlite3'}" in res.output
    assert f"qbsync sandbox serve --db {work / 'sandbox.sqlite3'}" in res.output
    for report in ("best", "cross", "aging", "payments", "baddebt", "health"):
        assert f"-- qbsync report {report} --" in res.output
    assert "NOT applied" in res.output


def test_tokens_never_appear_in_the_output(demo: tuple[Path, Result]) -> None:
    work, res = demo
    (token_file,) = (work / "tokens").glob("*.json")
    tokens = json.loads(token_file.read_text())
    assert tokens["access_token"] not in res.output and tokens["refresh_token"] not in res.output


def test_rerun_over_a_previous_demo_needs_fresh(demo: tuple[Path, Result]) -> None:
    work, _ = demo
    before = (work / "cache.sqlite3").stat().st_mtime_ns
    res = _run("--dir", str(work), "--customers", CUSTOMERS)
    assert res.exit_code == 2
    assert "previous demo" in res.output and "--fresh" in res.output
    assert (work / "cache.sqlite3").stat().st_mtime_ns == before


def test_foreign_non_empty_dir_is_refused_even_with_fresh(tmp_path: Path) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.txt").write_text("do not delete")
    res = _run("--dir", str(foreign), "--fresh", "--customers", CUSTOMERS)
    assert res.exit_code == 2
    assert str(foreign) in res.output and "not empty" in res.output and "--dir" in res.output
    assert (foreign / "thesis.txt").read_text() == "do not delete"
    assert sorted(p.name for p in foreign.iterdir()) == ["thesis.txt"]


def test_prepare_dir_wipes_only_a_previous_demo(tmp_path: Path) -> None:
    clock = FixedClock(datetime(2026, 1, 2, tzinfo=UTC))
    work = tmp_path / "demo"
    prepare_dir(work, fresh=False, clock=clock)
    (work / "left-over.csv").write_text("x")
    with pytest.raises(InputError, match="previous demo"):
        prepare_dir(work, fresh=False, clock=clock)
    prepare_dir(work, fresh=True, clock=clock)
    assert sorted(p.name for p in work.iterdir()) == [MARKER]


def test_json_summary(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    res = CliRunner().invoke(cli, ["demo", "--dir", str(work), "--customers", "60", "--seed", "7", "--json"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["cache_path"] == str(work / "cache.sqlite3")
    steps = {s["name"]: s for s in doc["steps"]}
    assert list(steps) == ["seed", "serve", "connect", "sync", "rules", "outreach", "reports"]
    assert steps["sync"]["counts"]["fetched"] > 0
    # The two planted duplicate pairs: two clusters, two duplicates (survivors are not counted).
    planted = json.loads((work / "sandbox-truth.json").read_text())["duplicate_clusters"]
    assert steps["rules"]["counts"]["duplicate_clusters"] == len(planted) == 2
    assert steps["rules"]["counts"]["duplicates"] == sum(len(c) - 1 for c in planted)
    for kind, path in doc["files"].items():
        _, rows = _rows(Path(path))
        assert len(rows) == steps["outreach"]["counts"]["rows"][kind], kind


def test_a_failing_step_is_named_and_the_server_stops(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    import qbsync.sync.runner

    def broken_sync(*args: object, **kw: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(qbsync.sync.runner, "run_sync", broken_sync)
    work = tmp_path / "demo"
    res = _run("--dir", str(work), "--customers", "20")
    assert res.exit_code == 1
    assert "syncing" in res.output and "disk on fire" in res.output and "--fresh" in res.output
    assert not any(t.name == "qbo-sandbox" and t.is_alive() for t in threading.enumerate())
    assert (work / MARKER).is_file(), "a half-done demo can still be wiped with --fresh"


def test_duplicates_are_matched_once_for_the_rules_and_every_export(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import qbsync.rules.duplicates

    detect = qbsync.rules.duplicates.detect_duplicates
    calls: list[int] = []

    def counted(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        return detect(*args, **kw)

    monkeypatch.setattr(qbsync.rules.duplicates, "detect_duplicates", counted)
    work = tmp_path / "demo"
    res = CliRunner().invoke(cli, ["demo", "--dir", str(work), "--customers", CUSTOMERS, "--json"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    files = json.loads(res.stdout)["files"]
    assert {f"marketing ({fmt})" for fmt in ("generic", "mailchimp", "hubspot")} <= set(files), \
        "all three exports ran"
    assert len(calls) == 1
