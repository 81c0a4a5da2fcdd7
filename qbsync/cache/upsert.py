"""Dialect-aware bulk writes of mapped QBO objects: INSERT .. ON CONFLICT DO UPDATE, child rows, deletes.

Every function takes an open ``Connection`` inside the caller's transaction, so the caller commits the
rows together with the sync bookmark that covers them.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import sqlalchemy as sa
from psycopg.types.json import Jsonb

from qbsync.cache.mapping import TABLES, Mapped, Row
from qbsync.cache.models import Base
from qbsync.cache.types import CENT, Money, UTCDateTime

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
        procs = [_fast_processor(conn.dialect.name, tbl.c[n].type)
                 or tbl.c[n].type._cached_bind_processor(conn.dialect) for n in names]
        _PREPARED[key] = (sql, list(names), procs)
    return _PREPARED[key]


def _orjson_text(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _jsonb(value: Any) -> Any:
    return None if value is None else Jsonb(value, dumps=orjson.dumps)


def _sqlite_utc(value: datetime | None) -> str | None:
    """UTCDateTime on SQLite, in SQLAlchemy's exact text form (bookmarks compare these strings)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} given to a UTC column")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    text = value.replace(tzinfo=None).isoformat(" ")
    return text if value.microsecond else text + ".000000"


def _sqlite_cents(value: Decimal | int | str | None) -> int | None:
    """Money on SQLite (integer cents); same rounding as Money.process_bind_param."""
    if value is None:
        return None
    amount = value if type(value) is Decimal else Decimal(str(value))
    return int(amount.quantize(CENT) * 100)


def _pg_money(value: Decimal | int | str | None) -> Decimal | None:
    if value is None:
        return None
    return (value if type(value) is Decimal else Decimal(str(value))).quantize(CENT)


def _fast_processor(dialect: str, col_type: Any) -> Callable[[Any], Any] | None:
    """Bind processors for the write path's hot column types, without TypeDecorator's layers.

    Each produces exactly what the column type's own processor does (tests/cache compares them); the
    JSON ones encode with orjson, several times faster than the json module on QBO objects."""
    if isinstance(col_type, sa.types.TypeDecorator):
        if dialect == "sqlite" and isinstance(col_type, UTCDateTime):
            return _sqlite_utc
        if dialect == "sqlite" and isinstance(col_type, Money):
            return _sqlite_cents
        if dialect == "postgresql" and isinstance(col_type, Money):
            return _pg_money
        return None
    variant = col_type._variant_mapping.get(dialect, col_type) if hasattr(col_type, "_variant_mapping") \
        else col_type
    if isinstance(variant, sa.JSON):
        return _jsonb if dialect == "postgresql" else _orjson_text
    return None


def upsert(conn: sa.Connection, tbl: sa.Table, rows: Sequence[Row]) -> int:
    """Insert ``rows`` or overwrite the rows with the same primary key; returns how many were sent."""
    if not rows:
        return 0
    sql, order, procs = _prepare(conn, tbl, tuple(rows[0]))
    pairs = list(zip(order, procs, strict=True))
    if conn.dialect.name == "postgresql" and len(rows) >= _PG_COPY_MIN:
        _pg_copy(conn, tbl, sql, pairs, rows)
        return len(rows)
    conn.exec_driver_sql(sql, _values(pairs, rows))
    return len(rows)


def _values(pairs: list[tuple[str, Callable[[Any], Any] | None]], rows: Sequence[Row]) -> list[Any]:
    """Driver parameters of ``rows``: columns picked in C by itemgetter, converted only where needed."""
    pick = operator.itemgetter(*(n for n, _ in pairs))
    convert = [(i, p) for i, (_, p) in enumerate(pairs) if p is not None]
    if len(pairs) == 1:
        return [tuple(p(r[n]) if p else r[n] for n, p in pairs) for r in rows]
    out: list[Any] = []
    for r in rows:
        vals = list(pick(r))
        for i, p in convert:
            vals[i] = p(vals[i])
        out.append(tuple(vals))  # SQLAlchemy takes a list of tuples, not of lists
    return out


# psycopg's executemany still costs a round trip per row (pipelined, but ~3,400 rows/s) and a multi-row
# VALUES measured slower still; COPY into a temporary table and one INSERT .. SELECT .. ON CONFLICT from
# it is one round trip per page.
_PG_COPY_MIN = 50


