"""Real HTTP from the sandbox's webhook sender (Intuit's side: signed, batched, mixing companies,
duplicated and reordered on purpose) to `webhooks serve`'s endpoint, on both queues: every company's
cache ends identical to the sandbox, and once it is current, late duplicates cost no sync."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

pytest.importorskip("starlette")
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
from qbsync.sandbox.webhooks import Endpoint
from tests.conftest import PG_AVAILABLE, pg_schema_url
from tests.fleet.env import VERIFIER, build_realm, connect_realms
from tests.sync.mirror import mirror_diff
from tests.sync.sandbox_env import mutate, snapshot

REALMS = ["4620816365200000001", "4620816365200000002", "4620816365200000003"]


@dataclass
class Rig:
    sandbox: SandboxServer
    engine: sa.Engine
    run: Any  # () -> None: run every queued sync
    url: str

    @property
    def clock(self) -> SandboxClock:
        return self.sandbox.clock

    def deliver(self) -> None:
        """Let the sandbox send everything due, then run the syncs it queued."""
        self.clock.advance(timedelta(seconds=3))
        self.sandbox.webhooks.wait_idle()
        self.run()

    def cdc_requests(self) -> int:
        return self.sandbox.request_log.count_path("/cdc")

    def diffs(self) -> dict[str, list[str]]:
        return {r: d for r in REALMS if (d := mirror_diff(self.engine, r, snapshot(self.sandbox.store, r)))}


@pytest.fixture(params=["inprocess", "postgres"])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    if request.param == "postgres" and not PG_AVAILABLE:
        pytest.skip("the fleet's queue needs PostgreSQL")
    clock = SandboxClock(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2))
    store = Store(clock=clock)
    for realm in REALMS:
        build_realm(store, realm, customers=40, invoices=60)
    sqlite = contextlib.nullcontext(f"sqlite:///{tmp_path / 'cache.sqlite3'}")
    with (pg_schema_url() if request.param == "postgres" else sqlite) as url, \
            SandboxServer(store, clock=clock) as sandbox:
        settings, _ = connect_realms(sandbox, tmp_path, url, REALMS)
        engine = open_cache(url)
        executor = SyncExecutor(settings, engine, connect=lambda s, r, c: connect(s, r, clock=c), clock=clock,
                                workers=2)
        tokens = TokenStore(settings.token_dir)
        if request.param == "postgres":
            from qbsync.fleet.jobs import Fleet, FleetOptions

            fleet = Fleet(engine, executor=executor, connected=tokens.realms, clock=clock,
                          options=FleetOptions(stall_grace=timedelta(0))).open()
            queue: Any = fleet

            def run() -> None:
                fleet.run_worker(once=True, install_signal_handlers=False)
        else:
            fleet = None
            queue = InProcessQueue(executor.perform)

            def run() -> None:
                queue.drain()
        receiver = Receiver(VERIFIER, Inbox(engine), queue, ConnectedRealms(tokens.realms), clock=clock)
        with WebhookServer(create_app(receiver)) as server:
            rig = Rig(sandbox, engine, run, server.url + "/webhooks/quickbooks")
            for realm in REALMS:
                queue.request(SyncRequest(realm, reason="manual"))
            run()
            assert rig.diffs() == {}
            yield rig
        if fleet is not None:
            fleet.close()
        engine.dispose()


@pytest.mark.slow
def test_the_sandbox_sender_keeps_every_company_identical(rig: Rig) -> None:
    store = rig.sandbox.store
    store.outbox.register(Endpoint.make(rig.url, VERIFIER, "cloudevents"))
    store.outbox.set_knobs({"batch_size": 7, "duplicate_rate": 0.3, "reorder_rate": 0.3, "seed": 4})
    rng = random.Random(11)
    for _ in range(3):
        for realm in REALMS:
            mutate(store, rng, n=12, realm=realm)
        rig.deliver()
        assert rig.diffs() == {}
    merged = requests.post(f"{rig.sandbox.base_url}/_sandbox/realms/{REALMS[1]}/Customer/merge",
                           json={"from": "7", "into": "8"}, timeout=30)
    assert merged.status_code == 200, merged.text
    rig.deliver()
    assert rig.diffs() == {}
    before = rig.cdc_requests()
    for _ in range(3):  # late duplicates and held-back events: the caches are current already
        rig.deliver()
    assert rig.cdc_requests() == before
    states = {d["state"] for d in store.outbox.deliveries()}
    assert states == {"delivered"}


def test_deliveries_signed_with_another_token_are_refused_and_change_nothing(rig: Rig) -> None:
    store = rig.sandbox.store
    store.outbox.register(Endpoint.make(rig.url, "not-our-verifier-token", "legacy"))
    store.outbox.set_knobs({"max_attempts": 1})
    mutate(store, random.Random(2), n=5, realm=REALMS[0])
    before = rig.cdc_requests()
    rig.deliver()
    attempts = [a for d in store.outbox.deliveries() for a in d["attempts"]]
    assert attempts and all(a.get("status") == 401 for a in attempts), attempts
    with rig.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM webhook_events")).scalar_one() == 0
    assert rig.cdc_requests() == before
