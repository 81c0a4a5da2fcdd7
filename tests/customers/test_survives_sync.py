"""The customer file is the user's own data: a full re-sync from QuickBooks leaves it alone, and
`qbsync backup` / `restore` carry it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qbsync.cache.schema import open_cache
from qbsync.cli import cli
from qbsync.clock import FixedClock
from qbsync.customers import file as cfile
from qbsync.customers import outreach
from qbsync.qbo.client import connect
from qbsync.sandbox.clock import SandboxClock
from qbsync.sandbox.server import SandboxServer
from qbsync.sandbox.store import Store
from qbsync.sync.runner import run_sync
from tests.sync.sandbox_env import REALM, build_company, connect_settings

CID = "15"  # a customer of build_company (ids 1-10 are its locations, classes and items)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    clock = SandboxClock()
    store = Store(clock=clock)
    build_company(store, customers=40, invoices=60)
    with SandboxServer(store, clock=clock) as srv:
        yield srv


def _sync(server: SandboxServer, tmp_path: Path, url: str, full: bool) -> None:
    conn = connect_settings(server, tmp_path, url)
    gateway = connect(conn.settings, REALM, clock=server.clock)
    engine = open_cache(url)
    try:
        run_sync(engine, gateway, clock=server.clock, workers=2, full=full)
    finally:
        gateway.close()
        engine.dispose()


def _file(url: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["customer", "show", CID, "--format", "json", "--no-rules",
                                      "--cache-url", url], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    return {k: doc[k] for k in ("notes", "lost", "contacts")} | {"language": doc["profile"]["language"]}


def test_a_full_resync_keeps_the_customer_file(sandbox: SandboxServer, tmp_path: Path, db_url: str) -> None:
    _sync(sandbox, tmp_path, db_url, full=False)
    engine = open_cache(db_url)
    clock = FixedClock(sandbox.clock.now())
    cfile.add_note(engine, REALM, CID, "prefers a call before noon", clock, "ana")
    cfile.mark_lost(engine, REALM, CID, "moved", clock.now().date(), clock, note="moved to Lisbon")
    cfile.set_language(engine, REALM, CID, "pt", clock)
    outreach.record(engine, REALM, "statement", [outreach.ItemSpec(CID, "statement", "email")], clock,
                    as_of=clock.now().date(), description="statements", sent=True)
    engine.dispose()
    before = _file(db_url)
    assert before["language"] == "pt" and before["notes"] and before["lost"] and before["contacts"]
    _sync(sandbox, tmp_path, db_url, full=True)
    assert _file(db_url) == before


def test_backup_and_restore_carry_the_customer_file(sqlite_url: str, tmp_path: Path) -> None:
    from tests.builder import CacheBuilder

    c = CacheBuilder(sqlite_url)
    c.customer(CID, "Kept Co")
    open_cache(sqlite_url).dispose()  # stamped at the head revision, as a synced cache is
    clock = FixedClock(datetime(2025, 5, 1, tzinfo=UTC))
    cfile.add_note(c.engine, c.realm_id, CID, "before the backup", clock)
    runner = CliRunner()
    out = runner.invoke(cli, ["backup", str(tmp_path / "b.sqlite3"), "--cache-url", sqlite_url],
                        catch_exceptions=False)
    assert out.exit_code == 0, out.output
    cfile.add_note(c.engine, c.realm_id, CID, "after the backup", clock)
    c.engine.dispose()
    out = runner.invoke(cli, ["restore", str(tmp_path / "b.sqlite3"), "--yes", "--cache-url", sqlite_url],
                        catch_exceptions=False)
    assert out.exit_code == 0, out.output
    assert [n["text"] for n in _file(sqlite_url)["notes"]] == ["before the backup"]
