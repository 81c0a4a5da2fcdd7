"""``mapping.FIELDS`` compiled to SQL: a page of QBO JSON becomes cache rows inside the database.

Python never builds a page's objects: the response text goes to the database as one parameter,
which splits it into a staging table (one parse per object), and ``INSERT .. SELECT`` statements
fill the entity's table and its child rows from there. On SQLite every object's fields are pulled
by one multi-path ``json_extract`` into a small array (SQLite 3.40 re-parses a document on every
call, so one call per field would parse each object twenty times); on PostgreSQL the staged
``jsonb`` is read directly. Both produce what the column types' own bind processors would: UTC
times (SQLite: SQLAlchemy's text form), integer cents on SQLite, two-place numerics on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from qbsync.cache.mapping import (
    ID,
    PAYMENT_LINK,
    SALES_LINE,
    SALES_LINE_ENTITIES,
    SYNC_TOKEN,
    TABLES,
    Field,
    Path,
    fields,
)

STAGE = "qbsync_stage"
_CLASS_REF: Path = ("ClassRef", "value")

#: path -> (value expression, JSON type expression)
Accessor = Callable[[Path], tuple[str, str]]


@dataclass(frozen=True)
class PageSql:
    """The statements that write one staged page of an entity (parameters noted per statement)."""

    create_stage: str
    stage: str  # (document text, JSON path to the array of objects)
    dedupe: str
    counts: str  # (realm_id,) -> staged, already cached, unchanged (same SyncToken)
    delete_children: str | None  # (realm_id,)
    insert: str  # (realm_id, seen_at)
    children: tuple[str, ...]  # (realm_id,) each
    clear: str


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# ---- SQLite ----

def _sqlite_path(path: Path) -> str:
    return "$." + ".".join(path)


def _sqlite_expr(f: Field, acc: Accessor) -> str:
    """A column value from the JSON on SQLite, as the column's bind processor would store it."""
    values = [acc(p) for p in f.paths]

    def first(conv: Callable[[str, str], str]) -> str:
        parts = [conv(x, t) for x, t in values]
        return parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"

    def cents(x: str, t: str) -> str:
        return (f"(CASE {t} WHEN 'integer' THEN {x} * 100 WHEN 'real' THEN CAST(round({x} * 100) AS INTEGER) "
                f"WHEN 'text' THEN CAST(round(CAST({x} AS REAL) * 100) AS INTEGER) END)")

    def utc(x: str, t: str) -> str:
        # SQLite's date functions read the offset and answer in UTC; %f is seconds with milliseconds
        return f"(CASE {t} WHEN 'text' THEN substr(strftime('%Y-%m-%d %H:%M:%f', {x}), 1, 23) || '000' END)"

    def day(x: str, t: str) -> str:
        return f"(CASE {t} WHEN 'text' THEN date(substr({x}, 1, 10)) END)"

    kind = f.kind
    if kind == "text":
        out = first(lambda x, t: x)
        return out if f.default is None else f"coalesce({out}, {_sql_text(str(f.default))})"
    if kind == "ref":
        return first(lambda x, t: f"nullif({x}, '')")
    if kind == "bool":
        x, t = values[0]
        return (f"(CASE {t} WHEN 'true' THEN 1 WHEN 'false' THEN 0 "
                f"WHEN 'text' THEN lower(trim({x})) = 'true' "
                f"ELSE {int(bool(f.default))} END)")
    if kind == "money":
        return first(cents)
    if kind == "money0":
        return f"coalesce({first(cents)}, 0)"
    if kind == "int0":
        x, t = values[0]
        return f"(CASE {t} WHEN 'integer' THEN {x} WHEN 'real' THEN CAST({x} AS INTEGER) " \
               f"WHEN 'text' THEN CAST({x} AS INTEGER) ELSE 0 END)"
    if kind == "time":
        return first(utc)
    if kind == "date":
        return first(day)
    if kind == "txn_date":
        (d, dt), (c, ct) = values
        return f"coalesce({day(d, dt)}, (CASE {ct} WHEN 'text' THEN date({c}) END), '1970-01-01')"
    if kind == "voided":
        (n, _), (a, at) = values
        return (f"(lower(trim(coalesce({n}, ''), ' ' || char(9, 10, 13))) LIKE 'voided%' "
                f"AND coalesce({cents(a, at)}, 0) = 0)")
    raise ValueError(f"unknown field kind {kind}")


