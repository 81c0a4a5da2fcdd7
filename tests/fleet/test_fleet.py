"""The worker fleet on procrastinate, against the real PostgreSQL with real HTTP: bursts coalesce,
each company is synced once per burst, a SIGKILLed worker's sync is finished by another worker from
its committed pages, and the caches end identical to the sandbox."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

pytest.importorskip("procrastinate")
pytest.importorskip("starlette")

from qbsync.auth.tokens import TokenStore
from qbsync.cache.schema import open_cache
from qbsync.fleet.inbox import Inbox
from qbsync.fleet.jobs import Fleet, FleetOptions
from qbsync.fleet.runner import SyncExecutor, SyncRequest
from qbsync.fleet.server import ConnectedRealms, Receiver, WebhookServer, create_app
from qbsync.qbo.client import connect
from qbsync.sandbox.clock import SandboxClock
from qbsync.sandbox.knobs import LatencyProfile
from qbsync.sandbox.server import SandboxServer
from qbsync.sandbox.store import Store
from tests.conftest import PG_AVAILABLE, pg_schema_url
from tests.fleet.env import VERIFIER, body_of, build_realm, change_customer, cloudevent, connect_realms, sign
from tests.sync.mirror import mirror_diff
from tests.sync.sandbox_env import snapshot

pytestmark = pytest.mark.skipif(not PG_AVAILABLE, reason="the fleet needs PostgreSQL")

ROOT = Path(__file__).resolve().parents[2]
REALMS = [f"46208163651{i:08d}" for i in range(1, 7)]


@pytest.fixture
def pg_url() -> Iterator[str]:
    with pg_schema_url() as url:
        yield url


def _cdc_requests(sandbox: SandboxServer, realm: str) -> int:
    return sandbox.request_log.count_path(f"/company/{realm}/cdc")


def test_a_burst_coalesces_per_company_and_each_company_is_synced_once(tmp_path: Path, pg_url: str) -> None:
    clock = SandboxClock(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1))
    store = Store(clock=clock)
    for realm in REALMS:
        build_realm(store, realm)
    with SandboxServer(store, clock=clock) as sandbox:
        settings, _ = connect_realms(sandbox, tmp_path, pg_url, REALMS)
        engine = open_cache(pg_url)
        executor = SyncExecutor(settings, engine, connect=lambda s, r, c: connect(s, r, clock=c), clock=clock)
        tokens = TokenStore(settings.token_dir)
        fleet = Fleet(engine, executor=executor, connected=tokens.realms, clock=clock,
                      options=FleetOptions(stall_grace=timedelta(0)))
        with fleet:
            fleet.run_worker(once=True, install_signal_handlers=False)  # the schedule: first syncs
            assert all(mirror_diff(engine, r, snapshot(store, r)) == [] for r in REALMS)
            clock.advance(timedelta(minutes=1))
            events = []
            for n in range(1, 21):
                for realm in REALMS:
                    obj = change_customer(store, realm, str(n), f"{n}@{realm}.burst")
                    events.append(cloudevent(realm, "Customer", str(n), "updated",
                                             obj["MetaData"]["LastUpdatedTime"]))
            clock.advance(timedelta(seconds=5))
            receiver = Receiver(VERIFIER, Inbox(engine), fleet, ConnectedRealms(tokens.realms), clock=clock)
            import requests

            before = {r: _cdc_requests(sandbox, r) for r in REALMS}
            with WebhookServer(create_app(receiver)) as server:
                answers = []
                for start in range(0, len(events), 10):  # 12 deliveries, each mixing companies
                    body = body_of(events[start:start + 10])
                    r = requests.post(server.url + "/webhooks/quickbooks", data=body, timeout=30,
                                      headers={"intuit-signature": sign(body)})
                    assert r.status_code == 200
                    answers.append(r.json())
                assert sum(a["queued"] for a in answers) == len(REALMS)
                assert fleet.counts() == {(r, "todo"): 1 for r in REALMS}  # one waiting sync each
                bad = body_of(events[:3])
                assert requests.post(server.url + "/webhooks/quickbooks", data=bad, timeout=30,
                                     headers={"intuit-signature": sign(bad, "wrong")}).status_code == 401
            fleet.run_worker(once=True, install_signal_handlers=False)
            assert {r: _cdc_requests(sandbox, r) - before[r] for r in REALMS} == {r: 1 for r in REALMS}
            assert all(mirror_diff(engine, r, snapshot(store, r)) == [] for r in REALMS)
            assert fleet.counts() == {}
            # Redelivered now that every cache is current: recorded as duplicates, nothing queued.
            assert Inbox(engine).record([], clock.now()).to_sync == []
            assert Inbox(engine).pending(REALMS) == []
        engine.dispose()


def _worker(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "qbsync", "-q", "worker", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _pages_committed(engine: sa.Engine, realm: str, entity: str = "Customer") -> int:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT full_sync_pages FROM sync_state WHERE realm_id = :r "
                                    "AND entity = :e"), {"r": realm, "e": entity}).scalars().all()
    return sum(len(p or []) for p in rows)


@pytest.mark.slow
def test_a_worker_killed_mid_sync_loses_nothing(tmp_path: Path, pg_url: str) -> None:
    realm = REALMS[0]
    clock = SandboxClock()  # the wall clock: worker processes judge token expiry by it
    store = Store(clock=clock)
    build_realm(store, realm, customers=6000, invoices=4000)
    latency = LatencyProfile(base=0.05, network=0.0, per_row=0.0, jitter=0.0, slow_rate=0.0, seed=1)
    with SandboxServer(store, clock=clock, latency=latency) as sandbox:
        _, env = connect_realms(sandbox, tmp_path, pg_url, [realm], max_concurrent=1)
        engine = open_cache(pg_url)
        fleet = Fleet(engine)
        assert fleet.request(SyncRequest(realm, reason="manual"))
        fleet.close()
        first = _worker(env, "--concurrency", "1")
        try:
            deadline = time.monotonic() + 120
            while _pages_committed(engine, realm) < 2:  # mid-sync: some customer pages committed
                assert first.poll() is None, first.stdout.read() if first.stdout else b""
                assert time.monotonic() < deadline, "the worker never committed a page"
                time.sleep(0.05)
        finally:
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
        killed_at = clock.now()
        second = subprocess.run([sys.executable, "-m", "qbsync", "-q", "worker", "--once",
                                 "--stall-grace", "0"], cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=300)
        assert second.returncode == 0, second.stdout + second.stderr
        assert mirror_diff(engine, realm, snapshot(store, realm)) == []
        with engine.connect() as conn:
            kept = conn.execute(sa.text("SELECT count(*) FROM customers WHERE realm_id = :r "
                                        "AND seen_at < :t"), {"r": realm, "t": killed_at}).scalar_one()
            # the pages the killed worker committed were kept, not fetched again (1,000 rows a page)
            assert kept >= 1000
            status: dict[str, int] = dict(conn.execute(sa.text(
                "SELECT status::text, count(*) FROM procrastinate_jobs WHERE task_name = 'qbsync.sync_realm' "
                "GROUP BY 1")).all())
        assert status.get("failed") == 1 and "doing" not in status and "todo" not in status
        engine.dispose()
