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