def _sqlite_paths(entity: str) -> list[Path]:
    paths: list[Path] = [ID, SYNC_TOKEN]
    for f in fields(entity):
        paths.extend(p for p in f.paths if p not in paths)
    if entity in SALES_LINE_ENTITIES and _CLASS_REF not in paths:
        paths.append(_CLASS_REF)
    return paths


def _sqlite_direct(base: str) -> Accessor:
    return lambda p: (f"json_extract({base}, {_sql_text(_sqlite_path(p))})",
                      f"json_type({base}, {_sql_text(_sqlite_path(p))})")


def _sqlite(entity: str) -> PageSql:
    paths = _sqlite_paths(entity)
    index = {p: i for i, p in enumerate(paths)}

    def staged(p: Path) -> tuple[str, str]:
        return f"json_extract(j, '$[{index[p]}]')", f"json_type(j, '$[{index[p]}]')"

    tbl = TABLES[entity]
    cols = fields(entity)
    names = ["realm_id", "id", "raw", "seen_at"] + [f.column for f in cols]
    exprs = ["?", "id", "v", "?"] + [_sqlite_expr(f, staged) for f in cols]
    updates = ", ".join(f'"{n}" = excluded."{n}"' for n in names[2:])
    extract = ", ".join(_sql_text(_sqlite_path(p)) for p in paths)
    stage = (f"WITH o AS MATERIALIZED (SELECT key AS k, value AS v, json_extract(value, {extract}) AS j "
             f"FROM json_each(?, ?) WHERE type = 'object') "
             f"INSERT INTO temp.{STAGE} (k, id, token, v, j) "
             f"SELECT k, json_extract(j, '$[0]'), coalesce(json_extract(j, '$[1]'), '0'), v, j FROM o "
             f"WHERE json_extract(j, '$[0]') IS NOT NULL")
    insert = (f'INSERT INTO "{tbl}" ({", ".join(chr(34) + n + chr(34) for n in names)}) '
              f"SELECT {', '.join(exprs)} FROM temp.{STAGE} WHERE true "
              f'ON CONFLICT ("realm_id", "id") DO UPDATE SET {updates}')
    children: list[str] = []
    delete_children = None
    if entity in SALES_LINE_ENTITIES:
        line_paths = [("DetailType",)] + [p for f in SALES_LINE for p in f.paths]
        at = {p: i for i, p in enumerate(line_paths)}

        def in_line(p: Path) -> tuple[str, str]:
            return f"json_extract(lj, '$[{at[p]}]')", f"json_type(lj, '$[{at[p]}]')"

        item, cls, qty, amount = (_sqlite_expr(f, in_line) for f in SALES_LINE)
        header = staged(_CLASS_REF)[0]
        # one row per top-level line, or per line inside a group line; each line's fields pulled by one
        # multi-path json_extract (materialised, so it is not re-run per column)
        pulled = ", ".join(_sql_text(_sqlite_path(p)) for p in line_paths)
        children.append(
            f"WITH x AS MATERIALIZED (SELECT s.k, s.id, s.j, l.key AS n1, g.key AS n2, "
            f"json_extract(coalesce(g.value, l.value), {pulled}) "
            f"AS lj FROM temp.{STAGE} s JOIN json_each(s.v, '$.Line') l LEFT JOIN json_each(CASE WHEN "
            "json_extract(l.value, '$.DetailType') = 'GroupLineDetail' THEN l.value ELSE '{}' END, "
            "'$.GroupLineDetail.Line') g ON g.type = 'object' WHERE l.type = 'object') "
            "INSERT INTO sales_lines (realm_id, txn_type, txn_id, line_no, item_id, class_id, qty, amount) "
            f"SELECT ?, {_sql_text(entity)}, id, row_number() OVER (PARTITION BY k ORDER BY n1, n2), "
            f"{item}, coalesce({cls}, nullif({header}, '')), {qty}, {amount} FROM x "
            "WHERE json_extract(lj, '$[0]') = 'SalesItemLineDetail'")
        delete_children = (f"DELETE FROM sales_lines WHERE realm_id = ? AND txn_type = {_sql_text(entity)} "
                           f"AND txn_id IN (SELECT id FROM temp.{STAGE})")
    if entity == "Payment":
        txn_id, txn_type = (_sqlite_expr(f, _sqlite_direct("t.value")) for f in PAYMENT_LINK)
        amount = _sqlite_expr(SALES_LINE[3], _sqlite_direct("l.value"))
        children.append(
            "INSERT INTO payment_links (realm_id, payment_id, line_no, txn_id, txn_type, amount) "
            "SELECT ?, s.id, row_number() OVER (PARTITION BY s.k ORDER BY l.key, t.key), "
            f"{txn_id}, {txn_type}, "
            f"{amount} FROM temp.{STAGE} s, json_each(s.v, '$.Line') l, "
            "json_each(CASE WHEN l.type = 'object' THEN l.value ELSE '{}' END, '$.LinkedTxn') t "
            "WHERE t.type = 'object' AND json_extract(t.value, '$.TxnId') IS NOT NULL "
            "AND json_extract(t.value, '$.TxnId') NOT IN ('', 0)")
        delete_children = (f"DELETE FROM payment_links WHERE realm_id = ? "
                           f"AND payment_id IN (SELECT id FROM temp.{STAGE})")
    return PageSql(
        create_stage=f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} "
                     "(k INTEGER, id TEXT, token TEXT, v TEXT, j TEXT)",
        stage=stage,
        dedupe=f"DELETE FROM temp.{STAGE} WHERE k NOT IN (SELECT max(k) FROM temp.{STAGE} GROUP BY id)",
        counts=("SELECT count(*), count(t.id), coalesce(sum(t.sync_token IS s.token), 0) "
                f'FROM temp.{STAGE} s '
                f'LEFT JOIN "{tbl}" t ON t.realm_id = ? AND t.id = s.id'),
        delete_children=delete_children, insert=insert, children=tuple(children),
        clear=f"DELETE FROM temp.{STAGE}")


