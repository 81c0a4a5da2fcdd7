"""One sync per realm at a time: a file lock next to a SQLite cache, an advisory lock on PostgreSQL.

Both locks die with their process (the kernel drops the flock, the server drops the session), so a
killed sync never leaves a stale lock behind; a second run fails at once with LockedError (exit 75).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from qbsync.errors import LockedError


def _busy(realm_id: str, where: str) -> LockedError:
    return LockedError(f"another qbsync sync for realm {realm_id} is running ({where})",
                       hint="let it finish; cron can simply try again next time (exit code 75)")


def lock_key(realm_id: str, schema: str = "") -> int:
    """A stable signed 64-bit key for pg_advisory_lock (per schema: several caches may share a database)."""
    digest = hashlib.sha256(f"qbsync-sync:{schema}:{realm_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_path(engine: sa.Engine, realm_id: str) -> Path:
    db = engine.url.database
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in realm_id)
    if not db or db == ":memory:":
        return Path(tempfile.gettempdir()) / f"qbsync-{os.getpid()}-{safe}.lock"
    return Path(f"{db}.sync-{safe}.lock")


@contextlib.contextmanager
def _file_lock(path: Path, realm_id: str) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            raise _busy(realm_id, f"pid {holder}" if holder else str(path)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the flock


@contextlib.contextmanager
def _advisory_lock(engine: sa.Engine, realm_id: str) -> Iterator[None]:
    with engine.connect() as conn:
        key = lock_key(realm_id, str(conn.execute(sa.text("SELECT current_schema()")).scalar_one()))
        got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar_one()
        conn.commit()
        if not got:
            raise _busy(realm_id, "PostgreSQL advisory lock held")
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()


@contextlib.contextmanager
def sync_lock(engine: sa.Engine, realm_id: str) -> Iterator[None]:
    """Hold the realm's sync lock for the block, or raise LockedError without waiting."""
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, realm_id):
            yield
    else:
        with _file_lock(lock_path(engine, realm_id), realm_id):
            yield
