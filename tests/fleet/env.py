"""Sandbox companies, connections and signed deliveries for the fleet's tests (built from Intuit's
published payload examples, signed here with hmac: not with qbsync's own signer)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qbsync.settings import Settings
from tests.sync.sandbox_env import connect_companies

if TYPE_CHECKING:
    from qbsync.sandbox.server import SandboxServer

VERIFIER = "c2a0f2a7-verifier-token-for-tests"


def stamp(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds")


def build_realm(store: Any, realm: str, *, customers: int = 20, invoices: int = 30) -> None:
    """A small company: customers, invoices of them, one item (Ids 1.. in each realm, on purpose:
    two companies share every Id, so a change routed to the wrong company would show)."""
    t = store.clock.now() - timedelta(days=3)
    meta = {"CreateTime": stamp(t), "LastUpdatedTime": stamp(t)}
    store.create_realm(realm, company_info={"CompanyName": f"Company {realm}", "Country": "US"})
    store.bulk_load(realm, "Item", [{"Id": "1", "SyncToken": "0", "Name": "Work", "Active": True,
                                     "FullyQualifiedName": "Work", "Type": "Service", "UnitPrice": 10,
                                     "MetaData": meta}])
    store.bulk_load(realm, "Customer", [
        {"Id": str(i), "SyncToken": "0", "DisplayName": f"{realm} customer {i}", "Active": True, "Job": False,
         "BillWithParent": False, "Balance": 0, "BalanceWithJobs": 0, "Level": 0,
         "PrimaryEmailAddr": {"Address": f"c{i}@{realm}.example"}, "MetaData": meta}
        for i in range(1, customers + 1)])
    store.bulk_load(realm, "Invoice", [
        {"Id": str(100 + i), "SyncToken": "0", "CustomerRef": {"value": str(1 + i % customers)},
         "TxnDate": "2025-03-01", "TotalAmt": 10 + i, "Balance": 10 + i, "DocNumber": str(1000 + i),
         "Line": [{"Id": "1", "LineNum": 1, "Amount": 10 + i, "DetailType": "SalesItemLineDetail",
                   "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1, "UnitPrice": 10 + i}}],
         "LinkedTxn": [], "MetaData": meta} for i in range(invoices)])


@contextmanager
def serving(realm: str) -> Iterator[SandboxServer]:
    """A sandbox server holding ``build_realm(realm)``, on the wall clock: the child processes a test
    starts use the system clock."""
    from qbsync.sandbox.clock import SandboxClock
    from qbsync.sandbox.server import SandboxServer
    from qbsync.sandbox.store import Store

    clock = SandboxClock()
    store = Store(clock=clock)
    build_realm(store, realm)
    with SandboxServer(store, clock=clock) as srv:
        yield srv


def connect_realms(server: Any, tmp: Path, cache_url: str, realms: list[str],
                   **overrides: Any) -> tuple[Settings, dict[str, str]]:
    """Token files for ``realms`` (issued without a browser) and settings aimed at the sandbox, webhooks
    verified with ``VERIFIER``; also the environment a `qbsync` child process needs for the same."""
    conn = connect_companies(server, tmp, cache_url, realms, **{"webhook_verifier": VERIFIER, **overrides})
    return conn.settings, conn.env


def change_customer(store: Any, realm: str, id_: str, email: str) -> dict[str, Any]:
    cur = store.get(realm, "Customer", id_)
    cur["PrimaryEmailAddr"] = {"Address": email}
    return dict(store.put(realm, "Customer", cur))


def cloudevent(realm: str, entity: str, id_: str, action: str, when: str | datetime,
               event_id: str | None = None) -> dict[str, Any]:
    """One event shaped like Intuit's published CloudEvents sample."""
    return {"specversion": "1.0", "id": event_id or str(uuid.uuid4()),
            "source": "intuit.dsnBgbseACLLRZNxo2dfc4evmEJdxde58xeeYcZliOU=",
            "type": f"qbo.{entity.lower()}.{action}.v1", "datacontenttype": "application/json",
            "time": when if isinstance(when, str) else
            when.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "intuitentityid": id_, "intuitaccountid": realm, "data": {}}


def legacy(realm: str, entities: list[tuple[str, str, str, str]]) -> dict[str, Any]:
    """Intuit's legacy notification: (name, id, operation, lastUpdated) per entity."""
    return {"eventNotifications": [{"realmId": realm, "dataChangeEvent": {"entities": [
        {"name": n, "id": i, "operation": op, "lastUpdated": t} for n, i, op, t in entities]}}]}


def sign(body: bytes, token: str = VERIFIER) -> str:
    return base64.b64encode(hmac.new(token.encode(), body, hashlib.sha256).digest()).decode()


def body_of(doc: Any) -> bytes:
    return json.dumps(doc).encode()


@dataclass
class Posted:
    status: int
    body: dict[str, Any]