# ---- PostgreSQL ----

_NUMBER_RE = r"^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$"
_DAY_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"


def _pg_direct(base: str) -> Accessor:
    def acc(p: Path) -> tuple[str, str]:
        lit = _sql_text("{" + ",".join(p) + "}")
        return f"({base} #>> {lit})", f"jsonb_typeof({base} #> {lit})"
    return acc


def _pg_expr(f: Field, acc: Accessor) -> str:
    """A column value from the staged jsonb on PostgreSQL (no '%': psycopg reads it as a placeholder)."""
    values = [acc(p) for p in f.paths]

    def first(conv: Callable[[str, str], str]) -> str:
        parts = [conv(x, t) for x, t in values]
        return parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"

    def amount(x: str, t: str) -> str:
        return (f"(CASE {t} WHEN 'number' THEN round({x}::numeric, 2) WHEN 'string' THEN "
                f"(CASE WHEN btrim({x}) ~ {_sql_text(_NUMBER_RE)} "
                f"THEN round(btrim({x})::numeric, 2) END) END)")

    def utc(x: str, t: str) -> str:
        # the writer's transaction runs with TimeZone UTC, so a time without an offset is read as UTC
        return f"(CASE WHEN {t} = 'string' AND {x} ~ {_sql_text(_DAY_RE)} THEN {x}::timestamptz END)"

    def day(x: str, t: str) -> str:
        return f"(CASE WHEN {t} = 'string' AND {x} ~ {_sql_text(_DAY_RE)} THEN substr({x}, 1, 10)::date END)"

    kind = f.kind
    if kind == "text":
        out = first(lambda x, t: x)
        return out if f.default is None else f"coalesce({out}, {_sql_text(str(f.default))})"
    if kind == "ref":
        return first(lambda x, t: f"nullif({x}, '')")
    if kind == "bool":
        x, t = values[0]
        return (f"(CASE {t} WHEN 'boolean' THEN {x}::boolean WHEN 'string' THEN lower(btrim({x})) = 'true' "
                f"ELSE {'true' if f.default else 'false'} END)")
    if kind == "money":
        return first(amount)
    if kind == "money0":
        return f"coalesce({first(amount)}, 0)"
    if kind == "int0":
        x, t = values[0]
        return (f"coalesce((CASE {t} WHEN 'number' THEN trunc({x}::numeric)::integer WHEN 'string' THEN "
                f"(CASE WHEN btrim({x}) ~ '^[-+]?[0-9]+$' THEN btrim({x})::integer END) END), 0)")
    if kind == "time":
        return first(utc)
    if kind == "date":
        return first(day)
    if kind == "txn_date":
        (d, dt), (c, ct) = values
        return f"coalesce({day(d, dt)}, ({utc(c, ct)} AT TIME ZONE 'UTC')::date, DATE '1970-01-01')"
    if kind == "voided":
        (n, _), (a, at) = values
        return (f"(starts_with(lower(btrim(coalesce({n}, ''), E' \\t\\r\\n')), 'voided') "
                f"AND coalesce({amount(a, at)}, 0) = 0)")
    raise ValueError(f"unknown field kind {kind}")


