"""The real OAuth flow, token rotation, expiry, 401 recovery and throttling against the sandbox over HTTP."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from qbsync.auth.tokens import TokenStore
from qbsync.clock import FixedClock
from qbsync.errors import AuthError, ReauthorizeError
from qbsync.qbo import connection
from qbsync.qbo.client import QboClient, connect
from qbsync.qbo.limiter import RateLimiter
from qbsync.settings import Settings, load_settings

sandbox_server = pytest.importorskip("qbsync.sandbox.server")
from qbsync.sandbox.clock import SandboxClock  # noqa: E402
from qbsync.sandbox.knobs import FaultPlan  # noqa: E402
from qbsync.sandbox.store import Store  # noqa: E402

REALM = "9341453050000042"
T0 = datetime(2026, 2, 2, 15, 0, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _company(store: Store) -> None:
    store.create_realm(REALM, company_info={"CompanyName": "Larkspur Gardens", "Country": "US"})
    meta = {"CreateTime": "2026-01-05T09:00:00-08:00", "LastUpdatedTime": "2026-01-05T09:00:00-08:00"}
    rows = [{"Id": str(i), "SyncToken": "0", "DisplayName": f"Customer {i}",
             "FullyQualifiedName": f"Customer {i}", "PrintOnCheckName": f"Customer {i}", "Active": i != 7,
             "Job": False, "BillWithParent": False,
             "Balance": 0, "BalanceWithJobs": 0, "domain": "QBO", "sparse": False, "MetaData": meta}
            for i in range(1, 13)]
    store.bulk_load(REALM, "Customer", rows)


@pytest.fixture
def sclock() -> SandboxClock:
    return SandboxClock(T0)


@pytest.fixture
def server(sclock: SandboxClock) -> Iterator[Any]:
    store = Store(clock=sclock)
    _company(store)
    with sandbox_server.SandboxServer(store, clock=sclock, client_id="qbsync-test",
                                      client_secret="test-secret-value") as srv:
        yield srv


@pytest.fixture
def settings(server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    return load_settings({"environment": server.base_url, "client_id": server.client_id,
                          "client_secret": server.client_secret, "token_dir": str(tmp_path / "tokens"),
                          "redirect_uri": f"http://localhost:{_free_port()}/callback"}, env={})


def _approve(url: str) -> str:
    """What the user's browser does: sign in (the sandbox approves at once) and get redirected."""
    resp = requests.get(url, allow_redirects=False, timeout=10)
    assert resp.status_code == 302
    return str(resp.headers["Location"])


def _login(settings: Settings, sclock: SandboxClock) -> None:
    shown: list[str] = []
    connection.login(settings, show=shown.append, paste=lambda: _approve(shown[0]), open_browser=False,
                     clock=sclock)


def _sandbox_time_limiter(sclock: SandboxClock, per_minute: int = 500) -> RateLimiter:
    """A limiter living on the sandbox clock: its waits (incl. 429 pauses) never sleep for real."""
    return RateLimiter(per_minute, 10, per_second=None, monotonic=lambda: sclock.now().timestamp(),
                       sleep=lambda s: sclock.advance(timedelta(seconds=s)))


def _client(settings: Settings, clock: Any, **kw: Any) -> QboClient:
    return connect(settings, REALM, clock=clock, **kw)


def test_headless_login_stores_tokens_and_company_name(settings: Settings, sclock: SandboxClock) -> None:
    shown: list[str] = []
    tokens = connection.login(settings, show=shown.append, paste=lambda: _approve(shown[0]),
                              open_browser=False, clock=sclock)
    assert tokens.realm_id == REALM and tokens.company_name == "Larkspur Gardens"
    assert tokens.refresh_hard_expires_at is not None
    rows = connection.status(settings, clock=sclock)
    assert rows[0]["company_name"] == "Larkspur Gardens" and rows[0]["refresh_valid"] is True
    assert "access_token" not in json.dumps(rows)


def test_login_through_the_one_shot_listener(settings: Settings, sclock: SandboxClock) -> None:
    def browser(url: str) -> None:
        # follows the 302 to our listener, like a browser would
        threading.Thread(target=requests.get, args=(url,), kwargs={"timeout": 10}, daemon=True).start()

    tokens = connection.login(settings, show=browser, open_browser=False, timeout=30, clock=sclock)
    assert tokens.company_name == "Larkspur Gardens"


def test_a_redirect_with_the_wrong_state_is_refused(settings: Settings) -> None:
    shown: list[str] = []

    def forged() -> str:
        return _approve(shown[0]).replace("state=", "state=x")

    with pytest.raises(AuthError, match="state"):
        connection.login(settings, show=shown.append, paste=forged, open_browser=False)
    assert TokenStore(settings.token_dir).realms() == []


def test_tokens_rotate_over_many_refreshes(settings: Settings, sclock: SandboxClock) -> None:
    _login(settings, sclock)
    store = TokenStore(settings.token_dir)
    client = _client(settings, sclock)
    seen = set()
    for _ in range(25):
        sclock.advance(timedelta(minutes=57))  # inside the 5-minute skew: refresh before the request
        assert client.count("Customer") == 11
        tokens = store.load(REALM)
        assert tokens is not None
        seen.add(tokens.refresh_token)
    assert client.tokens.refreshes == 25 and len(seen) == 25


def test_expiry_between_runs_then_reauthorize_after_100_days(settings: Settings,
                                                             sclock: SandboxClock) -> None:
    _login(settings, sclock)
    sclock.advance(timedelta(hours=5))
    assert _client(settings, sclock).count("Customer") == 11  # a fresh "process" refreshes first
    sclock.advance(timedelta(days=101))
    with pytest.raises(ReauthorizeError, match="qbsync auth login"):
        _client(settings, sclock).count("Customer")


