"""Fixtures for sandbox server tests: a running sandbox with a small company, and real client libraries."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from qbsync.sandbox.clock import SandboxClock
from qbsync.sandbox.server import SandboxServer
from qbsync.sandbox.store import Store

# requests-oauthlib refuses plain http unless told; the sandbox only listens on loopback.
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")

REALM = "4620816365000000001"
T0 = datetime(2024, 3, 1, 20, 0, tzinfo=UTC)
REDIRECT = "http://localhost:8765/callback"


def _meta(day: int) -> dict[str, str]:
    stamp = f"2024-02-{day:02d}T09:00:00-08:00"
    return {"CreateTime": stamp, "LastUpdatedTime": stamp}


def small_company(store: Store, realm: str = REALM) -> None:
    store.create_realm(realm, company_info={"CompanyName": "Sandbox Landscaping", "Country": "US"})
    customers = []
    for i, name in enumerate(["Amy's Bird Sanctuary", "Bill's Windsurf Shop", "Cool Cars", "Diego Rodriguez",
                              "Dukes Basketball Camp"], start=1):
        customers.append({"Id": str(i), "SyncToken": "0", "DisplayName": name, "FullyQualifiedName": name,
                          "PrintOnCheckName": name, "Active": True, "Job": False, "BillWithParent": False,
                          "Balance": 0, "BalanceWithJobs": 0, "Taxable": False,
                          "CurrencyRef": {"value": "USD", "name": "United States Dollar"},
                          "PrimaryEmailAddr": {"Address": f"c{i}@example.com"},
                          "domain": "QBO", "sparse": False, "MetaData": _meta(i)})
    customers.append({"Id": "6", "SyncToken": "0", "DisplayName": "Old Customer (deleted)",
                      "FullyQualifiedName": "Old Customer (deleted)", "PrintOnCheckName": "Old Customer",
                      "Active": False, "Job": False, "Balance": 0, "BalanceWithJobs": 0, "domain": "QBO",
                      "sparse": False, "MetaData": _meta(6)})
    store.bulk_load(realm, "Customer", customers)
    store.bulk_load(realm, "Item", [{"Id": "1", "SyncToken": "0", "Name": "Services", "Active": True,
                                     "Type": "Service", "FullyQualifiedName": "Services", "domain": "QBO",
                                     "sparse": False, "MetaData": _meta(1)}])


@pytest.fixture
def clock() -> SandboxClock:
    return SandboxClock(T0)


@pytest.fixture
def store(clock: SandboxClock) -> Store:
    s = Store(clock=clock)
    small_company(s)
    return s


@pytest.fixture
def server(store: Store, clock: SandboxClock) -> Iterator[SandboxServer]:
    with SandboxServer(store, clock=clock) as srv:
        yield srv


@pytest.fixture
def auth_client_factory(server: SandboxServer) -> Callable[..., Any]:
    from intuitlib.client import AuthClient

    def make(**kw: Any) -> Any:
        return AuthClient(server.client_id, server.client_secret, REDIRECT, environment=server.discovery_url,
                          **kw)

    return make


def connect(server: SandboxServer, auth_client: Any) -> str:
    """Run the browser step against the sandbox: returns the authorization code."""
    import requests
    from intuitlib.enums import Scopes

    url = auth_client.get_authorization_url([Scopes.ACCOUNTING])
    resp = requests.get(url, allow_redirects=False, timeout=10)
    assert resp.status_code == 302
    from urllib.parse import parse_qs, urlsplit

    q = parse_qs(urlsplit(resp.headers["Location"]).query)
    assert q["state"] == [auth_client.state_token]
    auth_client.realm_id = q["realmId"][0]
    return q["code"][0]


@pytest.fixture
def qb(server: SandboxServer, auth_client_factory: Callable[..., Any]) -> Any:
    """A python-quickbooks client, connected through the full OAuth flow."""
    from quickbooks import QuickBooks

    ac = auth_client_factory()
    ac.get_bearer_token(connect(server, ac))
    client = QuickBooks(auth_client=ac, refresh_token=ac.refresh_token, company_id=ac.realm_id,
                        minorversion=75)
    client.api_url_v3 = server.api_url_v3
    client.sandbox_api_url_v3 = server.api_url_v3
    return client


def invoice_body(customer: str, amount: float) -> dict[str, Any]:
    """A new invoice of one line of item 1 for ``customer``."""
    return {
        "CustomerRef": {"value": customer},
        "Line": [{"Amount": amount, "DetailType": "SalesItemLineDetail",
                  "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}],
    }


class Raw:
    """Plain HTTP with a valid bearer token, for envelope-level assertions."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Authorization": f"Bearer {server.issue_tokens(REALM)['access_token']}",
                "Accept": "application/json",
            }
        )
        self.base = f"{server.api_url_v3}/company/{REALM}"

    def query(self, text: str) -> requests.Response:
        return self.session.get(
            f"{self.base}/query", params={"query": text, "minorversion": "75"}, timeout=10
        )

    def post(self, resource: str, body: Any, **params: str) -> requests.Response:
        return self.session.post(
            f"{self.base}/{resource}",
            params=params,
            data=json.dumps(body),
            headers={"Content-Type": "application/json"},
            timeout=10,
        )

    def get(self, resource: str, **params: str) -> requests.Response:
        return self.session.get(f"{self.base}/{resource}", params=params, timeout=10)


@pytest.fixture
def raw(server: SandboxServer) -> Raw:
    return Raw(server)
