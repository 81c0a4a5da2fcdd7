"""OAuth through intuit-oauth: login (authorization code), locked refresh with rotation, and revoke.

Rules this module keeps (API-NOTES "OAuth tokens"):
- every refresh returns a new refresh token; it is saved to disk before anything else uses it;
- a refresh happens only while holding the realm's file lock, after re-reading the file, so two
  processes never spend the same refresh token (which would end in ``invalid_grant``);
- ``invalid_grant`` is not transient: it becomes ReauthorizeError ("run `qbsync auth login` again").

intuit-oauth (with PyJWT and cryptography behind it) is imported where a token is refreshed, asked for
or revoked, not with this module: a sync whose access token is still valid never needs it.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import requests

from qbsync.auth.tokens import TokenSet, TokenStore
from qbsync.clock import Clock, SystemClock
from qbsync.errors import AuthError, ReauthorizeError, ServerError
from qbsync.settings import Settings

if TYPE_CHECKING:
    from intuitlib.client import AuthClient
    from intuitlib.exceptions import AuthClientError

log = logging.getLogger(__name__)

AuthClientFactory = Callable[[], "AuthClient"]

# Intuit announced (Nov 2025) a new token-response field carrying the refresh token's hard 5-year
# expiry but not its name (unconfirmed): accept any of these, as seconds-from-now or a timestamp.
HARD_EXPIRY_FIELDS = ("x_refresh_token_hard_expires_in", "refresh_token_hard_expires_in",
                      "x_refresh_token_expires_at", "refresh_token_expires_at")
DEFAULT_ACCESS_LIFETIME = 3600
HTTP_TIMEOUT = 60.0
# The hard 5-year expiry cannot be refreshed away: warn this long before the connection ends.
RENEW_WARNING = timedelta(days=14)


@cache
def _timeout_auth_client() -> type[AuthClient]:
    from intuitlib.client import AuthClient

    class _TimeoutAuthClient(AuthClient):
        """intuit-oauth never sets a timeout; a hung token endpoint must not hang a cron job forever."""

        def request(self, *args: Any, **kwargs: Any) -> requests.Response:
            kwargs.setdefault("timeout", HTTP_TIMEOUT)
            return super().request(*args, **kwargs)

        def __repr__(self) -> str:
            return f"<AuthClient {self.environment}>"

    return _TimeoutAuthClient


def auth_client_factory(settings: Settings) -> AuthClientFactory:
    """A factory, because AuthClient's constructor fetches the discovery document over the network."""
    client_id, client_secret = settings.require_credentials()
    discovery = settings.endpoints.discovery_url

    def make() -> AuthClient:
        from intuitlib.exceptions import AuthClientError

        try:
            return _timeout_auth_client()(client_id, client_secret, settings.redirect_uri,
                                          environment=discovery)
        except AuthClientError as exc:
            raise AuthError(f"cannot read the OAuth discovery document at {discovery} "
                            f"(HTTP {exc.status_code})",
                            hint="check the `environment` setting and your network") from None
        except (requests.RequestException, ValueError) as exc:
            raise AuthError(f"cannot read the OAuth discovery document at {discovery} "
                            f"({type(exc).__name__})",
                            hint="check the `environment` setting and your network") from None

    return make


