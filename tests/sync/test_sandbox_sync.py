"""Sync against the sandbox over real HTTP with the real client: equal after full and incremental syncs,
under injected faults, after SIGKILL at random points, and with two syncs started together."""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

pytest.importorskip("qbsync.sandbox.server")
pytest.importorskip("qbsync.qbo.client")

from qbsync.cache.schema import open_cache
from qbsync.qbo.client import connect
from qbsync.sandbox.clock import SandboxClock
from qbsync.sandbox.knobs import FaultPlan, LatencyProfile
from qbsync.sandbox.server import SandboxServer
from qbsync.sandbox.store import Store
from qbsync.sync.runner import run_sync
from tests.sync.mirror import mirror_diff
from tests.sync.sandbox_env import REALM, build_company, connect_settings, mutate, snapshot

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    clock = SandboxClock()  # the wall clock: subprocesses compare token expiry with it
    store = Store(clock=clock)
    build_company(store)
    with SandboxServer(store, clock=clock) as srv:
        yield srv


def _sync(server: SandboxServer, tmp_path: Path, cache_url: str, **kw: Any) -> Any:
    conn = connect_settings(server, tmp_path, cache_url)
    gateway = connect(conn.settings, REALM, clock=server.clock)
    engine = open_cache(cache_url)
    try:
        return run_sync(engine, gateway, clock=server.clock, workers=4, **kw)
    finally:
        gateway.close()
        engine.dispose()


def _diff(server: SandboxServer, cache_url: str) -> list[str]:
    engine = open_cache(cache_url)
    try:
        return mirror_diff(engine, REALM, snapshot(server.store))
    finally:
        engine.dispose()


@pytest.mark.slow
def test_full_then_incremental_syncs_equal_the_sandbox(sandbox: SandboxServer, tmp_path: Path,
                                                       db_url: str) -> None:
    first = _sync(sandbox, tmp_path, db_url)
    assert _diff(sandbox, db_url) == []
    assert first.fetched > 2000
    rng = random.Random(3)
    for _ in range(3):
        mutate(sandbox.store, rng, n=60)
        sandbox.clock.advance(timedelta(minutes=20))
        summary = _sync(sandbox, tmp_path, db_url)
        assert summary.incremental and not summary.full
        assert summary.requests <= 2
        assert _diff(sandbox, db_url) == []


@pytest.mark.slow
def test_equal_despite_30_percent_faults(sandbox: SandboxServer, tmp_path: Path, db_url: str) -> None:
    sandbox.faults = FaultPlan(rate_429=0.1, rate_503=0.1, drop_rate=0.1, seed=11)
    summary = _sync(sandbox, tmp_path, db_url)
    assert summary.throttles > 0 and summary.retries > 0
    assert _diff(sandbox, db_url) == []
    mutate(sandbox.store, random.Random(5), n=80)
    sandbox.clock.advance(timedelta(minutes=10))
    _sync(sandbox, tmp_path, db_url)
    assert _diff(sandbox, db_url) == []


def _counted(server: SandboxServer) -> dict[tuple[str, ...], int]:
    return server.request_log.by_entity()


