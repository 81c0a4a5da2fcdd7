"""OAuth against the sandbox with intuit-oauth unmodified: codes, rotation, grace, revoke, expiry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import requests
from intuitlib.exceptions import AuthClientError

from qbsync.sandbox.clock import SandboxClock
from qbsync.sandbox.server import SandboxServer

from .conftest import REALM, connect


def _bearer(server: SandboxServer, token: str) -> requests.Response:
    return requests.get(
        f"{server.api_url_v3}/company/{REALM}/customer/1",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=10,
    )


def test_authorization_code_flow_gives_working_tokens(
    server: SandboxServer, auth_client_factory: Callable[..., Any]
) -> None:
    ac = auth_client_factory()
    code = connect(server, ac)
    ac.get_bearer_token(code)
    assert ac.realm_id == REALM
    assert ac.expires_in == 3600
    assert ac.x_refresh_token_expires_in > 0
    assert _bearer(server, ac.access_token).status_code == 200


def test_authorization_code_works_once(
    server: SandboxServer, auth_client_factory: Callable[..., Any]
) -> None:
    ac = auth_client_factory()
    code = connect(server, ac)
    ac.get_bearer_token(code)
    with pytest.raises(AuthClientError) as info:
        ac.get_bearer_token(code)
    assert info.value.status_code == 400
    assert info.value.response.json()["error"] == "invalid_grant"


def test_wrong_client_secret_is_refused(server: SandboxServer) -> None:
    from intuitlib.client import AuthClient

    good = AuthClient(
        server.client_id, server.client_secret, "http://localhost/cb", environment=server.discovery_url
    )
    code = connect(server, good)
    bad = AuthClient(server.client_id, "wrong", "http://localhost/cb", environment=server.discovery_url)
    with pytest.raises(AuthClientError) as info:
        bad.get_bearer_token(code)
    assert info.value.status_code == 401


def test_refresh_rotates_and_old_token_has_a_24h_grace(
    server: SandboxServer, clock: SandboxClock, auth_client_factory: Callable[..., Any]
) -> None:
    ac = auth_client_factory()
    ac.get_bearer_token(connect(server, ac))
    first = ac.refresh_token
    ac.refresh()
    second = ac.refresh_token
    assert second != first
    clock.advance(timedelta(hours=23))
    ac.refresh(refresh_token=first)  # still inside the grace period
    clock.advance(timedelta(hours=2))
    with pytest.raises(AuthClientError) as info:
        ac.refresh(refresh_token=first)
    assert info.value.status_code == 400
    assert info.value.response.json() == {"error": "invalid_grant"}
    # The newest token of the chain still works.
    ac.refresh(refresh_token=ac.refresh_token)


def test_access_token_expires_after_an_hour_with_the_lowercase_401(
    server: SandboxServer, clock: SandboxClock, auth_client_factory: Callable[..., Any]
) -> None:
    ac = auth_client_factory()
    ac.get_bearer_token(connect(server, ac))
    clock.advance(timedelta(seconds=3599))
    assert _bearer(server, ac.access_token).status_code == 200
    clock.advance(timedelta(seconds=2))
    resp = _bearer(server, ac.access_token)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="Intuit", error="invalid_token"'
    assert "Intuit-Tid" in resp.headers
    body = resp.json()
    assert body["fault"]["type"] == "AUTHENTICATION"
    assert body["fault"]["error"][0]["code"] == "3200"
    assert body["fault"]["error"][0]["detail"].startswith("Token expired")
    assert isinstance(body["time"], int)


def test_python_quickbooks_raises_on_expired_token(qb: Any, clock: SandboxClock) -> None:
    from quickbooks.exceptions import AuthorizationException
    from quickbooks.objects.customer import Customer

    clock.advance(timedelta(hours=2))
    with pytest.raises(AuthorizationException):
        Customer.get(1, qb=qb)


def test_revoke_kills_access_and_refresh_tokens(
    server: SandboxServer, auth_client_factory: Callable[..., Any]
) -> None:
    ac = auth_client_factory()
    ac.get_bearer_token(connect(server, ac))
    access, refresh = ac.access_token, ac.refresh_token
    assert ac.revoke(token=refresh) is True
    assert _bearer(server, access).status_code == 401
    with pytest.raises(AuthClientError):
        ac.refresh(refresh_token=refresh)


def test_missing_token_is_401(server: SandboxServer) -> None:
    resp = requests.get(f"{server.api_url_v3}/company/{REALM}/customer/1", timeout=10)
    assert resp.status_code == 401
    assert resp.json()["fault"]["error"][0]["code"] == "3200"


def test_realm_id_parameter_picks_another_company(
    server: SandboxServer, auth_client_factory: Callable[..., Any]
) -> None:
    from .conftest import small_company

    small_company(server.store, "999")
    ac = auth_client_factory()
    from intuitlib.enums import Scopes

    url = ac.get_authorization_url([Scopes.ACCOUNTING]) + "&realm_id=999"
    resp = requests.get(url, allow_redirects=False, timeout=10)
    assert "realmId=999" in resp.headers["Location"]


def test_refresh_token_expires_after_100_idle_days(
    server: SandboxServer, clock: SandboxClock, auth_client_factory: Callable[..., Any]
) -> None:
    ac = auth_client_factory()
    ac.get_bearer_token(connect(server, ac))
    clock.advance(timedelta(days=101))
    with pytest.raises(AuthClientError):
        ac.refresh()
