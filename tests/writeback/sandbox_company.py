"""A small sandbox company reached through the real QuickBooks client, for write-back integration tests.

Tokens are issued by the sandbox without a browser and saved under ``tmp`` (``connect_settings``); the
client gets an injected sleeper so its retry and 429 waits run on virtual time (recorded in
``waits``). Setup writes (customers, sales, edits) go through the same client's raw ``request``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from qbsync.cache.schema import open_cache
from qbsync.qbo.client import QboClient, connect
from qbsync.sandbox.clock import SandboxClock
from qbsync.sandbox.server import SandboxServer
from qbsync.sandbox.store import Store
from qbsync.settings import Settings
from qbsync.sync.runner import run_sync
from tests.sync.sandbox_env import connect_settings

REALM = "9130"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
AS_OF = date(2026, 11, 23)
#: retries per request in these tests: small, so "a fault that outlives the retries" is three in a row
MAX_ATTEMPTS = 3

SERVICES = {"Id": "1", "SyncToken": "0", "Name": "Services", "Active": True, "Type": "Service",
            "FullyQualifiedName": "Services", "domain": "QBO", "sparse": False}


@contextmanager
def sandbox_server(clock: SandboxClock | None = None) -> Iterator[SandboxServer]:
    """A sandbox holding an empty company with one service item."""
    clock = clock or SandboxClock(T0)
    store = Store(clock=clock)
    store.create_realm(REALM, company_info={"CompanyName": "Write-back Test Co", "Country": "US"})
    store.bulk_load(REALM, "Item", [dict(SERVICES)])
    with SandboxServer(store, clock=clock) as server:
        yield server


@dataclass
class Company:
    """The sandbox, settings aimed at it and the real client; helpers to write behind the plan's back."""

    server: SandboxServer
    settings: Settings
    env: dict[str, str]  # QBSYNC_* variables that aim a `qbsync` command at it
    client: QboClient
    waits: list[float] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)

    def customer(self, cid: str) -> dict[str, Any]:
        row = self.server.store.get(REALM, "Customer", cid)
        assert row is not None
        return dict(row)

    def active(self) -> dict[str, bool]:
        return {name: bool(self.customer(cid)["Active"]) for name, cid in self.ids.items()}

    def tokens(self) -> dict[str, int]:
        return {name: int(self.customer(cid)["SyncToken"]) for name, cid in self.ids.items()}

    def create(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        doc = self.client.request("create", "POST", entity.lower(), body=body)
        return dict(doc[entity])

    def add(self, name: str, parent: str | None = None) -> str:
        body: dict[str, Any] = {"DisplayName": name}
        if parent:
            body.update(ParentRef={"value": self.ids[parent]}, Job=True)
        self.ids[name] = str(self.create("Customer", body)["Id"])
        return self.ids[name]

    def sale(self, name: str, when: date, entity: str = "SalesReceipt", amount: float = 120.0) -> None:
        line = {"Amount": amount, "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1, "UnitPrice": amount}}
        self.create(entity, {"CustomerRef": {"value": self.ids[name]}, "TxnDate": when.isoformat(),
                             "Line": [line]})

    def edit(self, name: str, **fields: Any) -> None:
        row = self.customer(self.ids[name])
        body = {"Id": row["Id"], "SyncToken": row["SyncToken"], "sparse": True, **fields}
        self.client.sparse_update("Customer", body, f"edit-{row['Id']}-{row['SyncToken']}")

    def sync(self, cache_url: str) -> sa.Engine:
        """Mirror the company into the cache at ``cache_url`` (opened, i.e. migrated, like the CLI does)."""
        engine = open_cache(cache_url)
        run_sync(engine, self.client, REALM, clock=self.server.clock, workers=2)
        return engine


@contextmanager
def company(tmp: Path, cache_url: str, clock: SandboxClock | None = None) -> Iterator[Company]:
    with sandbox_server(clock) as server:
        conn = connect_settings(server, tmp, cache_url, REALM, max_attempts=MAX_ATTEMPTS,
                                throttle_wait_seconds=5.0, backoff_initial_seconds=0.5,
                                backoff_max_seconds=2.0)
        env = {k: v for k, v in conn.env.items() if k.startswith("QBSYNC_")}
        waits: list[float] = []
        client = connect(conn.settings, REALM, clock=server.clock, sleep=waits.append)
        try:
            yield Company(server, conn.settings, env, client, waits)
        finally:
            client.close()


def fill(c: Company) -> None:
    """Two long-quiet customers, a recent one, one owing money and a quiet parent with a quiet job."""
    c.add("Old Alder")
    c.sale("Old Alder", date(2024, 1, 10))
    c.add("Old Birch")
    c.sale("Old Birch", date(2024, 3, 5))
    c.add("Recent Cedar")
    c.sale("Recent Cedar", date(2026, 10, 1))
    c.add("Owes Dogwood")
    c.sale("Owes Dogwood", date(2023, 5, 1), entity="Invoice")  # unpaid: open balance
    c.add("Elm Holdings")
    c.add("Elm Site 1", parent="Elm Holdings")
    c.sale("Elm Site 1", date(2024, 2, 1))
    c.sale("Elm Holdings", date(2024, 2, 2))


#: what the inactive rule should propose for ``fill``'s company
TO_DEACTIVATE = {"Old Alder", "Old Birch", "Elm Holdings", "Elm Site 1"}
