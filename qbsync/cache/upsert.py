"""Dialect-aware bulk writes of mapped QBO objects: INSERT .. ON CONFLICT DO UPDATE, child rows, deletes.

Every function takes an open ``Connection`` inside the caller's transaction, so the caller commits the
rows together with the sync bookmark that covers them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from qbsync.cache.mapping import TABLES, Mapped, Row
from qbsync.cache.models import Base

_CHUNK = 500  # ids per IN (...) list: far below SQLite's and PostgreSQL's parameter limits


def table(name: str) -> sa.Table:
    return Base.metadata.tables[name]


def _insert(conn: sa.Connection, tbl: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(tbl)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(tbl)
    raise NotImplementedError(f"upserts are not implemented for {conn.dialect.name}")


def upsert(conn: sa.Connection, tbl: sa.Table, rows: Sequence[Row]) -> int:
    """Insert ``rows`` or overwrite the rows with the same primary key; returns how many were sent."""
    if not rows:
        return 0
    pk = [c.name for c in tbl.primary_key.columns]
    stmt = _insert(conn, tbl)
    cols = [c.name for c in tbl.columns if c.name not in pk and c.name in rows[0]]
    stmt = stmt.on_conflict_do_update(index_elements=pk, set_={c: stmt.excluded[c] for c in cols})
    conn.execute(stmt, list(rows))
    return len(rows)


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
        conn.execute(sa.insert(table("payment_links")), links)
    if lines:
        conn.execute(sa.insert(table("sales_lines")), lines)
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