def _seconds_or_time(value: object, now: datetime) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        n = float(value)
        if n > 10**9:  # an epoch timestamp rather than a lifetime
            return datetime.fromtimestamp(n / 1000 if n > 10**11 else n, UTC)
        return now + timedelta(seconds=n)
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def tokens_from_client(client: AuthClient, realm_id: str, now: datetime, *,
                       previous: TokenSet | None = None, environment: str | None = None) -> TokenSet:
    """Read the token response intuit-oauth stored on ``client`` (it sets every field as an attribute)."""
    attrs = vars(client)
    if not client.access_token or not client.refresh_token:
        raise AuthError("QuickBooks' token response lacked a token", hint="run `qbsync auth login` again")
    hard = None
    for name in HARD_EXPIRY_FIELDS:
        hard = _seconds_or_time(attrs.get(name), now)
        if hard is not None:
            break
    if hard is None and previous is not None:
        hard = previous.refresh_hard_expires_at
    return TokenSet(
        realm_id=realm_id,
        access_token=str(client.access_token),
        refresh_token=str(client.refresh_token),
        access_expires_at=_seconds_or_time(client.expires_in or DEFAULT_ACCESS_LIFETIME, now)
        or now + timedelta(seconds=DEFAULT_ACCESS_LIFETIME),
        refresh_expires_at=_seconds_or_time(getattr(client, "x_refresh_token_expires_in", None), now),
        refresh_hard_expires_at=hard,
        obtained_at=now,
        company_name=previous.company_name if previous else None,
        environment=environment or (previous.environment if previous else None),
    )


def _oauth_error(exc: AuthClientError) -> str:
    try:
        body = json.loads(exc.content or b"{}")
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""


def _token_endpoint_failure(exc: AuthClientError, action: str) -> Exception:
    """Map a token-endpoint failure to our tree; the response body is never echoed (it may hold tokens)."""
    code = _oauth_error(exc)
    if code == "invalid_grant":
        return ReauthorizeError("QuickBooks no longer accepts the stored connection (invalid_grant)")
    if exc.status_code >= 500 or exc.status_code == 429:
        return ServerError(f"the QuickBooks token endpoint failed during {action} (HTTP {exc.status_code})",
                           status=exc.status_code)
    if code == "invalid_client" or exc.status_code == 401:
        return AuthError(f"QuickBooks rejected the app credentials during {action}",
                         hint="check client_id and client_secret (QBSYNC_CLIENT_ID / QBSYNC_CLIENT_SECRET)")
    return AuthError(f"QuickBooks refused {action} (HTTP {exc.status_code}{', ' + code if code else ''})",
                     hint="run `qbsync auth login` again")


