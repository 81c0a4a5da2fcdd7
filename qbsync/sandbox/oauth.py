"""OAuth 2.0 as Intuit runs it: discovery, one-shot codes, rotating refresh tokens with a grace, revoke."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from qbsync.sandbox.clock import SandboxClock
from qbsync.sandbox.store import Store

ACCESS_TTL = timedelta(seconds=3600)
REFRESH_TTL = timedelta(days=100)  # rolling: every refresh restarts it
REFRESH_HARD_TTL = timedelta(days=5 * 365)  # Intuit's 5-year maximum since Nov 2025
ROTATION_GRACE = timedelta(hours=24)  # a superseded refresh token keeps working this long
CODE_TTL = timedelta(minutes=10)
# The name of Intuit's new hard-expiry field is not public yet (unconfirmed); one place to change it.
HARD_EXPIRY_FIELD = "x_refresh_token_hard_expires_in"


@dataclass
class OAuthError(Exception):
    status: int
    error: str
    description: str = ""

    def body(self) -> dict[str, str]:
        out = {"error": self.error}
        if self.description:
            out["error_description"] = self.description
        return out


def discovery_document(base_url: str) -> dict[str, Any]:
    """What intuitlib's AuthClient reads from ``environment=<url>``."""
    return {
        "issuer": base_url,
        "authorization_endpoint": f"{base_url}/connect/oauth2",
        "token_endpoint": f"{base_url}/oauth2/v1/tokens/bearer",
        "userinfo_endpoint": f"{base_url}/v1/openid_connect/userinfo",
        "revocation_endpoint": f"{base_url}/oauth2/v1/tokens/revoke",
        "jwks_uri": f"{base_url}/oauth2/v1/keys",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile", "address", "phone",
                             "com.intuit.quickbooks.accounting", "com.intuit.quickbooks.payment"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
    }


