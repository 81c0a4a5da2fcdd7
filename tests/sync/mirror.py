"""Assert that the cache mirrors QBO record for record and field for field (rows, children, raw JSON)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from qbsync.cache.mapping import PAYMENT_LINKS, SALES_LINES, Child
from qbsync.cache.models import ENTITIES, Base
from tests.cache.reference_mapping import map_object

JsonDict = dict[str, Any]


def _norm(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("seen_at",)}


def _with(child: Child) -> list[str]:
    return [name for name, e in ENTITIES.items() if child in e.children]


def mirror_diff(engine: sa.Engine, realm_id: str, snapshot: dict[str, dict[str, JsonDict]]) -> list[str]:
    """Human-readable differences between the cache and ``snapshot`` (entity -> Id -> object)."""
    problems: list[str] = []
    meta = Base.metadata
    with engine.connect() as conn:
        for entity, declared in ENTITIES.items():
            tbl = meta.tables[declared.table]
            rows = {r["id"]: dict(r) for r in conn.execute(
                sa.select(tbl).where(tbl.c.realm_id == realm_id)).mappings()}
            want = snapshot.get(entity, {})
            missing = sorted(set(want) - set(rows), key=int)
            extra = sorted(set(rows) - set(want), key=int)
            if missing:
                problems.append(f"{entity}: missing {len(missing)} e.g. {missing[:5]}")
            if extra:
                problems.append(f"{entity}: extra {len(extra)} e.g. {extra[:5]}")
            for id_, obj in want.items():
                if id_ not in rows:
                    continue
                expected = _norm(map_object(entity, realm_id, obj).row)
                got = _norm(rows[id_])
                for col, value in expected.items():
                    if got.get(col) != value:
                        problems.append(f"{entity} {id_}.{col}: cache {got.get(col)!r} != qbo {value!r}")
                        break
        links = meta.tables["payment_links"]
        got_links = sorted(tuple(r) for r in conn.execute(
            sa.select(links.c.payment_id, links.c.line_no, links.c.txn_id, links.c.txn_type, links.c.amount)
            .where(links.c.realm_id == realm_id)))
        want_links = sorted((r["payment_id"], r["line_no"], r["txn_id"], r["txn_type"], r["amount"])
                            for e in _with(PAYMENT_LINKS) for p in snapshot.get(e, {}).values()
                            for r in map_object(e, realm_id, p).payment_links)
        if got_links != want_links:
            problems.append(f"payment_links differ: cache {len(got_links)} rows, qbo {len(want_links)}")
        lines = meta.tables["sales_lines"]
        got_lines = sorted(tuple(r) for r in conn.execute(
            sa.select(lines.c.txn_type, lines.c.txn_id, lines.c.line_no, lines.c.item_id, lines.c.amount)
            .where(lines.c.realm_id == realm_id)))
        want_lines = sorted((r["txn_type"], r["txn_id"], r["line_no"], r["item_id"], r["amount"])
                            for e in _with(SALES_LINES)
                            for o in snapshot.get(e, {}).values()
                            for r in map_object(e, realm_id, o).sales_lines)
        if got_lines != want_lines:
            problems.append(f"sales_lines differ: cache {len(got_lines)} rows, qbo {len(want_lines)}")
    return problems