def test_401_is_refreshed_once_and_retried(settings: Settings, sclock: SandboxClock, server: Any) -> None:
    _login(settings, sclock)
    lagging = FixedClock(sclock.now())  # our clock thinks the token is fresh; the server knows better
    sclock.advance(timedelta(hours=2))
    client = _client(settings, lagging)
    assert client.count("Customer") == 11
    assert client.tokens.refreshes == 1
    assert server.request_log.count_path("/v3/", 401) == 1


def test_throttling_is_honoured_when_the_server_is_stricter(settings: Settings, sclock: SandboxClock,
                                                            server: Any) -> None:
    _login(settings, sclock)
    server.limits.per_minute = 5
    sleeps: list[float] = []

    def sleep(s: float) -> None:  # waiting moves the sandbox's clock, never the wall clock
        sleeps.append(s)
        sclock.advance(timedelta(seconds=s))

    client = _client(settings, sclock, sleep=sleep, limiter=_sandbox_time_limiter(sclock))
    for _ in range(12):
        assert client.count("Customer") == 11
    assert client.stats.throttled >= 2
    assert all(s >= 60 for s in sleeps)  # the XML 429 carries no Retry-After: Intuit's 60 s


def test_our_limiter_keeps_us_under_the_limit(settings: Settings, sclock: SandboxClock, server: Any) -> None:
    _login(settings, sclock)
    sclock.advance(timedelta(seconds=61))  # the login's own CompanyInfo read used another limiter
    server.limits.per_minute = 5

    client = _client(settings, sclock, sleep=lambda s: sclock.advance(timedelta(seconds=s)),
                     limiter=_sandbox_time_limiter(sclock, per_minute=5))
    for _ in range(12):
        client.count("Customer")
    assert client.stats.throttled == 0
    assert server.request_log.count_path("/v3/", 429) == 0


def test_every_request_tells_the_limiter_when_it_left(settings: Settings, sclock: SandboxClock,
                                                     server: Any) -> None:
    # The limiter counts a request from when its bytes were written (see RateLimiter.sent), through
    # the connection class the client installs under requests; over http here, https in production.
    _login(settings, sclock)
    limiter = _sandbox_time_limiter(sclock)
    marked: list[float] = []
    real_sent = limiter.sent

    def sent(start: Any) -> None:
        marked.append(start.t)
        real_sent(start)

    limiter.sent = sent  # type: ignore[method-assign]
    client = _client(settings, sclock, sleep=lambda s: sclock.advance(timedelta(seconds=s)), limiter=limiter)
    for _ in range(3):
        client.count("Customer")
    client.query("SELECT * FROM Customer")
    assert len(marked) == client.stats.requests == 4
    from qbsync.qbo import client as client_module

    assert client_module._MarkingHTTPSConnection.request is not None  # the https twin is installed too
    assert client._qb.session.get_adapter("https://quickbooks.api.intuit.com/").poolmanager \
        .pool_classes_by_scheme["https"] is client_module._MarkingHTTPSPool


def test_injected_faults_are_survived(settings: Settings, sclock: SandboxClock, server: Any) -> None:
    _login(settings, sclock)
    server.faults = FaultPlan(script={1: "503", 2: "drop", 3: "truncate", 4: "500", 6: "429"})
    client = _client(settings, sclock, sleep=lambda s: sclock.advance(timedelta(seconds=s)),
                     limiter=_sandbox_time_limiter(sclock))
    assert client.count("Customer") == 11
    assert client.count("Customer") == 11
    assert client.stats.retries == 5


def test_customers_by_id_and_an_idempotent_sparse_update(settings: Settings, sclock: SandboxClock) -> None:
    _login(settings, sclock)
    client = _client(settings, sclock)
    got = client.customers_by_id(["7", "3", "99"])
    assert sorted(c["Id"] for c in got) == ["3", "7"]
    body = {"Id": "3", "SyncToken": "0", "sparse": True, "Active": False}
    first = client.sparse_update("Customer", body, "deactivate-3-0")
    again = client.sparse_update("Customer", body, "deactivate-3-0")  # a retried write: same answer
    assert first["SyncToken"] == again["SyncToken"] == "1" and first["Active"] is False


def test_logout_revokes_at_the_server(settings: Settings, sclock: SandboxClock) -> None:
    _login(settings, sclock)
    tokens = TokenStore(settings.token_dir).load(REALM)
    assert tokens is not None
    realm, revoked = connection.logout(settings)
    assert (realm, revoked) == (REALM, True)
    assert TokenStore(settings.token_dir).realms() == []
    resp = requests.post(f"{settings.environment}/oauth2/v1/tokens/bearer", timeout=10,
                         auth=(settings.client_id or "", settings.client_secret or ""),
                         data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token})
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


def test_threads_share_the_realm_budget_and_one_refresh(settings: Settings, sclock: SandboxClock,
                                                       server: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    _login(settings, sclock)
    sclock.advance(timedelta(minutes=58))  # every thread will find the token about to expire
    server.limits.concurrent = 10
    client = _client(settings, sclock, limiter=_sandbox_time_limiter(sclock))
    with ThreadPoolExecutor(max_workers=16) as pool:
        counts = list(pool.map(lambda _: client.count("Customer"), range(48)))
    assert counts == [11] * 48
    assert client.tokens.refreshes == 1
    assert client.stats.throttled == 0 and client.limiter.peak_in_flight <= 10