class TokenAuthority:
    """Issues and checks tokens; every expiry decision asks the sandbox clock."""

    def __init__(self, store: Store, clock: SandboxClock, client_id: str, client_secret: str) -> None:
        self.store = store
        self.clock = clock
        self.client_id = client_id
        self.client_secret = client_secret

    def _now(self) -> float:
        return self.clock.now().timestamp()

    # ---- authorization endpoint ----

    def authorize(self, params: dict[str, str], realm_id: str) -> str:
        """Approve at once; return the redirect URL carrying code, state and realmId."""
        if params.get("client_id") != self.client_id:
            raise OAuthError(400, "invalid_client", "unknown client_id")
        redirect_uri = params.get("redirect_uri", "")
        if not redirect_uri:
            raise OAuthError(400, "invalid_request", "redirect_uri is required")
        if params.get("response_type", "code") != "code":
            raise OAuthError(400, "unsupported_response_type")
        code = "AB11" + secrets.token_urlsafe(24)
        self.store.oauth_put(code, "code", {"realm": realm_id, "redirect_uri": redirect_uri,
                                            "expires": self._now() + CODE_TTL.total_seconds(), "used": False})
        query = {"code": code, "realmId": realm_id}
        if "state" in params:
            query["state"] = params["state"]
        sep = "&" if "?" in redirect_uri else "?"
        return f"{redirect_uri}{sep}{urlencode(query)}"

    # ---- token endpoint ----

    def check_client(self, authorization: str | None, form: dict[str, str]) -> None:
        cid, secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            try:
                raw = base64.b64decode(authorization.split(" ", 1)[1]).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                raise OAuthError(401, "invalid_client") from None
            cid, _, secret = raw.partition(":")
        if cid != self.client_id or not secrets.compare_digest(secret or "", self.client_secret):
            raise OAuthError(401, "invalid_client")

    def token(self, authorization: str | None, form: dict[str, str]) -> dict[str, Any]:
        self.check_client(authorization, form)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            return self._grant_code(form)
        if grant == "refresh_token":
            return self._grant_refresh(form)
        raise OAuthError(400, "unsupported_grant_type")

    def _grant_code(self, form: dict[str, str]) -> dict[str, Any]:
        code = form.get("code", "")
        rec = self.store.oauth_get(code)
        if rec is None or rec.get("used") or rec["expires"] < self._now():
            raise OAuthError(400, "invalid_grant")
        if form.get("redirect_uri") and form["redirect_uri"] != rec["redirect_uri"]:
            raise OAuthError(400, "invalid_grant", "redirect_uri does not match the authorization request")
        rec["used"] = True
        self.store.oauth_put(code, "code", rec)
        family = secrets.token_hex(8)
        return self._issue(rec["realm"], family, self._now() + REFRESH_HARD_TTL.total_seconds())

    def _grant_refresh(self, form: dict[str, str]) -> dict[str, Any]:
        token = form.get("refresh_token", "")
        rec = self.store.oauth_get(token)
        now = self._now()
        if rec is None or rec.get("kind") != "refresh" or rec.get("revoked"):
            raise OAuthError(400, "invalid_grant")
        if rec["expires"] < now or rec["hard_expires"] < now:
            raise OAuthError(400, "invalid_grant")
        superseded = rec.get("superseded_at")
        if superseded is not None and now > superseded + ROTATION_GRACE.total_seconds():
            raise OAuthError(400, "invalid_grant")
        if rec.get("superseded_at") is None:
            rec["superseded_at"] = now
            self.store.oauth_put(token, "refresh", rec)
        return self._issue(rec["realm"], rec["family"], rec["hard_expires"])

    def _issue(self, realm: str, family: str, hard_expires: float) -> dict[str, Any]:
        now = self._now()
        access = "eyJsYW5kYm94Ijoi" + secrets.token_urlsafe(48)
        refresh = "AB11" + secrets.token_urlsafe(36)
        refresh_expires = min(now + REFRESH_TTL.total_seconds(), hard_expires)
        self.store.oauth_put(access, "access", {"kind": "access", "realm": realm, "family": family,
                                                "expires": now + ACCESS_TTL.total_seconds()})
        self.store.oauth_put(refresh, "refresh", {"kind": "refresh", "realm": realm, "family": family,
                                                  "expires": refresh_expires, "hard_expires": hard_expires,
                                                  "superseded_at": None})
        return {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "bearer",
            "expires_in": int(ACCESS_TTL.total_seconds()),
            "x_refresh_token_expires_in": int(refresh_expires - now),
            HARD_EXPIRY_FIELD: int(hard_expires - now),
        }

    # ---- revoke ----

    def revoke(self, authorization: str | None, token: str) -> None:
        self.check_client(authorization, {})
        rec = self.store.oauth_get(token)
        if rec is None:
            raise OAuthError(400, "invalid_request", "unknown token")
        family = rec.get("family")
        for kind in ("access", "refresh"):
            for tok, data in self.store.oauth_by_kind(kind):
                if data.get("family") == family and not data.get("revoked"):
                    data["revoked"] = True
                    self.store.oauth_put(tok, kind, data)

    # ---- data API check ----

    def check_bearer(self, authorization: str | None, realm_id: str) -> str | None:
        """None when the bearer token may call ``realm_id``; else the 401 detail text."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return "Authorization header missing or not a Bearer token"
        token = authorization.split(" ", 1)[1].strip()
        rec = self.store.oauth_get(token)
        # Real QuickBooks echoes the first 50 characters of the token here ("Token expired: AB01...");
        # the sandbox does not, so a token never lands in a client's log through a fault.
        if rec is None or rec.get("kind") != "access":
            return "Token invalid"
        if rec.get("revoked"):
            return "Token revoked"
        if rec["expires"] < self._now():
            return "Token expired"
        if rec["realm"] != realm_id:
            return f"Token not valid for realm {realm_id}"
        return None

    def issue_for_tests(self, realm_id: str) -> dict[str, Any]:
        """A fresh token pair without the browser step (admin endpoint and fixtures)."""
        return self._issue(realm_id, secrets.token_hex(8), self._now() + REFRESH_HARD_TTL.total_seconds())
