"""Backup and restore of the cache, which holds data found nowhere else (write-back audit, campaigns,
the customer file: notes, reasons for loss, outreach sent).

SQLite: a consistent online copy through SQLite's backup API (readers and the sync may keep working),
and a restore that checks the file's schema revision and replaces the live database in one SQLite
transaction (again the backup API, so WAL readers never see a half-written file). PostgreSQL: the
database's own tools are the right ones; qbsync explains how instead of doing it badly.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from qbsync.cache.schema import check_revisions, head_revision, upgrade
from qbsync.errors import CacheError, InputError


@dataclass
class BackupInfo:
    path: Path
    revision: str | None
    bytes: int


def _sqlite_path(engine: sa.Engine) -> Path:
    if engine.dialect.name != "sqlite":
        url = engine.url.set(password="***") if engine.url.password else engine.url
        raise CacheError(
            f"qbsync backs up SQLite caches only; this cache is {engine.dialect.name}",
            hint=(f"use PostgreSQL's tools: `pg_dump --format=custom --file=PATH '{url.database}'` "
                  "(and `pg_restore --clean --dbname=... PATH`, then `vacuumdb --analyze-only`, to "
                  "restore: a restored database has no planner statistics); schedule it like any "
                  "database backup, ideally right after a sync"))
    db = engine.url.database
    if not db or db == ":memory:":
        raise CacheError("an in-memory cache cannot be backed up", hint="set cache_url to a file")
    return Path(db)


def _revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None
    return str(row[0]) if row else None


def backup(engine: sa.Engine, target: Path) -> BackupInfo:
    """Copy the live SQLite cache to ``target`` (atomically: a temp file renamed into place)."""
    source = _sqlite_path(engine)
    target = target.expanduser()
    if target.resolve() == source.resolve():
        raise InputError("the backup file cannot be the cache itself", hint="choose another PATH")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with contextlib.closing(sqlite3.connect(source)) as src, \
                contextlib.closing(sqlite3.connect(tmp)) as dst:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
            revision = _revision(dst)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return BackupInfo(target, revision, target.stat().st_size)


def restore(engine: sa.Engine, source: Path) -> BackupInfo:
    """Replace the live SQLite cache by the backup at ``source``; refuses a backup from a newer schema.

    The caller holds the sync lock of every realm (no sync may write during a restore).
    """
    live = _sqlite_path(engine)
    source = source.expanduser()
    if not source.is_file():
        raise InputError(f"no backup file at {source}", hint="give the PATH a `qbsync backup` wrote")
    with contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src:
        try:
            ok = src.execute("PRAGMA quick_check").fetchone()
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{source} is not a SQLite database ({exc})",
                             hint="give the PATH a `qbsync backup` wrote") from exc
        if not ok or ok[0] != "ok":
            raise CacheError(f"{source} is damaged ({ok[0] if ok else 'no answer'})",
                             hint="restore an older backup")
        revision = _revision(src)
        if revision is None:
            raise InputError(f"{source} is not a qbsync cache backup (no schema revision)",
                             hint="give the PATH a `qbsync backup` wrote")
        check_revisions({revision}, f"the backup {source}")
        if not src.execute("SELECT 1 FROM realms LIMIT 1").fetchone():
            # An empty backup (say, of a mistyped cache path) would wipe every company, its plans
            # and the write-back audit log that undo needs.
            raise InputError(f"the backup {source} holds no company: restoring it would empty the cache",
                             hint="give the PATH of a backup taken from a synced cache")
        engine.dispose()
        with contextlib.closing(sqlite3.connect(live, timeout=30)) as dst:
            src.backup(dst)  # one write transaction on the live database: all or nothing
    if revision != head_revision():
        upgrade(engine)
    return BackupInfo(source, revision, source.stat().st_size)
