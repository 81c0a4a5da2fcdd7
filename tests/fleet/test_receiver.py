"""`webhooks serve`'s endpoint over real HTTP (uvicorn), on both cache backends: signatures checked on
the raw body, every event routed to its own company, durable before 200, idempotent, limits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from qbsync.auth.tokens import TokenStore
from qbsync.cache.schema import open_cache
from qbsync.fleet.inbox import Inbox
from qbsync.fleet.queue import InProcessQueue
from qbsync.fleet.runner import SyncExecutor, SyncRequest
from qbsync.fleet.server import ConnectedRealms, Receiver, WebhookServer, create_app
from qbsync.qbo.client import connect
from qbsync.sandbox.clock import SandboxClock
from qbsync.sandbox.server import SandboxServer
from qbsync.sandbox.store import Store
from tests.fleet.env import (
    VERIFIER,
    body_of,
    build_realm,
    change_customer,
    cloudevent,
    connect_realms,
    legacy,
    sign,
)

A, B, GONE = "4620816365100000001", "4620816365100000002", "4620816365100000999"
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


@dataclass
class Env:
    sandbox: SandboxServer
    engine: sa.Engine
    queue: InProcessQueue
    url: str
    settings: Any

    def post(self, body: bytes, signature: str | None = "sign", **headers: str) -> requests.Response:
        if signature == "sign":
            signature = sign(body)
        if signature is not None:
            headers["intuit-signature"] = signature
        return requests.post(self.url, data=body, headers={"Content-Type": "application/json", **headers},
                             timeout=30)

    def drain(self) -> list[str]:
        return [f"{o.request.realm_id}:{o.status}" for o in self.queue.drain()]

    def rows(self, realm: str) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(
                "SELECT id, email, sync_token, seen_at FROM customers WHERE realm_id = :r ORDER BY id"),
                {"r": realm})]

    def state(self, realm: str) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(
                "SELECT entity, cursor, last_run_at FROM sync_state WHERE realm_id = :r ORDER BY entity"),
                {"r": realm})]

    def events(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM webhook_events")).scalar_one())


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> Iterator[Env]:
    clock = SandboxClock(START)
    store = Store(clock=clock)
    for realm in (A, B):
        build_realm(store, realm)
    with SandboxServer(store, clock=clock) as sandbox:
        settings, _ = connect_realms(sandbox, tmp_path, db_url, [A, B])
        engine = open_cache(db_url)

        def gateway(settings: Any, realm: str, clk: Any) -> Any:
            return connect(settings, realm, clock=clk)

        executor = SyncExecutor(settings, engine, connect=gateway, clock=clock, workers=2)
        queue = InProcessQueue(executor.perform)
        receiver = Receiver(VERIFIER, Inbox(engine), queue,
                            ConnectedRealms(TokenStore(settings.token_dir).realms), clock=clock,
                            max_body=64 * 1024)
        with WebhookServer(create_app(receiver)) as server:
            e = Env(sandbox, engine, queue, server.url + "/webhooks/quickbooks", settings)
            for realm in (A, B):  # both companies mirrored before any webhook
                queue.request(SyncRequest(realm, reason="manual"))
            assert sorted(e.drain()) == [f"{A}:synced", f"{B}:synced"]
            clock.advance(timedelta(minutes=1))
            yield e
        engine.dispose()


def test_an_event_syncs_its_own_company_and_never_touches_another(env: Env) -> None:
    store, clock = env.sandbox.store, env.sandbox.clock
    b_rows, b_state = env.rows(B), env.state(B)
    changed = change_customer(store, A, "5", "new@a.example")  # B has a customer 5 too
    clock.advance(timedelta(seconds=5))
    r = env.post(body_of([cloudevent(A, "Customer", "5", "updated", changed["MetaData"]["LastUpdatedTime"])]))
    assert r.status_code == 200 and r.json()["queued"] == 1
    assert env.queue.depth(A) == 1 and env.queue.depth(B) == 0
    assert env.drain() == [f"{A}:synced"]
    assert dict((row[0], row[1]) for row in env.rows(A))["5"] == "new@a.example"
    assert env.rows(B) == b_rows and env.state(B) == b_state  # not a row, not a bookmark of B moved


def test_one_delivery_mixing_companies_routes_each_event_to_its_company(env: Env) -> None:
    store, clock = env.sandbox.store, env.sandbox.clock
    a = change_customer(store, A, "3", "three@a.example")
    b = change_customer(store, B, "4", "four@b.example")
    clock.advance(timedelta(seconds=5))
    delivery = [cloudevent(A, "Customer", "3", "updated", a["MetaData"]["LastUpdatedTime"]),
                cloudevent(B, "Customer", "4", "updated", b["MetaData"]["LastUpdatedTime"])]
    r = env.post(body_of(delivery))
    assert r.status_code == 200 and r.json()["queued"] == 2
    assert sorted(env.drain()) == [f"{A}:synced", f"{B}:synced"]
    emails_a = dict((row[0], row[1]) for row in env.rows(A))
    emails_b = dict((row[0], row[1]) for row in env.rows(B))
    assert emails_a["3"] == "three@a.example" and emails_b["3"] != "three@a.example"
    assert emails_b["4"] == "four@b.example" and emails_a["4"] != "four@b.example"


def test_a_bad_or_missing_signature_is_401_and_records_nothing(env: Env) -> None:
    body = body_of([cloudevent(A, "Customer", "1", "updated", env.sandbox.clock.now())])
    for signature in (None, "", "bm90IHRoZSBzaWduYXR1cmU=", sign(body + b" "), sign(body, "another-token"),
                      sign(body).lower()):
        assert env.post(body, signature=signature).status_code == 401, signature
    assert env.events() == 0 and env.queue.depth() == 0
    assert env.post(body).status_code == 200 and env.events() == 1  # the same body, signed: accepted


def test_redelivered_and_out_of_order_events_queue_no_sync_once_the_cache_is_current(env: Env) -> None:
    store, clock = env.sandbox.store, env.sandbox.clock
    early = change_customer(store, A, "2", "first@a.example")
    clock.advance(timedelta(seconds=3))
    late = change_customer(store, A, "6", "second@a.example")
    clock.advance(timedelta(seconds=3))
    first = cloudevent(A, "Customer", "2", "updated", early["MetaData"]["LastUpdatedTime"])
    second = cloudevent(A, "Customer", "6", "updated", late["MetaData"]["LastUpdatedTime"])
    first_answer = env.post(body_of([second])).json()  # the later change arrives first
    assert first_answer | {"format": 0} == {
        "format": 0, "events": 1, "new": 1, "duplicates": 0, "dropped": 0, "unreadable": 0, "queued": 1,
        "coalesced": 0}
    assert env.drain() == [f"{A}:synced"]
    requests_before = len(env.sandbox.request_log)
    again = env.post(body_of([second]))  # a redelivery
    assert again.status_code == 200 and again.json() | {"format": 0} == {
        "format": 0, "events": 1, "new": 0, "duplicates": 1, "dropped": 0, "unreadable": 0, "queued": 0,
        "coalesced": 0}
    assert env.post(body_of([first])).json()["queued"] == 0  # out of order: already in the cache
    assert env.queue.depth() == 0 and env.drain() == []
    assert len(env.sandbox.request_log) == requests_before  # not one request to QuickBooks
    assert dict((row[0], row[1]) for row in env.rows(A))["2"] == "first@a.example"


def test_a_burst_for_one_company_coalesces_into_one_queued_sync(env: Env) -> None:
    store, clock = env.sandbox.store, env.sandbox.clock
    events = []
    for i in range(1, 21):
        obj = change_customer(store, A, str(i), f"burst{i}@a.example")
        events.append(cloudevent(A, "Customer", str(i), "updated", obj["MetaData"]["LastUpdatedTime"]))
    clock.advance(timedelta(seconds=5))
    answers = [env.post(body_of(events[i:i + 4])).json() for i in range(0, 20, 4)]
    assert sum(a["queued"] for a in answers) == 1 and sum(a["coalesced"] for a in answers) == 4
    assert env.queue.depth(A) == 1
    assert env.drain() == [f"{A}:synced"]
    assert all(row[1] == f"burst{row[0]}@a.example" for row in env.rows(A))


def test_the_legacy_format_is_accepted(env: Env) -> None:
    store, clock = env.sandbox.store, env.sandbox.clock
    obj = change_customer(store, B, "7", "legacy@b.example")
    clock.advance(timedelta(seconds=5))
    r = env.post(body_of(legacy(B, [("Customer", "7", "Update", obj["MetaData"]["LastUpdatedTime"])])))
    assert r.status_code == 200 and r.json()["format"] == "legacy" and r.json()["queued"] == 1
    assert env.drain() == [f"{B}:synced"]
    assert dict((row[0], row[1]) for row in env.rows(B))["7"] == "legacy@b.example"


def test_events_of_companies_not_connected_are_dropped_and_not_recorded(env: Env) -> None:
    now = env.sandbox.clock.now()
    r = env.post(body_of([cloudevent(GONE, "Customer", "1", "updated", now),
                          cloudevent(A, "Vendor", "9", "created", now)]))
    assert r.status_code == 200 and r.json()["dropped"] == 1
    assert env.events() == 1  # the connected company's event is kept...
    assert env.queue.depth() == 0  # ...but Vendor is not mirrored: nothing to sync


def test_limits_and_bad_bodies(env: Env) -> None:
    big = b"[" + b" " * (64 * 1024) + b"]"
    assert env.post(big).status_code == 413
    assert env.post(b"not json").status_code == 400
    assert env.post(body_of({"hello": "world"})).status_code == 400
    assert env.events() == 0
    health = requests.get(env.url.replace("/webhooks/quickbooks", "/healthz"), timeout=10)
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert json.loads(env.post(body_of([{"specversion": "1.0"}])).text)["unreadable"] == 1
