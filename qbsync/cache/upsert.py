"""Writes of QBO objects to the cache: pages and answers mapped in the database, child rows, deletes.

Every function takes an open ``Connection`` inside the caller's transaction, so the caller commits the
rows together with the sync bookmark that covers them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa

from qbsync.cache.jsonsql import json_path, page_sql
from qbsync.cache.mapping import JsonDict
from qbsync.cache.models import Base
from qbsync.cache.models import entity as declared
from qbsync.cache.read import chunked
from qbsync.errors import ServerError


def table(name: str) -> sa.Table:
    return Base.metadata.tables[name]


def _table_of(entity: str) -> sa.Table:
    return declared(entity).model.__table__  # type: ignore[return-value]


def _sqlite_utc(value: datetime) -> str:
    """A UTC datetime on SQLite, in SQLAlchemy's exact text form (bookmarks compare these strings)."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} given to a UTC column")
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
    return text if value.microsecond else text + ".000000"


@dataclass
class Written:
    """What writing one page or answer did: objects in it, of those already cached, and changed ones."""

    fetched: int = 0
    cached: int = 0
    changed: int = 0


def write_json(conn: sa.Connection, entity: str, realm_id: str, document: str | bytes, path: Sequence[str],
               seen_at: datetime | None) -> Written:
    """Upsert the objects of the JSON array at ``path`` in ``document`` and replace their child rows.

    The database parses and maps the JSON (``jsonsql``); the last object of an Id wins (CDC answers
    and overlapping windows may repeat one)."""
    dialect = conn.dialect.name
    sql = page_sql(dialect, entity)
    text = document.decode() if isinstance(document, bytes) else document
    stamp: Any = _sqlite_utc(seen_at) if dialect == "sqlite" and seen_at is not None else seen_at
    if dialect == "postgresql":
        # jsonb_array_elements is costed at 100 rows a call, so the child-row statements look huge and
        # PostgreSQL spends ~200 ms JIT-compiling them, ten times what they take to run.
        conn.exec_driver_sql("SET LOCAL jit = off")
        conn.exec_driver_sql("SET LOCAL TimeZone = 'UTC'")  # QBO times without an offset are UTC
    conn.exec_driver_sql(sql.create_stage)
    try:
        conn.exec_driver_sql(sql.stage, (text, json_path(dialect, path)))
    except sa.exc.DBAPIError as exc:
        raise ServerError(f"QuickBooks sent {entity} data that is not valid JSON ({len(text):,} characters)",
                          hint="run the sync again: it resumes where it stopped") from exc
    conn.exec_driver_sql(sql.dedupe)
    staged, cached, unchanged = conn.exec_driver_sql(sql.counts, (realm_id,)).one()
    done = Written(int(staged), int(cached), int(staged) - int(unchanged))
    if done.fetched:
        # Only objects already cached can have child rows; skipping the DELETE otherwise keeps a first
        # full sync free of them (PostgreSQL plans them badly while a fresh table's statistics say empty).
        if done.cached:
            for statement in sql.delete_children:
                conn.exec_driver_sql(statement, (realm_id,))
        conn.exec_driver_sql(sql.insert, (realm_id, stamp))
        for child in sql.children:
            conn.exec_driver_sql(child, (realm_id,))
    conn.exec_driver_sql(sql.clear)
    return done


def write_objects(conn: sa.Connection, entity: str, realm_id: str, objects: Sequence[JsonDict],
                  seen_at: datetime | None) -> Written:
    """``write_json`` for objects already decoded (CDC answers, tests)."""
    if not objects:
        return Written()
    return write_json(conn, entity, realm_id, orjson.dumps(list(objects)), (), seen_at)


def _id_list(conn: sa.Connection) -> tuple[str, Callable[[Sequence[str]], Any]]:
    """An ``IN`` over one bound list of ids: no per-id parameters for SQLAlchemy to render and cache."""
    if conn.dialect.name == "postgresql":
        return "= ANY(%s)", list
    return "IN (SELECT value FROM json_each(?))", lambda ids: orjson.dumps(list(ids)).decode()


def _where(conn: sa.Connection, tbl: str, *cols: str) -> str:
    q = conn.dialect.identifier_preparer.quote
    holder = "%s" if conn.dialect.name == "postgresql" else "?"
    return f"{q(tbl)} WHERE " + " AND ".join(f"{q(c)} = {holder}" for c in cols)


def _delete_children(conn: sa.Connection, name: str, realm_id: str, ids: Sequence[str]) -> None:
    in_ids, bind = _id_list(conn)
    for child in declared(name).children:
        if child.typed:
            conn.exec_driver_sql(f"DELETE FROM {_where(conn, child.table, 'realm_id', 'txn_type')} "
                                 f"AND {child.parent} {in_ids}", (realm_id, name, bind(ids)))
        else:
            conn.exec_driver_sql(f"DELETE FROM {_where(conn, child.table, 'realm_id')} "
                                 f"AND {child.parent} {in_ids}", (realm_id, bind(ids)))


def delete_objects(conn: sa.Connection, entity: str, realm_id: str, ids: Sequence[str]) -> int:
    """Remove objects (and their child rows) that QBO deleted; returns how many rows went away."""
    if not ids:
        return 0
    ids = list(dict.fromkeys(ids))
    _delete_children(conn, entity, realm_id, ids)
    tbl = _table_of(entity)
    gone = 0
    for part in chunked(ids):
        result = conn.execute(tbl.delete().where(tbl.c.realm_id == realm_id, tbl.c.id.in_(part)))
        gone += result.rowcount or 0
    return gone


def delete_unseen(conn: sa.Connection, entity: str, realm_id: str, seen_since: Any) -> int:
    """Delete rows a full pass did not see (``seen_at`` before the pass began): gone from QBO."""
    tbl = _table_of(entity)
    stale = sa.select(tbl.c.id).where(tbl.c.realm_id == realm_id,
                                      sa.or_(tbl.c.seen_at.is_(None), tbl.c.seen_at < seen_since))
    ids = [r[0] for r in conn.execute(stale)]
    return delete_objects(conn, entity, realm_id, ids)


def has_rows(conn: sa.Connection, entity: str, realm_id: str) -> bool:
    """Whether the cache holds any row of ``entity`` for the realm (one index probe)."""
    tbl = _table_of(entity)
    return conn.execute(sa.select(tbl.c.id).where(tbl.c.realm_id == realm_id).limit(1)).first() is not None


def count_rows(conn: sa.Connection, entity: str, realm_id: str) -> int:
    tbl = _table_of(entity)
    return int(conn.execute(sa.select(sa.func.count()).select_from(tbl)
                            .where(tbl.c.realm_id == realm_id)).scalar_one())