class TokenManager:
    """Hands out a valid access token for one realm, refreshing (locked, rotated, persisted) as needed.

    Thread-safe; several processes may share the same store. ``skew`` is how long before expiry a
    token counts as expired, so a request never leaves with a token about to die.
    """

    def __init__(self, store: TokenStore, realm_id: str, factory: AuthClientFactory, *,
                 clock: Clock | None = None, skew: timedelta = timedelta(minutes=5),
                 environment: str | None = None) -> None:
        self.store = store
        self.realm_id = realm_id
        self._factory = factory
        self._clock = clock or SystemClock()
        self._skew = skew
        self._environment = environment
        self._lock = threading.Lock()
        self._tokens: TokenSet | None = None
        self._client: AuthClient | None = None
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"TokenManager(realm_id={self.realm_id!r})"

    def _load(self) -> TokenSet:
        tokens = self.store.load(self.realm_id)
        if tokens is None:
            raise AuthError(f"not connected to QuickBooks company {self.realm_id}",
                            hint="run `qbsync auth login`")
        return tokens

    def current(self) -> TokenSet:
        with self._lock:
            if self._tokens is None:
                self._tokens = self._load()
            return self._tokens

    def access_token(self) -> str:
        """A token valid for at least ``skew`` more; refreshes first when needed."""
        with self._lock:
            if self._tokens is None:
                self._tokens = self._load()
            if self._tokens.access_valid(self._clock.now(), self._skew):
                return self._tokens.access_token
            return self._refresh_locked(self._tokens.access_token).access_token

    def refresh_after_rejection(self, rejected: str) -> str:
        """QuickBooks answered 401 to ``rejected``: get a newer token (another process's, or refresh)."""
        with self._lock:
            return self._refresh_locked(rejected, force=True).access_token

    def refresh(self) -> TokenSet:
        """Refresh now, unconditionally (``auth refresh``, tests)."""
        with self._lock:
            return self._refresh_locked(None, force=True)

    def _auth_client(self) -> AuthClient:
        if self._client is None:
            self._client = self._factory()
        return self._client

    def _refresh_locked(self, stale: str | None, *, force: bool = False) -> TokenSet:
        with self.store.lock(self.realm_id):
            on_disk = self._load()
            now = self._clock.now()
            # Another process refreshed while we waited for the lock: its tokens are the live ones.
            if stale is not None and on_disk.access_token != stale and on_disk.access_valid(now, self._skew):
                self._tokens = on_disk
                return on_disk
            if not force and on_disk.access_valid(now, self._skew):
                self._tokens = on_disk
                return on_disk
            deadline = on_disk.refresh_deadline()
            if deadline is not None and deadline <= now:
                raise ReauthorizeError("the stored QuickBooks connection has expired "
                                       f"(refresh token expired {deadline:%Y-%m-%d})")
            from intuitlib.exceptions import AuthClientError

            client = self._auth_client()
            try:
                client.refresh(refresh_token=on_disk.refresh_token)
            except AuthClientError as exc:
                raise _token_endpoint_failure(exc, "token refresh") from None
            except requests.RequestException as exc:
                raise ServerError(f"cannot reach the QuickBooks token endpoint ({type(exc).__name__})") \
                    from None
            fresh = tokens_from_client(client, self.realm_id, self._clock.now(), previous=on_disk,
                                       environment=self._environment)
            # Persist before use: if we crash after this line the new refresh token is not lost.
            self.store.save(fresh)
            self._tokens = fresh
            self.refreshes += 1
            log.info("refreshed the access token of realm %s", self.realm_id)
            ends = fresh.refresh_deadline()
            if ends is not None and ends - self._clock.now() < RENEW_WARNING:
                log.warning("the QuickBooks connection of realm %s ends on %s; run `qbsync auth login` "
                            "before then", self.realm_id, f"{ends:%Y-%m-%d}")
            return fresh


# --- login / logout ----------------------------------------------------------------------------------


@dataclass
class LoginRequest:
    """An authorization URL and the state it must come back with."""

    url: str
    state: str
    client: AuthClient

    def __repr__(self) -> str:
        return "LoginRequest(<pending>)"


def start_login(factory: AuthClientFactory) -> LoginRequest:
    from intuitlib.enums import Scopes

    client = factory()
    state = secrets.token_urlsafe(24)
    url = client.get_authorization_url([Scopes.ACCOUNTING], state_token=state)
    return LoginRequest(url=url, state=state, client=client)


def finish_login(request: LoginRequest, redirected_url: str, store: TokenStore, *,
                 clock: Clock | None = None, environment: str | None = None) -> TokenSet:
    """Check state, exchange the code, and store the tokens (before anything uses them)."""
    from intuitlib.exceptions import AuthClientError

    clock = clock or SystemClock()
    query = parse_qs(urlsplit(redirected_url.strip()).query)

    def one(name: str) -> str | None:
        vals = query.get(name)
        return vals[0] if vals else None

    if one("error"):
        raise AuthError(f"QuickBooks did not authorise qbsync ({one('error')})",
                        hint="run `qbsync auth login` again and choose Connect")
    if not secrets.compare_digest(one("state") or "", request.state):
        raise AuthError("the redirect's state does not match this login (stale or forged redirect)",
                        hint="run `qbsync auth login` again and use the URL it prints this time")
    code, realm_id = one("code"), one("realmId")
    if not code or not realm_id:
        raise AuthError("the redirected URL lacks `code` or `realmId`",
                        hint="paste the whole address the browser went to (it starts with the redirect URI)")
    try:
        request.client.get_bearer_token(code, realm_id=realm_id)
    except AuthClientError as exc:
        err = _token_endpoint_failure(exc, "the code exchange")
        if isinstance(err, ReauthorizeError):
            raise AuthError("the authorization code was already used or has expired",
                            hint="run `qbsync auth login` again") from None
        raise err from None
    except requests.RequestException as exc:
        raise AuthError(f"cannot reach the QuickBooks token endpoint ({type(exc).__name__})",
                        hint="check your network and run `qbsync auth login` again") from None
    tokens = tokens_from_client(request.client, realm_id, clock.now(), environment=environment,
                                previous=store.load(realm_id) if realm_id in store.realms() else None)
    with store.lock(realm_id):
        store.save(tokens)
    return tokens


