"""A stand-in for intuit-oauth's AuthClient whose token server lives in a file (works across processes)."""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import filelock
import requests
from intuitlib.exceptions import AuthClientError

if TYPE_CHECKING:
    from qbsync.auth.oauth import TokenManager


def oauth_error(status: int, error: str) -> AuthClientError:
    resp = requests.Response()
    resp.status_code = status
    resp._content = json.dumps({"error": error}).encode()
    resp.headers["Content-Type"] = "application/json"
    return AuthClientError(resp)


class FileTokenServer:
    """Strict rotation: only the newest refresh token works (no grace), so a double spend fails."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.exists():
            path.write_text(json.dumps({"n": 0, "valid": "r0"}))

    def state(self) -> dict[str, Any]:
        return json.loads(self.path.read_text())

    def rotate(self, token: str) -> int:
        with filelock.FileLock(f"{self.path}.lock"), self.path.open("r+") as fh:
            st = json.loads(fh.read())
            if token != st["valid"]:
                raise oauth_error(400, "invalid_grant")
            st["n"] += 1
            st["valid"] = f"r{st['n']}"
            fh.seek(0)
            fh.truncate()
            fh.write(json.dumps(st))
            return int(st["n"])


class FakeAuthClient:
    """Just the parts of AuthClient that qbsync.auth.oauth uses."""

    environment = "fake"

    def __init__(self, server: FileTokenServer, hard_expiry: int | None = None) -> None:
        self.server = server
        self.access_token: str | None = None
        self.refresh_token: str | None = None
        self.expires_in: int | None = None
        self.x_refresh_token_expires_in: int | None = None
        self.hard_expiry = hard_expiry
        self.refresh_calls = 0

    def refresh(self, refresh_token: str | None = None) -> None:
        self.refresh_calls += 1
        n = self.server.rotate(refresh_token or "")
        self.access_token, self.refresh_token = f"a{n}", f"r{n}"
        self.expires_in, self.x_refresh_token_expires_in = 3600, 8_640_000
        if self.hard_expiry is not None:
            self.x_refresh_token_hard_expires_in = self.hard_expiry

    def revoke(self, token: str | None = None) -> bool:
        return True


def refresh_rounds(mgr: TokenManager, rounds: int) -> int:
    """Refresh ``rounds`` times as if QuickBooks kept answering 401; how many refreshes failed."""
    errors = 0
    for _ in range(rounds):
        try:
            mgr.refresh_after_rejection(mgr.current().access_token)
        except Exception:
            errors += 1
    return errors


def at_once(target: Callable[..., None], args: tuple[Any, ...], processes: int = 3) -> list[int]:
    """What ``target(*args, queue)`` put on the queue, run in ``processes`` processes at once."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, queue)) for _ in range(processes)]
    for p in procs:
        p.start()
    got = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join()
    return got
