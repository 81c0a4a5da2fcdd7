"""Benchmark of write-back: requests and wall time for N deactivations, batched vs naive, on the sandbox.

Batched = ``apply_plan`` (per chunk of 30: one batch re-read, one batch of sparse updates), through
the real client. Naive = the same client reading each customer then sending one sparse update each,
on a second, identical company in the same process. The sandbox runs in-process without throttling
and the client's limiter is lifted, so the figures are the work itself; what Intuit's 500
requests/minute would make of each request count is printed beside them.

Usage: python bench/bench_writeback.py [--customers 600] [--latency none|realistic]
                                       [--cache sqlite|postgresql] [--skip-naive]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")

import sqlalchemy as sa

from qbsync.auth.tokens import TokenSet, TokenStore
from qbsync.cache.db import session_factory
from qbsync.cache.schema import open_cache
from qbsync.clock import FixedClock
from qbsync.qbo.client import QboClient, connect
from qbsync.qbo.limiter import RateLimiter
from qbsync.rules.findings import Finding
from qbsync.sandbox.clock import SandboxClock
from qbsync.sandbox.knobs import LatencyProfile, ThrottleLimits
from qbsync.sandbox.server import SandboxServer
from qbsync.sandbox.store import Store
from qbsync.settings import load_settings
from qbsync.sync.runner import run_sync
from qbsync.writeback.apply import apply_plan
from qbsync.writeback.plan import build_plan

REALM = "9130000000000001"
PG_URL = os.environ.get("QBSYNC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
INTUIT_PER_MINUTE = 500


def _customers(n: int) -> list[dict[str, Any]]:
    meta = {"CreateTime": "2023-01-05T09:00:00-08:00", "LastUpdatedTime": "2023-01-05T09:00:00-08:00"}
    return [{"Id": str(i), "SyncToken": "0", "DisplayName": f"Quiet Customer {i:05d}",
             "FullyQualifiedName": f"Quiet Customer {i:05d}", "PrintOnCheckName": f"Quiet Customer {i:05d}",
             "Active": True, "Job": False, "BillWithParent": False, "Balance": 0, "BalanceWithJobs": 0,
             "domain": "QBO", "sparse": False, "MetaData": meta} for i in range(1, n + 1)]


def _server(n: int, latency: str) -> SandboxServer:
    clock = SandboxClock()
    store = Store(clock=clock)
    store.create_realm(REALM, company_info={"CompanyName": "Write-back Bench Co", "Country": "US"})
    store.bulk_load(REALM, "Customer", _customers(n))
    profile = LatencyProfile.realistic(seed=7) if latency == "realistic" else LatencyProfile.none()
    return SandboxServer(store, clock=clock, latency=profile,
                         limits=ThrottleLimits(per_minute=None, concurrent=None))


def _client(server: SandboxServer, tmp: Path) -> QboClient:
    issued = server.issue_tokens(REALM)
    now = datetime.now(UTC)
    token_dir = tmp / f"tokens-{uuid.uuid4().hex[:6]}"
    TokenStore(str(token_dir)).save(TokenSet(
        realm_id=REALM, access_token=issued["access_token"], refresh_token=issued["refresh_token"],
        access_expires_at=now + timedelta(hours=1), refresh_expires_at=now + timedelta(days=100),
        obtained_at=now, environment=server.base_url))
    settings = load_settings(overrides={"environment": server.base_url, "client_id": server.client_id,
                                        "client_secret": server.client_secret, "realm": REALM,
                                        "token_dir": str(token_dir)}, env={}, config_path=None)
    return connect(settings, REALM, limiter=RateLimiter(10**6, 10, per_second=None))


def _cache_url(kind: str, tmp: Path) -> tuple[str, sa.Engine | None, str | None]:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'cache.sqlite3'}", None, None
    schema = f"bench_wb_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    return f"{PG_URL}?options=-csearch_path%3D{schema}", admin, schema


def batched(n: int, latency: str, cache: str, tmp: Path) -> dict[str, Any]:
    url, admin, schema = _cache_url(cache, tmp)
    with _server(n, latency) as server:
        client = _client(server, tmp)
        engine = open_cache(url)
        try:
            run_sync(engine, client, REALM, entities=["Customer"])
            as_of = date.today()
            findings = [Finding(realm_id=REALM, customer_id=c["Id"], display_name=c["DisplayName"],
                                rule="inactive", action="deactivate", reason="bench", facts={},
                                sync_token="0", active=True) for c in _customers(n)]
            clock = FixedClock(datetime.now(UTC))
            with session_factory(engine)() as session:
                plan = build_plan(session, clock, REALM, "inactive", as_of, findings)
                before = client.stats.requests
                t = time.perf_counter()
                report = apply_plan(session, client, clock, plan.plan.id, dry_run=False)
                wall = time.perf_counter() - t
            counts = report.counts()
            rows = [server.store.get(REALM, "Customer", str(i)) for i in range(1, n + 1)]
            return {"requests": client.stats.requests - before, "wall": wall,
                    "applied": counts.get("applied", 0), "inactive": sum(1 for r in rows if not r["Active"])}
        finally:
            client.close()
            engine.dispose()
            if admin is not None:
                with admin.begin() as conn:
                    conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                admin.dispose()


def naive(n: int, latency: str, tmp: Path) -> dict[str, Any]:
    with _server(n, latency) as server:
        client = _client(server, tmp)
        try:
            before = client.stats.requests
            t = time.perf_counter()
            for i in range(1, n + 1):
                row = client.read("Customer", str(i))
                body = {"Id": row["Id"], "SyncToken": row["SyncToken"], "sparse": True, "Active": False}
                client.sparse_update("Customer", body, f"naive-{i}")
            wall = time.perf_counter() - t
            return {"requests": client.stats.requests - before, "wall": wall, "applied": n}
        finally:
            client.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=600)
    ap.add_argument("--latency", choices=["none", "realistic"], default="none")
    ap.add_argument("--cache", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--skip-naive", action="store_true")
    args = ap.parse_args()
    print(f"{datetime.now(UTC):%Y-%m-%d} {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}; {args.customers} deactivations, latency {args.latency}, "
          f"cache {args.cache}", flush=True)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        b = batched(args.customers, args.latency, args.cache, tmp)
        floor = b["requests"] / INTUIT_PER_MINUTE * 60
        print(f"batched: {b['requests']} requests, {b['wall']:.2f} s, {b['applied']} applied, "
              f"{b['inactive']} inactive in QuickBooks "
              f"(at 500/min: >= {floor:.1f} s)", flush=True)
        if not args.skip_naive:
            nv = naive(args.customers, args.latency, tmp)
            nfloor = nv["requests"] / INTUIT_PER_MINUTE * 60
            print(f"naive:   {nv['requests']} requests, {nv['wall']:.2f} s, {nv['applied']} applied "
                  f"(at 500/min: >= {nfloor:.1f} s)")
            print(f"naive / batched: requests x{nv['requests'] / b['requests']:.1f}, "
                  f"wall x{nv['wall'] / b['wall']:.1f}")


if __name__ == "__main__":
    main()
