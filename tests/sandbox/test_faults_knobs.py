"""Limits and knobs: throttling (rate and concurrency), seeded random faults, drops, truncation, hooks."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import requests

from qbsync.sandbox.clock import SandboxClock
from qbsync.sandbox.knobs import FaultPlan, LatencyProfile, ThrottleLimits
from qbsync.sandbox.server import SandboxServer
from qbsync.sandbox.store import Store

from .conftest import REALM


def _session(srv: SandboxServer) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {srv.issue_tokens(REALM)['access_token']}"
    s.headers["Accept"] = "application/json"
    return s


def _get(srv: SandboxServer, s: requests.Session) -> requests.Response:
    return s.get(f"{srv.api_url_v3}/company/{REALM}/customer/1", timeout=10)


def test_rate_limit_gives_xml_429_until_the_window_moves(store: Store, clock: SandboxClock) -> None:
    with SandboxServer(store, clock=clock, limits=ThrottleLimits(per_minute=3)) as srv:
        s = _session(srv)
        assert [_get(srv, s).status_code for _ in range(4)] == [200, 200, 200, 429]
        resp = _get(srv, s)
        assert resp.headers["Content-Type"].startswith("application/xml")
        assert "ThrottleExceeded" in resp.text and 'code="3001"' in resp.text
        assert "Intuit-Tid" in resp.headers
        clock.advance(timedelta(seconds=61))
        assert _get(srv, s).status_code == 200
        assert srv.request_log.count_path("/v3/", 429) == 2


def test_concurrency_limit(store: Store, clock: SandboxClock) -> None:
    gate = threading.Event()
    entered = threading.Semaphore(0)
    with SandboxServer(store, clock=clock, limits=ThrottleLimits(per_minute=None, concurrent=2)) as srv:

        def hold(_store: object, _clock: object, n: int) -> None:
            if n <= 2:
                entered.release()
                gate.wait(10)

        srv.on_request(hold)
        results: list[int] = []
        threads = [
            threading.Thread(target=lambda: results.append(_get(srv, _session(srv)).status_code))
            for _ in range(2)
        ]
        for t in threads:
            t.start()
        assert entered.acquire(timeout=10) and entered.acquire(timeout=10)
        assert _get(srv, _session(srv)).status_code == 429
        gate.set()
        for t in threads:
            t.join(10)
        assert results == [200, 200]


def test_seeded_faults_repeat(store: Store, clock: SandboxClock) -> None:
    def run() -> list[int]:
        plan = FaultPlan(rate_500=0.2, rate_503=0.2, rate_429=0.1, seed=42)
        with SandboxServer(store, clock=clock, faults=plan, limits=ThrottleLimits(None, None)) as srv:
            s = _session(srv)
            return [_get(srv, s).status_code for _ in range(30)]

    first, second = run(), run()
    assert first == second
    assert {500, 503, 429, 200} <= set(first)


def test_server_error_envelope(store: Store, clock: SandboxClock) -> None:
    with SandboxServer(store, clock=clock, faults=FaultPlan(script={1: "503"})) as srv:
        resp = _get(srv, _session(srv))
        assert resp.status_code == 503
        assert resp.json()["Fault"]["type"] == "SystemFault"


def test_dropped_connection_and_truncated_body(store: Store, clock: SandboxClock) -> None:
    with SandboxServer(store, clock=clock, faults=FaultPlan(script={1: "drop", 2: "truncate"})) as srv:
        s = _session(srv)
        with pytest.raises(requests.ConnectionError):
            _get(srv, s)
        with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
            _get(srv, _session(srv))
        assert _get(srv, _session(srv)).status_code == 200


def test_hook_changes_data_behind_the_clients_back(store: Store, clock: SandboxClock) -> None:
    with SandboxServer(store, clock=clock) as srv:

        def rename(st: Store, _clock: SandboxClock, n: int) -> None:
            cust = st.get(REALM, "Customer", "1")
            assert cust is not None
            st.put(REALM, "Customer", {**cust, "Notes": f"changed at request {n}"})

        srv.on_request(rename, every=2)
        s = _session(srv)
        first = _get(srv, s).json()["Customer"]
        second = _get(srv, s).json()["Customer"]
        assert "Notes" not in first
        assert second["Notes"] == "changed at request 2" and second["SyncToken"] == "1"


def test_admin_endpoints_move_clock_and_change_data(store: Store, clock: SandboxClock) -> None:
    with SandboxServer(store, clock=clock) as srv:
        before = clock.now()
        requests.post(f"{srv.base_url}/_sandbox/clock", json={"advance_seconds": 3600}, timeout=10)
        assert clock.now() - before == timedelta(hours=1)
        resp = requests.post(
            f"{srv.base_url}/_sandbox/realms/{REALM}/Customer",
            json={"DisplayName": "Made In The UI"},
            timeout=10,
        )
        new_id = resp.json()["Id"]
        assert store.get(REALM, "Customer", new_id) is not None
        stats = requests.get(f"{srv.base_url}/_sandbox/stats", timeout=10).json()
        assert stats["requests"] >= 2


def test_latency_profile_is_seeded() -> None:
    a, b = LatencyProfile.realistic(seed=7), LatencyProfile.realistic(seed=7)
    draws_a = [a.delay(1000) for _ in range(20)]
    assert draws_a == [b.delay(1000) for _ in range(20)]
    assert all(server >= 0.25 for server, _ in draws_a)  # 1,000 rows cost at least 0.25 s
