"""Opening the cache: engine creation with the right per-backend settings, and sessions."""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from qbsync.cache import (  # noqa: F401  (register their tables)
    audit_models,
    campaign_models,
    customer_models,
    fleet_models,
    report_models,
)
from qbsync.cache.models import Base
from qbsync.errors import CacheError

#: What SQLite says of a file that is not (or no longer) a whole database
_DAMAGED = ("file is not a database", "malformed", "disk image", "file is encrypted")


def cache_error(exc: sa.exc.DBAPIError, url: sa.URL | str | None = None) -> CacheError:
    """The one message for a database error met while using the cache (opening it or mid-command)."""
    where = "" if url is None else " at " + sa.engine.make_url(url).render_as_string(hide_password=True)
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
    if any(mark in reason.lower() for mark in _DAMAGED):
        return CacheError(f"the cache{where} is damaged ({reason})",
                          hint="restore it from a backup (`qbsync restore FILE`), or move it aside and run "
                               "`qbsync sync` to mirror the company again (notes, plans and the write-back "
                               "log live only in the cache and its backups)")
    if "no schema has been selected" in reason:  # PostgreSQL: the URL's search_path names no schema there
        return CacheError(f"cannot open the cache{where}: the schema its search_path names does not exist",
                          hint=f"create it first (CREATE SCHEMA {_search_path(url) or 'name'};), or leave "
                               "the search_path option out of the URL to use the public schema")
    return CacheError(f"cannot open the cache{where}: {reason}",
                      hint="check the cache_url setting and that the database is reachable")


def _search_path(url: sa.URL | str | None) -> str | None:
    """The first schema of a URL's ``options=-csearch_path=...`` (how a cache URL chooses its schema)."""
    if url is None:
        return None
    options = sa.engine.make_url(url).query.get("options")
    text = " ".join(options) if isinstance(options, tuple) else (options or "")
    found = re.search(r"search_path\s*=\s*([^,\s]+)", text)
    return found.group(1).strip('"') if found else None


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers never block the sync writer
    cur.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; a crash loses at most the last commit
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # A 64 MiB page cache (default 2 MiB) keeps the indexes a sync writes into in memory, and a
    # checkpoint every ~64 MiB of WAL (default 4 MiB) copies each hot index page back once, not
    # after every few pages of a full sync; both cut the writer's time by about a third.
    cur.execute("PRAGMA cache_size=-65536")
    cur.execute("PRAGMA wal_autocheckpoint=16384")
    # The writer stages each page (1-3 MB of JSON) in a temporary table: in memory, not a temp file,
    # it costs ~10 % less per page (issue 15).
    cur.execute("PRAGMA temp_store=MEMORY")
    # Reads map the file instead of copying each page missing from the page cache out of the OS's:
    # on 100,000 customers (a 0.9 GB cache, fourteen times the page cache) the reports' and rules'
    # probes into the tables cost up to a quarter less (issue 15). Up to 2 GiB (SQLite's default
    # build caps it there); writes go through the file as before.
    cur.execute("PRAGMA mmap_size=2147483648")
    cur.close()


def make_engine(url: str, **kw: Any) -> sa.Engine:
    """An engine for ``url`` with WAL and sane pragmas on SQLite."""
    engine = sa.create_engine(url, **kw)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def stale_statistics(written: Mapping[str, int], known: Mapping[str, float]) -> list[str]:
    """The tables of ``written`` (table -> rows a full pass just wrote) whose planner statistics
    ``known`` (table -> rows they count; negative or absent: never gathered) are missing or would be
    changed by those rows beyond autovacuum's own threshold (50 rows and a tenth of the table); pure.
    One more small company synced into a cache of thousands leaves them alone."""
    return [table for table, rows in written.items()
            if known.get(table, -1.0) < 0 or rows > 50 + 0.1 * known[table]]


def refresh_statistics(engine: sa.Engine, written: Mapping[str, int]) -> None:
    """On PostgreSQL, ``ANALYZE`` the tables of ``written`` whose statistics are missing or stale
    (``stale_statistics``): its planner chooses by statistics, and a table just filled has none until
    autovacuum gets to it (a minute or more). Meanwhile it plans as for a few rows: nested loops
    that re-read a whole table per row (a review measured the journal lines against their entries at
    116 ms for 1,000 entries, 346 ms for 2,000). SQLite plans by its indexes: nothing to do."""
    if engine.dialect.name != "postgresql" or not written:
        return
    with engine.begin() as conn:
        known: dict[str, float] = dict(conn.execute(sa.text(
            "SELECT c.relname, c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname = ANY(:names)"),
            {"names": list(written)}).all())
        for table in stale_statistics(written, known):
            conn.execute(sa.text(f'ANALYZE "{table}"'))


def create_schema(engine: sa.Engine) -> None:
    """Create every table (tests and first runs; migrations take over for upgrades)."""
    Base.metadata.create_all(engine)


def session_factory(engine: sa.Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


class WalCheckpointer:
    """Checkpoints a SQLite cache's WAL on a thread of its own while a sync writes, so the writer need not.

    SQLite's automatic checkpoint runs inside the commit that crosses the threshold: the writer stops
    to copy pages back and fsync. Checkpointing here every few commits keeps the WAL short, so the
    writer never reaches that threshold, and SQLite does the copying outside the GIL, on the other
    core. A no-op on other databases (and for in-memory SQLite).
    """

    def __init__(self, engine: sa.Engine, every: int = 4) -> None:
        self.engine = engine
        self.every = max(1, every)
        self.active = engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:")
        self._commits = 0
        self._due = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.checkpoints = 0

    def __enter__(self) -> WalCheckpointer:
        if self.active:
            self._thread = threading.Thread(target=self._run, name="qbsync-checkpoint", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._due.set()
            self._thread.join()
            self._thread = None

    def committed(self) -> None:
        """The writer committed a transaction (called from the writer's thread)."""
        self._commits += 1
        if self._commits % self.every == 0:
            self._due.set()

    def _run(self) -> None:
        conn = self.engine.raw_connection()
        try:
            while True:
                self._due.wait()
                self._due.clear()
                cur = conn.cursor()
                cur.execute("PRAGMA wal_checkpoint(PASSIVE)")  # never blocks the writer
                cur.fetchall()
                cur.close()
                self.checkpoints += 1
                if self._stop.is_set():  # the last one ran after the writer's last commit
                    return
        finally:
            conn.close()
