"""The token store: one JSON file per realm, written atomically with mode 0600, guarded by a file lock.

A refresh must happen under ``TokenStore.lock(realm)`` and must re-read the file after the lock is
taken: another process may have refreshed in the meantime, and its refresh token is now the only
valid one.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import filelock

from qbsync.errors import AuthError, InputError
from qbsync.files import write_atomic

_REALM_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _ts(dt: datetime | None) -> str | None:
    return None if dt is None else dt.astimezone(UTC).isoformat()


def _dt(s: object) -> datetime | None:
    if not s:
        return None
    dt = datetime.fromisoformat(str(s))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@dataclass(frozen=True)
class TokenSet:
    """The tokens of one realm plus what ``auth status`` shows; ``repr`` never shows a token."""

    realm_id: str
    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime | None = None
    refresh_hard_expires_at: datetime | None = None
    obtained_at: datetime | None = None
    company_name: str | None = None
    environment: str | None = None

    def __repr__(self) -> str:
        return (f"TokenSet(realm_id={self.realm_id!r}, access_expires_at={self.access_expires_at}, "
                f"refresh_expires_at={self.refresh_expires_at}, tokens=<hidden>)")

    __str__ = __repr__

    def access_valid(self, now: datetime, skew: timedelta = timedelta(0)) -> bool:
        return now + skew < self.access_expires_at

    def refresh_deadline(self) -> datetime | None:
        """When the refresh token dies: the rolling expiry or the hard cap, whichever is first."""
        dates = [d for d in (self.refresh_expires_at, self.refresh_hard_expires_at) if d is not None]
        return min(dates) if dates else None

    def to_json(self) -> dict[str, Any]:
        return {
            "realm_id": self.realm_id,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "access_expires_at": _ts(self.access_expires_at),
            "refresh_expires_at": _ts(self.refresh_expires_at),
            "refresh_hard_expires_at": _ts(self.refresh_hard_expires_at),
            "obtained_at": _ts(self.obtained_at),
            "company_name": self.company_name,
            "environment": self.environment,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TokenSet:
        access_exp = _dt(d["access_expires_at"])
        assert access_exp is not None
        return cls(
            realm_id=str(d["realm_id"]),
            access_token=str(d["access_token"]),
            refresh_token=str(d["refresh_token"]),
            access_expires_at=access_exp,
            refresh_expires_at=_dt(d.get("refresh_expires_at")),
            refresh_hard_expires_at=_dt(d.get("refresh_hard_expires_at")),
            obtained_at=_dt(d.get("obtained_at")),
            company_name=d.get("company_name"),
            environment=d.get("environment"),
        )

    def with_company(self, name: str | None) -> TokenSet:
        return replace(self, company_name=name)


class TokenStore:
    """Files ``<dir>/<realm>.json`` (0600) and ``<dir>/<realm>.lock``; the directory is 0700."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _check_realm(self, realm_id: str) -> str:
        if not _REALM_RE.match(realm_id):
            raise AuthError(f"'{realm_id}' is not a QuickBooks realm (company) id",
                            hint="use the numeric company id shown by `qbsync auth status`")
        return realm_id

    def path(self, realm_id: str) -> Path:
        return self.directory / f"{self._check_realm(realm_id)}.json"

    def _ensure_dir(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    @contextlib.contextmanager
    def lock(self, realm_id: str) -> Iterator[None]:
        """Exclusive inter-process lock for this realm's tokens (blocks until it is free)."""
        self._ensure_dir()
        # filelock: flock on Linux and macOS, msvcrt on Windows; a new object per call, so threads of
        # one process exclude each other as separate processes do.
        with filelock.FileLock(str(self.directory / f"{self._check_realm(realm_id)}.lock"), mode=0o600):
            yield

    def load(self, realm_id: str) -> TokenSet | None:
        path = self.path(realm_id)
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return TokenSet.from_json(json.loads(raw))
        except (ValueError, KeyError, TypeError):
            raise AuthError(f"the token file {path} is damaged",
                            hint="delete it and run `qbsync auth login` again") from None

    def save(self, tokens: TokenSet) -> None:
        """Write atomically and 0600 (temp file, fsync, rename, fsync the directory)."""
        self._ensure_dir()
        write_atomic(self.path(tokens.realm_id), json.dumps(tokens.to_json(), indent=2), private=True)

    def delete(self, realm_id: str) -> bool:
        try:
            self.path(realm_id).unlink()
        except FileNotFoundError:
            return False
        return True

    def realms(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob("*.json") if _REALM_RE.match(p.stem))

    def default_realm(self, preferred: str | None = None) -> str:
        """``preferred`` if given, else the only connected realm; an AuthError otherwise."""
        if preferred:
            return self._check_realm(preferred)
        realms = self.realms()
        if len(realms) == 1:
            return realms[0]
        if not realms:
            raise AuthError("not connected to any QuickBooks company", hint="run `qbsync auth login`")
        # Not an authorization problem (exit 4 says "log in again"): the user must say which company.
        raise InputError(f"connected to several companies ({', '.join(realms)}): which one?",
                         hint="choose one with --realm ID or QBSYNC_REALM=ID (or `realm` in the config "
                              "file); `qbsync auth status` lists them, `qbsync sync --all-realms` syncs all")