def _json(env: dict[str, str], *args: str) -> Any:
    done = subprocess.run([sys.executable, "-m", "qbsync", *args, "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow
def test_request_counts_in_sync_json_and_status_equal_the_sandbox_log(sandbox: SandboxServer,
                                                                      tmp_path: Path, db_url: str) -> None:
    # Every attempt counts, as the server sees it: throttled, failed and dropped requests included.
    sandbox.faults = FaultPlan(rate_429=0.08, rate_503=0.08, drop_rate=0.05, seed=4)
    env = connect_settings(sandbox, tmp_path, db_url).env
    for full in (True, False):
        if not full:
            mutate(sandbox.store, random.Random(8), n=40)
            sandbox.clock.advance(timedelta(minutes=20))
        before = _counted(sandbox)
        [run] = _json(env, "sync")["runs"]
        after = _counted(sandbox)
        logged = {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}
        assert run["requests"] == sum(logged.values())
        per_entity = {e: c["requests"] for e, c in run["entities"].items()}
        assert per_entity == {e: logged.get((e,), 0) for e in per_entity}
        assert run["shared_requests"] == sum(n for k, n in logged.items() if len(k) > 1)
        assert run["requests"] == sum(per_entity.values()) + run["shared_requests"]
        if full:
            assert run["throttles"] > 0 and run["retries"] > 0
            assert all(n >= 1 for n in per_entity.values())  # every entity paged
        else:
            assert run["shared_requests"] >= 1  # the CDC for every entity
        [status] = _json(env, "status")
        assert {e["entity"]: e["last_run_requests"] for e in status["entities"]} == per_entity
        assert status["last_sync_requests"] == run["requests"]
    assert _diff(sandbox, db_url) == []


def _cli(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "qbsync", "-q", "sync", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_sigkill_at_random_points_then_resume_equals_the_sandbox(sandbox: SandboxServer, tmp_path: Path,
                                                                 db_url: str) -> None:
    conn = connect_settings(sandbox, tmp_path, db_url)
    rng = random.Random(20)
    served = {"n": 0}
    fire = threading.Event()
    target = {"at": 0}

    def count(store: Any, clock: Any, n: int) -> None:
        served["n"] += 1
        if served["n"] == target["at"]:
            fire.set()

    sandbox.on_request(count)
    kills = 0
    for i in range(20):
        if i:
            mutate(sandbox.store, rng, n=15)
        fire.clear()
        served["n"] = 0
        full = i % 2 == 0
        target["at"] = rng.randint(1, 14) if full else rng.randint(1, 2)
        child = _cli(conn.env, *(["--full"] if full else []))
        # the child ending also ends the wait (a run that needed fewer requests than the target)
        def end_wait(c: subprocess.Popen[bytes] = child) -> None:
            c.wait()
            fire.set()

        threading.Thread(target=end_wait, daemon=True).start()
        fire.wait(timeout=120)
        fired = served["n"] >= target["at"]
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            kills += 1
        child.wait(timeout=60)
        assert fired or child.returncode == 0, child.stderr.read() if child.stderr else b""
        resumed = _cli(conn.env)
        _, err = resumed.communicate(timeout=300)
        assert resumed.returncode == 0, err.decode()
        assert _diff(sandbox, db_url) == [], f"after kill {i}"
    assert kills >= 10
    engine = open_cache(db_url)
    with engine.connect() as c:  # no duplicates: the primary keys would refuse them, and counts match
        n = c.execute(sa.text("SELECT COUNT(*) FROM invoices")).scalar_one()
        assert n == len(snapshot(sandbox.store)["Invoice"])
    engine.dispose()


@pytest.mark.slow
def test_two_syncs_started_together_one_runs_the_other_exits_75(tmp_path: Path, db_url: str) -> None:
    clock = SandboxClock()
    store = Store(clock=clock)
    build_company(store)
    latency = LatencyProfile(base=0.15, seed=1)
    with SandboxServer(store, clock=clock, latency=latency) as srv:
        conn = connect_settings(srv, tmp_path, db_url)
        open_cache(db_url).dispose()  # both children find a migrated cache
        a, b = _cli(conn.env), _cli(conn.env)
        (_, err_a), (_, err_b) = a.communicate(timeout=300), b.communicate(timeout=300)
        codes = sorted([a.returncode, b.returncode])
        assert codes == [0, 75], (err_a.decode(), err_b.decode())
        loser = (err_a if a.returncode == 75 else err_b).decode()
        assert "already" in loser or "running" in loser
        # the lock is a file lock on SQLite and an advisory lock on PostgreSQL: both are exercised
        assert "Traceback" not in loser
        engine = open_cache(db_url)
        assert mirror_diff(engine, REALM, snapshot(store)) == []
        engine.dispose()


def _new_invoices(store: Store, n: int, first_id: int) -> None:
    """``n`` invoices made over the last minute (a busy day, as bench_fleet's rounds make them)."""
    now = store.clock.now()
    rows = []
    for i in range(n):
        stamp = (now - timedelta(seconds=60 * (n - i) / n)).isoformat(timespec="seconds")
        rows.append({"Id": str(first_id + i), "SyncToken": "0", "CustomerRef": {"value": "1"},
                     "TxnDate": "2025-04-01", "TotalAmt": 5, "Balance": 5, "DocNumber": f"N{i}",
                     "Line": [], "LinkedTxn": [],
                     "MetaData": {"CreateTime": stamp, "LastUpdatedTime": stamp}})
    store.bulk_load(REALM, "Invoice", rows)


@pytest.mark.parametrize("changes", [1000, 2000, 4000])
def test_changes_over_cdcs_cap_cost_at_most_one_request_over_the_minimum(tmp_path: Path, db_url: str,
                                                                         changes: int) -> None:
    # bench_fleet's over-allowance company: one entity's changes fill several CDC answers. Each
    # follow-up re-reads the newest second of the answer before it, so when the changes are a whole
    # number of thousands the follow-ups need one answer more than the changes do, and the entities
    # asked after the truncated one (never reached) cost one request of their own: 2000 changes took
    # 4 requests, 4000 took 6 (the sandbox's log), where 1 + ceil(changes/1000) allows 3 and 5.
    clock = SandboxClock()
    store = Store(clock=clock)
    store.create_realm(REALM, company_info={"CompanyName": "Busy Co", "Country": "US"})
    _new_invoices(store, 3, 1)
    clock.advance(timedelta(days=1))
    with SandboxServer(store, clock=clock) as srv:
        _sync(srv, tmp_path, db_url)
        clock.advance(timedelta(minutes=10))
        _new_invoices(store, changes, 100_000)
        before = srv.request_log.count_path(f"/company/{REALM}/")
        summary = _sync(srv, tmp_path, db_url)
        used = srv.request_log.count_path(f"/company/{REALM}/") - before
        assert used == summary.requests
        assert used <= 1 + math.ceil(changes / 1000)
        assert _diff(srv, db_url) == []
