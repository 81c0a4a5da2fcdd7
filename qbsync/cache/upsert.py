"""Dialect-aware bulk writes of mapped QBO objects: INSERT .. ON CONFLICT DO UPDATE, child rows, deletes.

Every function takes an open ``Connection`` inside the caller's transaction, so the caller commits the
rows together with the sync bookmark that covers them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from qbsync.cache.mapping import TABLES, Mapped, Row
from qbsync.cache.models import Base

_CHUNK = 500  # ids per IN (...) list: far below SQLite's and PostgreSQL's parameter limits


def table(name: str) -> sa.Table:
    return Base.metadata.tables[name]


_Prepared = tuple[str, list[str], list[Any]]
_PREPARED: dict[tuple[str, str, tuple[str, ...]], _Prepared] = {}


def _prepare(conn: sa.Connection, tbl: sa.Table, names: tuple[str, ...]) -> _Prepared:
    """The driver-level SQL of the upsert and each parameter's bind processor, built once.

    Rows then go to the driver without SQLAlchemy's per-row parameter handling, which dominated the
    write path (the type conversions of Money, UTCDateTime and JSON still run, column by column)."""
    key = (conn.dialect.name, tbl.name, names)
    if key not in _PREPARED:
        if conn.dialect.name not in ("sqlite", "postgresql"):
            raise NotImplementedError(f"upserts are not implemented for {conn.dialect.name}")
        q = conn.dialect.identifier_preparer.quote
        pk = [c.name for c in tbl.primary_key.columns]
        holders = ", ".join("?" if conn.dialect.name == "sqlite" else "%s" for _ in names)
        updates = [n for n in names if n not in pk]
        conflict = (f" ON CONFLICT ({', '.join(q(c) for c in pk)}) " +
                    (f"DO UPDATE SET {', '.join(f'{q(n)} = excluded.{q(n)}' for n in updates)}"
                     if updates else "DO NOTHING"))
        sql = f"INSERT INTO {q(tbl.name)} ({', '.join(q(n) for n in names)}) VALUES ({holders}){conflict}"
        procs = [tbl.c[n].type._cached_bind_processor(conn.dialect) for n in names]
        _PREPARED[key] = (sql, list(names), procs)
    return _PREPARED[key]


def upsert(conn: sa.Connection, tbl: sa.Table, rows: Sequence[Row]) -> int:
    """Insert ``rows`` or overwrite the rows with the same primary key; returns how many were sent."""
    if not rows:
        return 0
    sql, order, procs = _prepare(conn, tbl, tuple(rows[0]))
    pairs = list(zip(order, procs, strict=True))
    if conn.dialect.name == "postgresql" and _PG_MULTIROW:
        _pg_multirow(conn, sql, pairs, rows)
        return len(rows)
    params = [tuple(p(r[n]) if p else r[n] for n, p in pairs) for r in rows]
    conn.exec_driver_sql(sql, params)
    return len(rows)


_PG_MULTIROW = False  # measured slower than psycopg's pipelined executemany (docs/benchmarks.md)
_PG_PARAMS = 60_000  # PostgreSQL takes at most 65,535 parameters per statement


def _pg_multirow(conn: sa.Connection, sql: str, pairs: list[tuple[str, Callable[[Any], Any] | None]],
                 rows: Sequence[Row]) -> None:
    """One INSERT .. VALUES (..), (..) .. per chunk: psycopg's executemany costs a round trip per row."""
    head, _, rest = sql.partition(" VALUES ")
    _, sep, tail = rest.partition(") ON CONFLICT")
    tail = " ON CONFLICT" + tail if sep else ""
    per_row = max(1, _PG_PARAMS // max(1, len(pairs)))
    for start in range(0, len(rows), per_row):
        chunk = rows[start:start + per_row]
        group = "(" + ", ".join("%s" for _ in pairs) + ")"
        params = tuple(proc(r[n]) if proc else r[n] for r in chunk for n, proc in pairs)
        conn.exec_driver_sql(f"{head} VALUES {', '.join(group for _ in chunk)}{tail}", params)


def insert_rows(conn: sa.Connection, tbl: sa.Table, rows: Sequence[Row]) -> int:
    """Plain inserts through the same fast path (child rows, deleted just before)."""
    return upsert(conn, tbl, rows)


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i:i + _CHUNK]


def _delete_children(conn: sa.Connection, entity: str, realm_id: str, ids: Sequence[str]) -> None:
    if entity == "Payment":
        links = table("payment_links")
        for part in _chunks(ids):
            conn.execute(links.delete().where(links.c.realm_id == realm_id, links.c.payment_id.in_(part)))
    lines = table("sales_lines")
    if entity in ("Invoice", "SalesReceipt", "CreditMemo", "Estimate"):
        for part in _chunks(ids):
            conn.execute(lines.delete().where(lines.c.realm_id == realm_id, lines.c.txn_type == entity,
                                              lines.c.txn_id.in_(part)))


def write_objects(conn: sa.Connection, entity: str, realm_id: str, objects: Sequence[Mapped]) -> int:
    """Upsert mapped objects of one entity and replace their payment links / sales lines."""
    if not objects:
        return 0
    # The last version of an Id wins (CDC answers and overlapping windows may repeat an object).
    latest: dict[str, Mapped] = {}
    for m in objects:
        latest[m.row["id"]] = m
    items = list(latest.values())
    upsert(conn, table(TABLES[entity]), [m.row for m in items])
    ids = list(latest)
    _delete_children(conn, entity, realm_id, ids)
    links = [r for m in items for r in m.payment_links]
    lines = [r for m in items for r in m.sales_lines]
    if links:
        insert_rows(conn, table("payment_links"), links)
    if lines:
        insert_rows(conn, table("sales_lines"), lines)
    return len(items)


def delete_objects(conn: sa.Connection, entity: str, realm_id: str, ids: Sequence[str]) -> int:
    """Remove objects (and their child rows) that QBO deleted; returns how many rows went away."""
    if not ids:
        return 0
    ids = list(dict.fromkeys(ids))
    _delete_children(conn, entity, realm_id, ids)
    tbl = table(TABLES[entity])
    gone = 0
    for part in _chunks(ids):
        result = conn.execute(tbl.delete().where(tbl.c.realm_id == realm_id, tbl.c.id.in_(part)))
        gone += result.rowcount or 0
    return gone


def delete_unseen(conn: sa.Connection, entity: str, realm_id: str, seen_since: Any) -> int:
    """Delete rows a full pass did not see (``seen_at`` before the pass began): gone from QBO."""
    tbl = table(TABLES[entity])
    stale = sa.select(tbl.c.id).where(tbl.c.realm_id == realm_id,
                                      sa.or_(tbl.c.seen_at.is_(None), tbl.c.seen_at < seen_since))
    ids = [r[0] for r in conn.execute(stale)]
    return delete_objects(conn, entity, realm_id, ids)


def count_rows(conn: sa.Connection, entity: str, realm_id: str) -> int:
    tbl = table(TABLES[entity])
    return int(conn.execute(sa.select(sa.func.count()).select_from(tbl)
                            .where(tbl.c.realm_id == realm_id)).scalar_one())
