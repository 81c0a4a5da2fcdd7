"""Benchmarks of webhooks and the worker fleet (issue 12): freshness, fleet throughput, faults.

freshness   a change made through the sandbox API (sparse update, realistic latency) until it is in
            the cache: sandbox webhook sender -> `qbsync webhooks serve` -> queue -> `qbsync worker`
            (PostgreSQL) or the in-process queue (SQLite) -> CDC -> commit. p50/p95/max.
throughput  N companies with changes (a few over CDC's 1,000-object cap), one CDC sync queued each,
            run by 1, 2 and 4 `qbsync worker --once` processes: wall time against the bound the API
            latency and the workers' number set (max(longest company sync, sum of company syncs /
            (workers x concurrency)), the syncs' own durations measured in the same run), and
            requests per company against 1 + ceil(changes/1000).
faults      10,000 events for 100 companies in one burst through the sandbox's sender while two
            workers run (waiting and running syncs per company sampled; the receiver's answer times);
            every delivery replayed, shuffled (redelivered and out of order: syncs queued, requests
            made); 100 deliveries with a wrong signature; SIGKILL of a worker mid-sync x10, then the
            caches compared with the sandbox.

The sandbox runs in this process (its request log counts requests per company); workers and the
receiver are `qbsync` child processes on a scratch PostgreSQL schema. Timings on the 2 shared cores
are noisy: the load average is printed with every figure.

Usage: python bench/bench_fleet.py [freshness|throughput|faults|all] [--companies 1000] [--workers 1,2,4]
       [--lock /work/coord/bench.lock]   (throughput: only the timed rounds hold the lock, see --help)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from qbsync.auth.tokens import TokenSet, TokenStore  # noqa: E402
from qbsync.cache.schema import open_cache  # noqa: E402
from qbsync.fleet.jobs import Fleet  # noqa: E402
from qbsync.fleet.runner import SyncRequest  # noqa: E402
from qbsync.sandbox.clock import SandboxClock  # noqa: E402
from qbsync.sandbox.knobs import LatencyProfile  # noqa: E402
from qbsync.sandbox.server import SandboxServer  # noqa: E402
from qbsync.sandbox.store import Store  # noqa: E402
from qbsync.sandbox.webhooks import Endpoint  # noqa: E402

PG_URL = os.environ.get("QBSYNC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
VERIFIER = "bench-verifier-token"
CLIENT_ID, CLIENT_SECRET = "sandbox-client", "sandbox-secret"


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[0:3].__str__()


def renice(n: int) -> None:
    """Every thread of this process (the in-process sandbox's too) at niceness ``n``; children started
    afterwards inherit it. Lowering it again needs root (CAP_SYS_NICE)."""
    for tid in os.listdir("/proc/self/task"):
        with suppress(ProcessLookupError, PermissionError):
            os.setpriority(os.PRIO_PROCESS, int(tid), n)


@contextmanager
def timed_part(lock: str | None) -> Iterator[None]:
    """A part whose times are figures: with ``--lock PATH``, held under that flock at normal priority;
    what prepares it runs at nice 19 (the machine is shared; only the timed part needs it whole)."""
    if not lock:
        yield
        return
    import fcntl

    with open(lock, "w") as f:
        waited = time.monotonic()
        fcntl.flock(f, fcntl.LOCK_EX)
        print(f"bench lock after {time.monotonic() - waited:.0f} s; load {loadavg()}", flush=True)
        renice(0)
        try:
            yield
        finally:
            renice(19)
            fcntl.flock(f, fcntl.LOCK_UN)


def stamp(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds")


def realm_id(i: int) -> str:
    return f"93000000{i:08d}"


def build(store: Store, realm: str, customers: int, invoices: int) -> None:
    t = store.clock.now() - timedelta(days=2)
    meta = {"CreateTime": stamp(t), "LastUpdatedTime": stamp(t)}
    store.create_realm(realm, company_info={"CompanyName": f"Bench {realm}", "Country": "US"})
    store.bulk_load(
        realm,
        "Customer",
        [
            {
                "Id": str(i),
                "SyncToken": "0",
                "DisplayName": f"Customer {i}",
                "Active": True,
                "Job": False,
                "BillWithParent": False,
                "Balance": 0,
                "BalanceWithJobs": 0,
                "Level": 0,
                "PrimaryEmailAddr": {"Address": f"c{i}@example.com"},
                "MetaData": meta,
            }
            for i in range(1, customers + 1)
        ],
    )
    if invoices:
        store.bulk_load(
            realm,
            "Invoice",
            [
                {
                    "Id": str(100000 + i),
                    "SyncToken": "0",
                    "CustomerRef": {"value": "1"},
                    "TxnDate": "2025-03-01",
                    "TotalAmt": 10,
                    "Balance": 10,
                    "DocNumber": str(i),
                    "Line": [],
                    "LinkedTxn": [],
                    "MetaData": meta,
                }
                for i in range(invoices)
            ],
        )


def changed_invoices(store: Store, realm: str, n: int, start: int) -> list[datetime]:
    """``n`` new invoices stamped over the last minute (as a busy company makes them; all in one second
    would be a bulk import, which CDC cannot page): CDC returns each."""
    now = store.clock.now()

    def meta(i: int) -> dict[str, str]:
        t = stamp(now - timedelta(seconds=60 * (n - i) / n))
        return {"CreateTime": t, "LastUpdatedTime": t}

    rows = [
        {
            "Id": str(start + i),
            "SyncToken": "0",
            "CustomerRef": {"value": "1"},
            "TxnDate": "2025-04-01",
            "TotalAmt": 5,
            "Balance": 5,
            "DocNumber": f"N{start + i}",
            "Line": [],
            "LinkedTxn": [],
            "MetaData": meta(i),
        }
        for i in range(n)
    ]
    store.bulk_load(realm, "Invoice", rows)
    return [datetime.fromisoformat(r["MetaData"]["LastUpdatedTime"]) for r in rows]


@contextmanager
def scratch_schema() -> Iterator[str]:
    schema = f"scratch_fleet_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def environment(server: SandboxServer, tmp: Path, cache_url: str, realms: list[str]) -> dict[str, str]:
    """Tokens for ``realms`` (file store, shared by the workers of this machine) and the QBSYNC_* env."""
    store = TokenStore(tmp / "tokens")
    now = server.clock.now()
    for realm in realms:
        issued = server.issue_tokens(realm)
        store.save(
            TokenSet(
                realm_id=realm,
                access_token=issued["access_token"],
                refresh_token=issued["refresh_token"],
                access_expires_at=now + timedelta(hours=1),
                refresh_expires_at=now + timedelta(days=100),
                obtained_at=now,
                environment=server.base_url,
            )
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("QBSYNC_")}
    env.update(
        QBSYNC_ENVIRONMENT=server.base_url,
        QBSYNC_CLIENT_ID=CLIENT_ID,
        QBSYNC_CLIENT_SECRET=CLIENT_SECRET,
        QBSYNC_TOKEN_DIR=str(tmp / "tokens"),
        QBSYNC_CACHE_URL=cache_url,
        QBSYNC_WEBHOOK_VERIFIER=VERIFIER,
        XDG_CONFIG_HOME=str(tmp / "xdg"),
        OAUTHLIB_INSECURE_TRANSPORT="1",
    )
    return env


def qbsync(env: dict[str, str], *args: str, **kw: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "qbsync", "-q", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=kw.pop("stderr", subprocess.DEVNULL),
        **kw,
    )


def pages_committed(engine: sa.Engine, realm: str) -> int:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT full_sync_pages, full_sync_done_at FROM sync_state "
                                    "WHERE realm_id = :r AND entity = 'Customer'"), {"r": realm}).all()
    if not rows:
        return 0
    return 60 if rows[0].full_sync_done_at is not None else len(rows[0].full_sync_pages or [])


def wait_for_workers(engine: sa.Engine, n: int) -> None:
    """Until ``n`` workers have registered with procrastinate (they are then waiting for jobs)."""
    deadline = time.monotonic() + 120
    while True:
        with engine.connect() as conn:
            up = conn.execute(sa.text("SELECT count(*) FROM procrastinate_workers")).scalar_one()
        if up >= n:
            time.sleep(1)  # listening
            return
        if time.monotonic() > deadline:
            raise RuntimeError("the workers did not start")
        time.sleep(0.1)


def set_latency(server: SandboxServer, body: dict[str, Any]) -> None:
    r = requests.post(f"{server.base_url}/_sandbox/latency", json=body, timeout=30)
    r.raise_for_status()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def requests_of(server: SandboxServer, realm: str) -> int:
    return server.request_log.count_path(f"/company/{realm}/")


def sign(body: bytes) -> str:
    return base64.b64encode(hmac.new(VERIFIER.encode(), body, hashlib.sha256).digest()).decode()


def serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen([sys.executable, "-m", "qbsync", "webhooks", "serve", "--port", "0"], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    seen = []
    for raw in proc.stderr:
        line = raw.decode()
        if "listening on " in line:
            # the receiver's log from here on is not read: let it go to a file-less sink
            threading.Thread(target=lambda: [None for _ in proc.stderr or []], daemon=True).start()
            return proc, line.split("listening on ", 1)[1].split(" ", 1)[0]
        seen.append(line)
    raise RuntimeError("webhooks serve did not start: " + "".join(seen[-20:]))


def stop(*procs: subprocess.Popen[bytes]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()


# ---- freshness ----


def freshness(args: argparse.Namespace) -> dict[str, Any]:
    from qbsync.qbo.client import connect
    from qbsync.settings import load_settings

    out: dict[str, Any] = {}
    for backend in ("postgresql", "sqlite"):
        clock = SandboxClock()
        store = Store(clock=clock)
        realms = [realm_id(i) for i in range(5)]
        for r in realms:
            build(store, r, 200, 200)
        with (
            tempfile.TemporaryDirectory() as tmpdir,
            scratch_schema() if backend == "postgresql" else _nullctx(f"sqlite:///{tmpdir}/c.sqlite3") as url,
            SandboxServer(store, clock=clock, latency=LatencyProfile.realistic(seed=3)) as server,
        ):
            tmp = Path(tmpdir)
            env = environment(server, tmp, url, realms)
            for r in realms:  # the first syncs, before any change
                assert (
                    subprocess.run(
                        [sys.executable, "-m", "qbsync", "-q", "sync", "--realm", r],
                        cwd=ROOT,
                        env=env,
                        capture_output=True,
                    ).returncode
                    == 0
                )
            receiver, endpoint = serve(env)
            workers = (
                [qbsync(env, "worker", "--concurrency", "2") for _ in range(2)]
                if backend == "postgresql"
                else []
            )
            store.outbox.register(Endpoint.make(endpoint, VERIFIER, "cloudevents"))
            settings = load_settings(env={k: v for k, v in env.items() if k.startswith("QBSYNC_")})
            clients = {r: connect(settings, r) for r in realms}
            engine = sa.create_engine(url)
            rng = random.Random(5)
            lat: list[float] = []
            try:
                time.sleep(2)  # workers up
                for n in range(args.changes):
                    realm = rng.choice(realms)
                    cid = str(rng.randint(1, 200))
                    cur = clients[realm].read("Customer", cid)
                    email = f"fresh{n}@example.com"
                    t0 = time.monotonic()
                    clients[realm].sparse_update(
                        "Customer",
                        {
                            "Id": cid,
                            "SyncToken": cur["SyncToken"],
                            "sparse": True,
                            "PrimaryEmailAddr": {"Address": email},
                        },
                        request_id=uuid.uuid4().hex,
                    )
                    while True:
                        with engine.connect() as conn:
                            got = conn.execute(
                                sa.text("SELECT email FROM customers WHERE realm_id = :r AND id = :i"),
                                {"r": realm, "i": cid},
                            ).scalar()
                        if got == email:
                            break
                        if time.monotonic() - t0 > 60:
                            raise RuntimeError("a change never reached the cache")
                        time.sleep(0.02)
                    lat.append(time.monotonic() - t0)
                    time.sleep(rng.uniform(0.2, 1.0))
            finally:
                stop(receiver, *workers)
                for c in clients.values():
                    c.close()
                engine.dispose()
        out[backend] = {
            "changes": len(lat),
            "p50_s": round(pct(lat, 50), 2),
            "p95_s": round(pct(lat, 95), 2),
            "max_s": round(max(lat), 2),
            "loadavg": loadavg(),
        }
        print(f"freshness {backend}: {out[backend]}", flush=True)
    return out


@contextmanager
def _nullctx(value: str) -> Iterator[str]:
    yield value


# ---- throughput ----


def throughput(args: argparse.Namespace) -> dict[str, Any]:
    if args.lock:
        renice(19)  # building and the first syncs are not timed
    clock = SandboxClock()
    store = Store(clock=clock)
    n = args.companies
    realms = [realm_id(i) for i in range(n)]
    t = time.monotonic()
    for r in realms:
        build(store, r, 3, 3)
    print(f"built {n} companies in {time.monotonic() - t:.1f} s", flush=True)
    results: dict[str, Any] = {"companies": n, "runs": []}
    with (
        tempfile.TemporaryDirectory() as tmpdir,
        scratch_schema() as url,
        SandboxServer(store, clock=clock) as server,
    ):
        env = environment(server, Path(tmpdir), url, realms)
        engine = open_cache(url)
        fleet = Fleet(engine).open()
        for r in realms:
            fleet.request(SyncRequest(r, reason="manual"))
        t = time.monotonic()
        procs = [qbsync(env, "worker", "--once", "--concurrency", "4") for _ in range(2)]
        for p in procs:
            p.wait()
        print(f"first full syncs of {n} companies: {time.monotonic() - t:.1f} s (no latency)", flush=True)
        set_latency(server, {"profile": "realistic"})
        rng = random.Random(9)
        next_id = 1_000_000
        made: dict[str, list[datetime]] = {r: [] for r in realms}
        # Every round in one hold of the lock (about 2 minutes each at 1,000 companies): preparing a
        # round's changes takes seconds, a wait for the lock between rounds could take many minutes.
        with timed_part(args.lock):
            for workers in args.workers:
                for i, r in enumerate(realms):
                    k = rng.randint(1200, 2600) if i % 50 == 0 else rng.randint(1, 20)
                    made[r] += changed_invoices(store, r, k, next_id)
                    next_id += k
                # CDC reads from 5 minutes before the last cursor (the overlap): the changes it returns
                with engine.connect() as conn:
                    since = {
                        row.realm_id: row.cursor - timedelta(minutes=5)
                        for row in conn.execute(
                            sa.text("SELECT realm_id, min(cursor) AS cursor FROM sync_state "
                                    "GROUP BY realm_id")
                        )
                    }
                changes = {r: sum(1 for t in made[r] if t >= since[r]) for r in realms}
                clock_before = {r: requests_of(server, r) for r in realms}
                # Workers started and idle first: the figure is the fleet's, not Python's start-up.
                # No schedule inside the round: a worker ticks as it starts, and after a long wait for
                # the bench lock every company is past the default 15 minutes, so the tick would queue
                # them all before the round does (and again those already running: realm 0 synced
                # twice, 6 requests for 4 allowed, in one run).
                procs = [qbsync(env, "worker", "--concurrency", str(args.concurrency), "--every", "1d")
                         for _ in range(workers)]
                wait_for_workers(engine, workers)
                load_before = loadavg()
                t = time.monotonic()
                # at once, as the tick queues the schedule's syncs (request_many then refreshes the
                # jobs table's planner statistics, as the tick does)
                fleet.request_many([SyncRequest(r, reason="schedule") for r in realms])
                while fleet.counts():
                    time.sleep(0.05)
                wall = time.monotonic() - t
                load_after = loadavg()
                stop(*procs)
                with engine.connect() as conn:
                    spans = [
                        (r.last_finished_at - r.last_started_at).total_seconds()
                        for r in conn.execute(
                            sa.text(
                                "SELECT last_started_at, last_finished_at FROM fleet_realms "
                                "WHERE last_outcome = 'synced'"
                            )
                        )
                    ]
                bound = max(max(spans), sum(spans) / (workers * args.concurrency))
                reqs = {r: requests_of(server, r) - clock_before[r] for r in realms}
                allowed = {r: 1 + math.ceil(changes[r] / 1000) for r in realms}
                over = [r for r in realms if reqs[r] > allowed[r]]
                run = {
                    "workers": workers,
                    "concurrency": args.concurrency,
                    "wall_s": round(wall, 1),
                    "bound_s": round(bound, 1),
                    "ratio": round(wall / bound, 2),
                    "sum_sync_s": round(sum(spans), 1),
                    "requests": sum(reqs.values()),
                    "requests_allowed": sum(allowed.values()),
                    "companies_over_allowance": len(over),
                    "over": {r: {"requests": reqs[r], "allowed": allowed[r], "changes": changes[r]}
                             for r in over},
                    "most_requests_one_company": max(reqs.values()),
                    "loadavg": [load_before, load_after],
                }
                results["runs"].append(run)
                print(f"throughput: {run}", flush=True)
        fleet.close()
        engine.dispose()
    return results


# ---- faults ----


def faults(args: argparse.Namespace) -> dict[str, Any]:
    from tests.sync.mirror import mirror_diff
    from tests.sync.sandbox_env import snapshot

    out: dict[str, Any] = {}
    clock = SandboxClock()
    store = Store(clock=clock)
    realms = [realm_id(i) for i in range(100)]
    for r in realms:
        build(store, r, 100, 20)
    with (
        tempfile.TemporaryDirectory() as tmpdir,
        scratch_schema() as url,
        SandboxServer(store, clock=clock, latency=LatencyProfile(base=0.02, seed=1)) as server,
    ):
        env = environment(server, Path(tmpdir), url, realms)
        engine = open_cache(url)
        fleet = Fleet(engine).open()
        for r in realms:
            fleet.request(SyncRequest(r, reason="manual"))
        for p in [qbsync(env, "worker", "--once", "--concurrency", "4") for _ in range(2)]:
            p.wait()
        receiver, endpoint = serve(env)
        workers = [qbsync(env, "worker", "--concurrency", "2") for _ in range(2)]
        time.sleep(2)
        store.outbox.register(Endpoint.make(endpoint, VERIFIER, "cloudevents"))
        store.outbox.set_knobs({"delay": 2.0, "batch_size": 100})  # the burst goes out as one
        for k in range(1, 101):
            for r in realms:
                cur = store.get(r, "Customer", str(k))
                assert cur is not None
                cur["PrimaryEmailAddr"] = {"Address": f"burst{k}@{r}.example"}
                store.put(r, "Customer", cur)
        most_waiting = most_running = 0
        deadline = time.monotonic() + 300
        cdc_before = server.request_log.count_path("/cdc")
        while time.monotonic() < deadline:
            counts = fleet.counts()
            most_waiting = max([most_waiting, *(n for (_, s), n in counts.items() if s == "todo")])
            most_running = max([most_running, *(n for (_, s), n in counts.items() if s == "doing")])
            deliveries = store.outbox.deliveries()
            if (
                deliveries
                and all(d["state"] == "delivered" for d in deliveries)
                and not counts
                and sum(len(d["events"]) for d in deliveries) >= 10000
            ):
                break
            time.sleep(0.05)
        deliveries = store.outbox.deliveries()
        answer_ms = [
            float(v)
            for d in deliveries
            for a in d["attempts"]
            for k, v in a.items()
            if "ms" in k and isinstance(v, int | float)
        ]
        diffs = sum(1 for r in realms if mirror_diff(engine, r, snapshot(store, r)))
        out["burst"] = {
            "events": sum(len(d["events"]) for d in deliveries),
            "deliveries": len(deliveries),
            "most_waiting_per_company": most_waiting,
            "most_running_per_company": most_running,
            "cdc_requests": server.request_log.count_path("/cdc") - cdc_before,
            "answer_ms_p50": pct(answer_ms, 50) if answer_ms else None,
            "answer_ms_p95": pct(answer_ms, 95) if answer_ms else None,
            "answer_ms_max": max(answer_ms) if answer_ms else None,
            "companies_differing_from_sandbox": diffs,
            "loadavg": loadavg(),
        }
        print(f"burst: {out['burst']}", flush=True)
        bodies = [d["body"].encode() for d in deliveries]
        random.Random(3).shuffle(bodies)
        cdc_before = server.request_log.count_path("/cdc")
        queued = 0
        for body in bodies:  # every delivery again, shuffled: redelivered and out of order
            r = requests.post(endpoint, data=body, headers={"intuit-signature": sign(body)}, timeout=30)
            queued += r.json()["queued"]
        time.sleep(3)
        out["replay"] = {
            "deliveries": len(bodies),
            "syncs_queued": queued,
            "cdc_requests": server.request_log.count_path("/cdc") - cdc_before,
        }
        print(f"replay: {out['replay']}", flush=True)
        with engine.connect() as conn:
            events_before = conn.execute(sa.text("SELECT count(*) FROM webhook_events")).scalar_one()
        statuses = [
            requests.post(
                endpoint, data=b, headers={"intuit-signature": sign(b + b"x")}, timeout=30
            ).status_code
            for b in bodies
        ]
        with engine.connect() as conn:
            events_after = conn.execute(sa.text("SELECT count(*) FROM webhook_events")).scalar_one()
        out["bad_signatures"] = {
            "deliveries": len(statuses),
            "answered_401": statuses.count(401),
            "events_recorded": events_after - events_before,
            "jobs_waiting": fleet.depth(),
        }
        print(f"bad signatures: {out['bad_signatures']}", flush=True)
        stop(receiver, *workers)
        fleet.close()
        engine.dispose()
    return out


def sigkill(args: argparse.Namespace) -> dict[str, Any]:
    """SIGKILL x10 while one company's first full sync (60 pages of customers, fetched one at a time)
    runs: each worker is killed a moment after it committed a page of its own, so every kill lands
    mid-sync; a last `worker --once` finishes, and the cache is compared with the sandbox."""
    from tests.sync.mirror import mirror_diff
    from tests.sync.sandbox_env import snapshot

    out: dict[str, Any] = {}
    clock = SandboxClock()
    store = Store(clock=clock)
    big = realm_id(500)
    build(store, big, 60000, 0)
    with tempfile.TemporaryDirectory() as tmpdir, scratch_schema() as url, \
            SandboxServer(store, clock=clock) as server:
        env = {**environment(server, Path(tmpdir), url, [big]), "QBSYNC_MAX_CONCURRENT": "1"}
        engine = open_cache(url)
        fleet = Fleet(engine).open()
        set_latency(server, {"base": 0.15})
        fleet.request(SyncRequest(big, reason="manual"))
        rng = random.Random(4)
        kills, lives = 0, []
        for _ in range(10):
            before = pages_committed(engine, big)
            w = qbsync(env, "worker", "--concurrency", "1", "--stall-grace", "0")
            deadline = time.monotonic() + 120
            while pages_committed(engine, big) <= before and w.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.2, 1.0))
            if w.poll() is None and pages_committed(engine, big) < 60:
                os.kill(w.pid, signal.SIGKILL)
                kills += 1
            stop(w)
            lives.append(pages_committed(engine, big) - before)
        queries_before = server.request_log.count_path(f"/company/{big}/query")
        done = subprocess.run(
            [sys.executable, "-m", "qbsync", "-q", "worker", "--once", "--stall-grace", "0"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        with engine.connect() as conn:
            jobs = dict(
                conn.execute(
                    sa.text(
                        "SELECT status::text, count(*) FROM procrastinate_jobs "
                        "WHERE task_name = 'qbsync.sync_realm' AND args->>'realm_id' = :r "
                        "GROUP BY 1"
                    ),
                    {"r": big},
                ).all()
            )
        out["sigkill"] = {
            "kills": kills,
            "final_exit": done.returncode,
            "queries_after_last_kill": server.request_log.count_path(f"/company/{big}/query")
            - queries_before,
            "total_queries": server.request_log.count_path(f"/company/{big}/query"),
            "pages_per_life": lives,
            "differences_from_sandbox": len(mirror_diff(engine, big, snapshot(store, big))),
            "jobs": jobs,
            "loadavg": loadavg(),
        }
        print(f"sigkill: {out['sigkill']}", flush=True)
        fleet.close()
        engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "what", nargs="?", default="all", choices=["freshness", "throughput", "faults", "sigkill", "all"]
    )
    parser.add_argument("--companies", type=int, default=1000)
    parser.add_argument("--workers", default="1,2,4", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--changes", type=int, default=40)
    parser.add_argument("--lock", default=None, metavar="PATH",
                        help="throughput: build and first-sync at nice 19, hold flock PATH at normal "
                             "priority only around each timed round (a shared machine's bench lock)")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "loadavg": loadavg(),
    }
    for what in ("freshness", "throughput", "faults", "sigkill"):
        if args.what in (what, "all"):
            results[what] = globals()[what](args)
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