def run_login(settings: Settings, store: TokenStore, *, show: Callable[[str], None],
              paste: Callable[[], str] | None = None, open_browser: bool = True,
              timeout: float = 300.0, clock: Clock | None = None,
              factory: AuthClientFactory | None = None) -> TokenSet:
    """The whole authorization-code flow. With ``paste`` (headless), the user supplies the redirect."""
    request = start_login(factory or auth_client_factory(settings))
    if paste is not None:
        show(request.url)
        redirected = paste()
    else:
        import webbrowser

        from qbsync.auth.callback import CallbackListener

        with CallbackListener(settings.redirect_uri) as listener:
            show(request.url)
            if open_browser:
                try:
                    webbrowser.open(request.url)
                except webbrowser.Error:
                    log.info("no browser available; open the URL by hand")
            redirected = listener.wait(timeout)
    return finish_login(request, redirected, store, clock=clock, environment=settings.environment)


def logout(settings: Settings, store: TokenStore, realm_id: str, *, revoke: bool = True,
           factory: AuthClientFactory | None = None) -> bool:
    """Revoke the refresh token at Intuit (unless ``revoke`` is False) and delete it locally.

    Returns whether Intuit confirmed the revocation. A token Intuit no longer knows is deleted anyway;
    a network failure keeps the file so the user can retry (or pass revoke=False).
    """
    with store.lock(realm_id):
        tokens = store.load(realm_id)
        if tokens is None:
            raise AuthError(f"not connected to QuickBooks company {realm_id}",
                            hint="see `qbsync auth status` for the connected companies")
        revoked = False
        if revoke:
            from intuitlib.exceptions import AuthClientError

            client = (factory or auth_client_factory(settings))()
            try:
                revoked = bool(client.revoke(token=tokens.refresh_token))
            except AuthClientError as exc:
                if exc.status_code >= 500:
                    raise AuthError(f"Intuit could not revoke the connection (HTTP {exc.status_code})",
                                    hint="try again later, or `qbsync auth logout --local` to only "
                                         "forget it here") from None
                log.warning("Intuit did not accept the revocation (HTTP %s); deleting locally",
                            exc.status_code)
            except requests.RequestException as exc:
                raise AuthError(f"cannot reach Intuit to revoke ({type(exc).__name__})",
                                hint="try again, or `qbsync auth logout --local` to only forget it here") \
                    from None
        store.delete(realm_id)
        return revoked


def describe(tokens: TokenSet, now: datetime) -> dict[str, object]:
    """What ``auth status`` shows for one realm (never the tokens)."""
    deadline = tokens.refresh_deadline()
    return {
        "realm_id": tokens.realm_id,
        "company_name": tokens.company_name,
        "environment": tokens.environment,
        "access_expires_at": tokens.access_expires_at.isoformat(),
        "access_valid": tokens.access_valid(now),
        "refresh_expires_at": tokens.refresh_expires_at.isoformat() if tokens.refresh_expires_at else None,
        "refresh_hard_expires_at": (tokens.refresh_hard_expires_at.isoformat()
                                    if tokens.refresh_hard_expires_at else None),
        "refresh_valid": deadline is None or deadline > now,
        "obtained_at": tokens.obtained_at.isoformat() if tokens.obtained_at else None,
    }