def _pg(entity: str) -> PageSql:
    tbl = TABLES[entity]
    cols = fields(entity)
    doc = _pg_direct("v")
    names = ["realm_id", "id", "raw", "seen_at"] + [f.column for f in cols]
    exprs = ["%s", "id", "v", "%s"] + [_pg_expr(f, doc) for f in cols]
    updates = ", ".join(f'"{n}" = excluded."{n}"' for n in names[2:])
    stage = (f"WITH d AS MATERIALIZED (SELECT %s::jsonb #> %s::text[] AS arr) "
             f"INSERT INTO {STAGE} (k, id, token, v) "
             "SELECT a.k, a.e ->> 'Id', coalesce(a.e ->> 'SyncToken', '0'), a.e FROM d, jsonb_array_elements("
             "CASE WHEN jsonb_typeof(d.arr) = 'array' THEN d.arr ELSE '[]'::jsonb END) "
             "WITH ORDINALITY a(e, k) "
             "WHERE jsonb_typeof(a.e) = 'object' AND a.e ->> 'Id' IS NOT NULL")
    insert = (f'INSERT INTO "{tbl}" ({", ".join(chr(34) + n + chr(34) for n in names)}) '
              f"SELECT {', '.join(exprs)} FROM {STAGE} "
              f'ON CONFLICT ("realm_id", "id") DO UPDATE SET {updates}')
    lines_of = ("jsonb_array_elements(CASE WHEN jsonb_typeof(s.v -> 'Line') = 'array' THEN s.v -> 'Line' "
                "ELSE '[]'::jsonb END) WITH ORDINALITY a(l, n)")
    children: list[str] = []
    delete_children = None
    if entity in SALES_LINE_ENTITIES:
        line = _pg_direct("x.v")
        item, cls, qty, amount = (_pg_expr(f, line) for f in SALES_LINE)
        children.append(
            "INSERT INTO sales_lines (realm_id, txn_type, txn_id, line_no, item_id, class_id, qty, amount) "
            f"SELECT %s, {_sql_text(entity)}, x.id, row_number() OVER (PARTITION BY x.k ORDER BY x.n1, x.n2 "
            f"NULLS FIRST), {item}, coalesce({cls}, nullif(x.doc #>> '{{ClassRef,value}}', '')), "
            f"{qty}, {amount} "
            "FROM (SELECT s.k, s.id, s.v AS doc, coalesce(b.g, a.l) AS v, a.n AS n1, b.n AS n2 "
            f"FROM {STAGE} s "
            f"CROSS JOIN LATERAL {lines_of} LEFT JOIN LATERAL jsonb_array_elements(CASE WHEN "
            "a.l ->> 'DetailType' = 'GroupLineDetail' "
            "AND jsonb_typeof(a.l #> '{GroupLineDetail,Line}') = 'array' "
            "THEN a.l #> '{GroupLineDetail,Line}' ELSE '[]'::jsonb END) WITH ORDINALITY b(g, n) ON true) x "
            "WHERE x.v ->> 'DetailType' = 'SalesItemLineDetail'")
        delete_children = (f"DELETE FROM sales_lines WHERE realm_id = %s AND txn_type = {_sql_text(entity)} "
                           f"AND txn_id = ANY(ARRAY(SELECT id FROM {STAGE}))")
    if entity == "Payment":
        txn_id, txn_type = (_pg_expr(f, _pg_direct("t.t")) for f in PAYMENT_LINK)
        amount = _pg_expr(SALES_LINE[3], _pg_direct("a.l"))
        children.append(
            "INSERT INTO payment_links (realm_id, payment_id, line_no, txn_id, txn_type, amount) "
            f"SELECT %s, s.id, row_number() OVER (PARTITION BY s.k ORDER BY a.n, t.n), {txn_id}, {txn_type}, "
            f"{amount} FROM {STAGE} s CROSS JOIN LATERAL {lines_of} CROSS JOIN LATERAL jsonb_array_elements("
            "CASE WHEN jsonb_typeof(a.l -> 'LinkedTxn') = 'array' THEN a.l -> 'LinkedTxn' "
            "ELSE '[]'::jsonb END) "
            "WITH ORDINALITY t(t, n) WHERE jsonb_typeof(t.t) = 'object' "
            "AND CASE jsonb_typeof(t.t -> 'TxnId') "
            "WHEN 'string' THEN t.t ->> 'TxnId' <> '' WHEN 'number' THEN (t.t ->> 'TxnId')::numeric <> 0 "
            "ELSE false END")
        delete_children = (f"DELETE FROM payment_links WHERE realm_id = %s "
                           f"AND payment_id = ANY(ARRAY(SELECT id FROM {STAGE}))")
    return PageSql(
        create_stage=(f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE} "
                      "(k bigint, id text, token text, v jsonb) "
                      "ON COMMIT DELETE ROWS"),
        stage=stage,
        dedupe=f"DELETE FROM {STAGE} WHERE k NOT IN (SELECT max(k) FROM {STAGE} GROUP BY id)",
        counts=("SELECT count(*), count(t.id), count(*) FILTER (WHERE t.sync_token = s.token) "
                f'FROM {STAGE} s '
                f'LEFT JOIN "{tbl}" t ON t.realm_id = %s AND t.id = s.id'),
        delete_children=delete_children, insert=insert, children=tuple(children),
        clear=f"DELETE FROM {STAGE}")


@cache
def page_sql(dialect: str, entity: str) -> PageSql:
    """The compiled statements of ``entity`` for ``dialect`` ("sqlite" or "postgresql")."""
    if entity not in TABLES:
        raise ValueError(f"qbsync does not mirror {entity}")
    if dialect == "sqlite":
        return _sqlite(entity)
    if dialect == "postgresql":
        return _pg(entity)
    raise NotImplementedError(f"the cache supports SQLite and PostgreSQL, not {dialect}")


def json_path(dialect: str, keys: Sequence[str]) -> str | list[str]:
    """The path parameter of ``PageSql.stage``: where in the document the array of objects is."""
    if dialect == "postgresql":
        return list(keys)
    return "$" + "".join(f'."{k}"' for k in keys)
