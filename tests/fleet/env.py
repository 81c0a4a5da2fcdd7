"""Sandbox companies, connections and signed deliveries for the fleet's tests (built from Intuit's
published payload examples, signed here with hmac: not with qbsync's own signer)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from qbsync.auth.tokens import TokenSet, TokenStore
from qbsync.settings import Settings, load_settings

CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"
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


def connect_realms(server: Any, tmp: Path, cache_url: str, realms: list[str],
                   **overrides: Any) -> tuple[Settings, dict[str, str]]:
    """Token files for ``realms`` (issued without a browser) and settings aimed at the sandbox; also the
    environment a `qbsync` child process needs for the same."""
    token_dir = tmp / "tokens"
    store = TokenStore(token_dir)
    now = server.clock.now()
    for realm in realms:
        issued = server.issue_tokens(realm)
        store.save(TokenSet(realm_id=realm, access_token=issued["access_token"],
                            refresh_token=issued["refresh_token"],
                            access_expires_at=now + timedelta(seconds=int(issued.get("expires_in", 3600))),
                            refresh_expires_at=now + timedelta(days=100), obtained_at=now,
                            environment=server.base_url))
    values = {"environment": server.base_url, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
              "token_dir": str(token_dir), "cache_url": cache_url, "webhook_verifier": VERIFIER,
              "backoff_initial_seconds": 0.01, "backoff_max_seconds": 0.05, "throttle_wait_seconds": 0.05,
              "max_attempts": 12, **overrides}
    env = {k: v for k, v in os.environ.items() if not k.startswith("QBSYNC_")}
    env.update({f"QBSYNC_{k.upper()}": str(v) for k, v in values.items()})
    env["XDG_CONFIG_HOME"] = str(tmp / "xdg")
    env["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    return load_settings(overrides=values, env={}, config_path=None), env


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
