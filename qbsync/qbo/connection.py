"""Connecting a company end to end: OAuth login plus a first CompanyInfo read, status and logout."""

from __future__ import annotations

from collections.abc import Callable

from qbsync.auth import oauth
from qbsync.auth.oauth import AuthClientFactory
from qbsync.auth.stores import open_token_store
from qbsync.auth.tokens import TokenSet, TokenStore
from qbsync.clock import Clock, SystemClock
from qbsync.errors import AuthError
from qbsync.qbo.client import connect
from qbsync.settings import Settings


def login(settings: Settings, *, show: Callable[[str], None], paste: Callable[[], str] | None = None,
          open_browser: bool = True, timeout: float = 300.0, clock: Clock | None = None,
          store: TokenStore | None = None, factory: AuthClientFactory | None = None) -> TokenSet:
    """Authorize, store the tokens, then read CompanyInfo so the stored connection knows its name."""
    store = store or open_token_store(settings)
    factory = factory or oauth.auth_client_factory(settings)
    tokens = oauth.run_login(settings, store, show=show, paste=paste, open_browser=open_browser,
                             timeout=timeout, clock=clock, factory=factory)
    with connect(settings, tokens.realm_id, clock=clock, token_store=store, factory=factory) as client:
        name = client.company_info().get("CompanyName")
    with store.lock(tokens.realm_id):
        current = store.load(tokens.realm_id) or tokens
        named = current.with_company(str(name) if name else None)
        store.save(named)
    return named


def status(settings: Settings, realm_id: str | None = None, *, clock: Clock | None = None,
           store: TokenStore | None = None) -> list[dict[str, object]]:
    """What is connected (no network): realm, company, access/refresh/hard expiry per realm."""
    store = store or open_token_store(settings)
    now = (clock or SystemClock()).now()
    realms = [store.default_realm(realm_id)] if realm_id else store.realms()
    out = []
    for realm in realms:
        tokens = store.load(realm)
        if tokens is not None:
            out.append(oauth.describe(tokens, now))
    if not out:
        raise AuthError("not connected to any QuickBooks company" if not realm_id
                        else f"not connected to QuickBooks company {realm_id}",
                        hint="run `qbsync auth login`")
    return out


def logout(settings: Settings, realm_id: str | None = None, *, revoke: bool = True,
           store: TokenStore | None = None, factory: AuthClientFactory | None = None) -> tuple[str, bool]:
    """Revoke and forget one realm's connection; returns (realm, whether Intuit confirmed revocation)."""
    store = store or open_token_store(settings)
    realm = store.default_realm(realm_id or settings.realm)
    revoked = oauth.logout(settings, store, realm, revoke=revoke, factory=factory)
    return realm, revoked