def _pg_copy(conn: sa.Connection, tbl: sa.Table, sql: str,
             pairs: list[tuple[str, Callable[[Any], Any] | None]], rows: Sequence[Row]) -> None:
    q = conn.dialect.identifier_preparer.quote
    stage = q(f"qbsync_stage_{tbl.name}")
    cols = ", ".join(q(n) for n, _ in pairs)
    _, _, conflict = sql.partition(") ON CONFLICT")
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cur:
        # ON COMMIT DROP would re-create it for every page; the table lives for the session instead and
        # is emptied after use (a rolled-back transaction takes a just-created one with it: IF NOT EXISTS).
        cur.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} "
                    f"(LIKE {q(tbl.name)} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
        with cur.copy(f"COPY {stage} ({cols}) FROM STDIN") as copy:
            for vals in _values(pairs, rows):
                copy.write_row(vals)
        cur.execute(f"INSERT INTO {q(tbl.name)} ({cols}) SELECT {cols} FROM {stage} ON CONFLICT{conflict}")
        cur.execute(f"DELETE FROM {stage}")


def insert_rows(conn: sa.Connection, tbl: sa.Table, rows: Sequence[Row]) -> int:
    """Plain inserts through the same fast path (child rows, deleted just before)."""
    return upsert(conn, tbl, rows)


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i:i + _CHUNK]


def _id_list(conn: sa.Connection) -> tuple[str, Callable[[Sequence[str]], Any]]:
    """An ``IN`` over one bound list of ids: no per-id parameters for SQLAlchemy to render and cache."""
    if conn.dialect.name == "postgresql":
        return "= ANY(%s)", list
    return "IN (SELECT value FROM json_each(?))", lambda ids: orjson.dumps(list(ids)).decode()


def _where(conn: sa.Connection, tbl: str, *cols: str) -> str:
    q = conn.dialect.identifier_preparer.quote
    holder = "%s" if conn.dialect.name == "postgresql" else "?"
    return f"{q(tbl)} WHERE " + " AND ".join(f"{q(c)} = {holder}" for c in cols)


def _delete_children(conn: sa.Connection, entity: str, realm_id: str, ids: Sequence[str]) -> None:
    in_ids, bind = _id_list(conn)
    if entity == "Payment":
        conn.exec_driver_sql(f"DELETE FROM {_where(conn, 'payment_links', 'realm_id')} "
                             f"AND payment_id {in_ids}", (realm_id, bind(ids)))
    if entity in ("Invoice", "SalesReceipt", "CreditMemo", "Estimate"):
        conn.exec_driver_sql(f"DELETE FROM {_where(conn, 'sales_lines', 'realm_id', 'txn_type')} "
                             f"AND txn_id {in_ids}", (realm_id, entity, bind(ids)))


def sync_tokens(conn: sa.Connection, entity: str, realm_id: str, ids: Sequence[str]) -> dict[str, str]:
    """Id -> cached SyncToken of those of ``ids`` already in the cache."""
    if not ids:
        return {}
    in_ids, bind = _id_list(conn)
    sql = f"SELECT id, sync_token FROM {_where(conn, TABLES[entity], 'realm_id')} AND id {in_ids}"
    return {str(rid): str(token) for rid, token in conn.exec_driver_sql(sql, (realm_id, bind(ids)))}


def write_objects(conn: sa.Connection, entity: str, realm_id: str, objects: Sequence[Mapped],
                  cached: Collection[str] | None = None) -> int:
    """Upsert mapped objects of one entity and replace their payment links / sales lines.

    ``cached``: those of the objects' Ids already in the cache, when the caller knows them."""
    if not objects:
        return 0
    # The last version of an Id wins (CDC answers and overlapping windows may repeat an object).
    latest: dict[str, Mapped] = {}
    for m in objects:
        latest[m.row["id"]] = m
    items = list(latest.values())
    if cached is None:
        cached = sync_tokens(conn, entity, realm_id, list(latest)).keys()
    # Only objects already cached can have child rows; skipping the others keeps a first full sync free
    # of DELETEs, which PostgreSQL plans badly (a filter, not an index search) while the fresh table's
    # statistics still say it is empty.
    old = [i for i in latest if i in cached]
    upsert(conn, table(TABLES[entity]), [m.row for m in items])
    if old:
        _delete_children(conn, entity, realm_id, old)
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
