"""Shared fixtures: a cache URL on SQLite and, when reachable, on PostgreSQL (one schema per test)."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

PG_URL = os.environ.get("QBSYNC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_reachable() -> bool:
    if os.environ.get("QBSYNC_TEST_NO_PG"):
        return False
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            pass
    except OSError:
        return False
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception:
        return False
    return True


PG_AVAILABLE = _pg_reachable()

#: Loggers a command run in-process sets the level of (qbsync.cli.logs.configure).
_CONFIGURED_LOGGERS = ("", "qbsync", "alembic", "urllib3", "intuitlib", "quickbooks", "uvicorn",
                       "procrastinate")
#: Their levels before any test ran (a module-scoped fixture may run a command before a test's own
#: fixtures start, so the levels are taken here, once, not per test).
_LEVELS_AT_START = {name: logging.getLogger(name).level for name in _CONFIGURED_LOGGERS}


@pytest.fixture(autouse=True)
def _logging_levels_restored() -> Iterator[None]:
    """A command run through click's runner leaves e.g. the 'qbsync' logger at WARNING; the next
    test's caplog.at_level(DEBUG) on the root would then see nothing of qbsync's debug lines."""
    for name, level in _LEVELS_AT_START.items():
        logging.getLogger(name).setLevel(level)
    yield
    for name, level in _LEVELS_AT_START.items():
        logging.getLogger(name).setLevel(level)


BACKENDS = ["sqlite", "postgresql"] if PG_AVAILABLE else ["sqlite"]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty cache database URL; every test using it runs once per reachable backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cache.sqlite3'}"
        return
    with pg_schema_url() as url:
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Any]:
    """A fresh cache with every table, on each backend (``db_url``)."""
    from qbsync.cache.db import create_schema, make_engine

    eng = make_engine(db_url)
    create_schema(eng)
    yield eng
    eng.dispose()


@contextmanager
def pg_schema_url() -> Iterator[str]:
    """A URL into a fresh PostgreSQL schema, dropped afterwards."""
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty config file qbsync reads instead of the user's (``QBSYNC_CONFIG``); a test may write it."""
    path = tmp_path / "qbsync.toml"
    path.write_text("", encoding="utf-8")
    monkeypatch.setenv("QBSYNC_CONFIG", str(path))
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite cache URL, for tests about SQLite-only behaviour (file locks, online backup)."""
    return f"sqlite:///{tmp_path / 'cache.sqlite3'}"
