"""Named locks on a cache, held by one process at a time: one sync per realm, one holder per write-back run.

Beside a SQLite cache the lock is a file lock (the `filelock` library: flock on Linux and macOS,
msvcrt on Windows); on PostgreSQL it is a session advisory lock keyed by schema and name, so several
caches can share one database. Both die with their process (the kernel drops the file lock, the
server drops the session), so a killed run never leaves a stale lock behind, and "is anybody still
holding it?" tells a run that is going on from one that was killed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import filelock
import sqlalchemy as sa

from qbsync.errors import LockedError


def lock_key(name: str, schema: str = "") -> int:
    """A stable signed 64-bit key for pg_advisory_lock (per schema: several caches may share a database)."""
    digest = hashlib.sha256(f"qbsync-{name}:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_path(engine: sa.Engine, name: str) -> Path:
    """The lock file beside a SQLite cache (in the temp folder for an in-memory one)."""
    db = engine.url.database
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
    if not db or db == ":memory:":
        return Path(tempfile.gettempdir()) / f"qbsync-{os.getpid()}-{safe}.lock"
    return Path(f"{db}.{safe}.lock")


def _owner_path(path: Path) -> Path:
    # The lock file itself is truncated by whoever tries it; who holds it is written beside it.
    return path.with_name(path.name + ".owner")


@contextlib.contextmanager
def _file_lock(path: Path, busy: Callable[[str], LockedError], *, remove: bool) -> Iterator[None]:
    lock = filelock.FileLock(str(path), timeout=0, mode=0o600)
    try:
        lock.acquire()
    except filelock.Timeout:
        try:
            holder = _owner_path(path).read_text(encoding="utf-8").strip()
        except OSError:
            holder = ""
        raise busy(f"pid {holder}" if holder else str(path)) from None
    owner = _owner_path(path)
    try:
        with contextlib.suppress(OSError):
            owner.write_text(str(os.getpid()), encoding="utf-8")
        yield
    finally:
        with contextlib.suppress(OSError):
            owner.unlink()
        lock.release()
        if remove:
            with contextlib.suppress(OSError):
                path.unlink()


def _schema(conn: sa.Connection) -> str:
    return str(conn.execute(sa.text("SELECT current_schema()")).scalar_one())


@contextlib.contextmanager
def _advisory_lock(engine: sa.Engine, name: str, busy: Callable[[str], LockedError]) -> Iterator[None]:
    with engine.connect() as conn:
        key = lock_key(name, _schema(conn))
        got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar_one()
        conn.commit()
        if not got:
            raise busy("PostgreSQL advisory lock held")
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()


@contextlib.contextmanager
def hold(engine: sa.Engine, name: str, busy: Callable[[str], LockedError], *,
         remove: bool = False) -> Iterator[None]:
    """Hold lock ``name`` on this cache for the block, or raise ``busy(where)`` without waiting.

    ``remove`` deletes a SQLite lock file afterwards (for names used once, such as a run's).
    """
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, name, busy):
            yield
    else:
        with _file_lock(lock_path(engine, name), busy, remove=remove):
            yield


def is_held(engine: sa.Engine, name: str) -> bool:
    """Whether some process holds lock ``name`` now (tries it without waiting and lets it go)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            key = lock_key(name, _schema(conn))
            got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar_one()
            if got:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()
            return not got
    path = lock_path(engine, name)
    if not path.exists():
        return False
    lock = filelock.FileLock(str(path), timeout=0, mode=0o600)
    try:
        lock.acquire()
    except filelock.Timeout:
        return True
    lock.release()
    return False


def sync_lock(engine: sa.Engine, realm_id: str) -> contextlib.AbstractContextManager[None]:
    """One sync per realm: hold it for the block, or raise LockedError (exit 75) without waiting."""
    def busy(where: str) -> LockedError:
        return LockedError(f"another qbsync sync for realm {realm_id} is running ({where})",
                           hint="let it finish; cron can simply try again next time (exit code 75)")
    return hold(engine, f"sync-{realm_id}", busy)


def run_lock_name(run_id: str) -> str:
    return f"writeback-{run_id}"


def run_lock(engine: sa.Engine, run_id: str) -> contextlib.AbstractContextManager[None]:
    """Held by the process applying or undoing write-back run ``run_id`` for as long as it runs."""
    def busy(where: str) -> LockedError:
        return LockedError(f"write-back run {run_id} is already being carried out ({where})")
    return hold(engine, run_lock_name(run_id), busy, remove=True)
