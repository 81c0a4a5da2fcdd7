"""The entities' mapping compiled to SQL: a page of QBO JSON becomes cache rows inside the database.

Python never builds a page's objects: the response text goes to the database as one parameter,
which splits it into a staging table (one parse per object), and ``INSERT .. SELECT`` statements
fill the entity's table and its child rows from there. On SQLite every object's fields are pulled
by one multi-path ``json_extract`` into a small array (SQLite 3.40 re-parses a document on every
call, so one call per field would parse each object twenty times); on PostgreSQL the staged
``jsonb`` is read directly. Both produce what the column types' own bind processors would: UTC
times (SQLite: SQLAlchemy's text form), integer cents on SQLite, two-place numerics on PostgreSQL.

One vocabulary, two dialects: ``_Dialect.expr`` says once what each field kind means; ``_SQLite`` and
``_Postgres`` say how their JSON functions read a value, a number, a time or a day, and how a page is
staged and its child rows unnested.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from qbsync.cache.mapping import Child, Field, Path
from qbsync.cache.models import Entity, entity

STAGE = "qbsync_stage"
ID: Path = ("Id",)
SYNC_TOKEN: Path = ("SyncToken",)

#: path -> (value expression, JSON type expression)
Accessor = Callable[[Path], tuple[str, str]]


@dataclass(frozen=True)
class PageSql:
    """The statements that write one staged page of an entity (parameters noted per statement)."""

    create_stage: str
    stage: str  # (document text, JSON path to the array of objects)
    dedupe: str
    counts: str  # (realm_id,) -> staged, already cached, unchanged (same SyncToken)
    delete_children: tuple[str, ...]  # (realm_id,) each
    insert: str  # (realm_id, seen_at)
    children: tuple[str, ...]  # (realm_id,) each
    clear: str


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _columns(names: Sequence[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


class _Dialect:
    """What every field kind means, over the dialect's primitives below."""

    param: str  # the driver's placeholder
    stage_table: str  # how statements name the staging table

    def expr(self, f: Field, acc: Accessor) -> str:
        """A column value from the JSON, as the column's bind processor would store it."""
        values = [acc(p) for p in f.paths]

        def first(conv: Callable[[str, str], str]) -> str:
            parts = [conv(x, t) for x, t in values]
            return parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"

        kind = f.kind
        if kind == "text":
            out = first(lambda x, t: x)
            return out if f.default is None else f"coalesce({out}, {_sql_text(str(f.default))})"
        if kind == "ref":
            return first(lambda x, t: f"nullif({x}, '')")
        if kind == "bool":
            return self.boolean(*values[0], bool(f.default))
        if kind == "money":
            return first(self.money)
        if kind == "money0":
            return f"coalesce({first(self.money)}, 0)"
        if kind == "int0":
            return self.integer(*values[0])
        if kind == "time":
            return first(self.time)
        if kind == "date":
            return first(self.day)
        if kind == "txn_date":
            (d, dt), (c, ct) = values
            return f"coalesce({self.day(d, dt)}, {self.time_day(c, ct)}, {self.epoch})"
        if kind == "voided":
            (n, _), (a, at) = values
            return f"({self.voided_note(n)} AND coalesce({self.money(a, at)}, 0) = 0)"
        raise ValueError(f"unknown field kind {kind}")

    # -- primitives: (value, JSON type) expressions in, SQL out --
    epoch: str

    def boolean(self, x: str, t: str, default: bool) -> str:
        raise NotImplementedError

    def money(self, x: str, t: str) -> str:
        raise NotImplementedError

    def integer(self, x: str, t: str) -> str:
        raise NotImplementedError

    def time(self, x: str, t: str) -> str:
        raise NotImplementedError

    def day(self, x: str, t: str) -> str:
        raise NotImplementedError

    def time_day(self, x: str, t: str) -> str:
        raise NotImplementedError

    def voided_note(self, n: str) -> str:
        raise NotImplementedError

    def direct(self, base: str) -> Accessor:
        """Paths read from the JSON value ``base`` itself."""
        raise NotImplementedError

    # -- page statements --
    def page(self, e: Entity) -> PageSql:
        names = ["realm_id", "id", "raw", "seen_at"] + [f.column for f in e.fields]
        exprs = [self.param, "id", "v", self.param] + [self.expr(f, self.staged(e)) for f in e.fields]
        updates = ", ".join(f'"{n}" = excluded."{n}"' for n in names[2:])
        insert = (f'INSERT INTO "{e.table}" ({_columns(names)}) '
                  f"SELECT {', '.join(exprs)} FROM {self.stage_table}{self.all_rows} "
                  f'ON CONFLICT ("realm_id", "id") DO UPDATE SET {updates}')
        return PageSql(
            create_stage=self.create_stage, stage=self.stage(e),
            dedupe=(f"DELETE FROM {self.stage_table} WHERE k NOT IN "
                    f"(SELECT max(k) FROM {self.stage_table} GROUP BY id)"),
            counts=(f"SELECT count(*), count(t.id), {self.unchanged} FROM {self.stage_table} s "
                    f'LEFT JOIN "{e.table}" t ON t.realm_id = {self.param} AND t.id = s.id'),
            delete_children=tuple(self.delete_children(e, c) for c in e.children),
            insert=insert, children=tuple(self.children(e, c) for c in e.children),
            clear=f"DELETE FROM {self.stage_table}")

    create_stage: str
    all_rows: str  # what follows FROM stage in the upsert (SQLite needs a WHERE before ON CONFLICT)
    unchanged: str  # count of staged objects whose SyncToken equals the cached one
    in_stage: str  # "<column> <this>": the column is an Id of the staged page

    def staged(self, e: Entity) -> Accessor:
        raise NotImplementedError

    def stage(self, e: Entity) -> str:
        raise NotImplementedError

    def children(self, e: Entity, c: Child) -> str:
        raise NotImplementedError

    def delete_children(self, e: Entity, c: Child) -> str:
        typed = f" AND txn_type = {_sql_text(e.name)}" if c.typed else ""
        return (f"DELETE FROM {c.table} WHERE realm_id = {self.param}{typed} "
                f"AND {c.parent} {self.in_stage}")

    def child_columns(self, c: Child) -> str:
        keys = ["realm_id", "txn_type", c.parent] if c.typed else ["realm_id", c.parent]
        return ", ".join([*keys, "line_no", *(f.column for f in (*c.fields, *c.line_fields))])

    def inherited(self, c: Child, f: Field, value: str, header: Accessor) -> str:
        path = c.inherit.get(f.column)
        return value if path is None else f"coalesce({value}, nullif({header(path)[0]}, ''))"


def _sqlite_path(path: Path) -> str:
    return "$." + ".".join(path)


class _SQLite(_Dialect):
    param = "?"
    stage_table = f"temp.{STAGE}"
    epoch = "'1970-01-01'"
    create_stage = f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} (k INTEGER, id TEXT, token TEXT, v TEXT, j TEXT)"
    all_rows = " WHERE true"
    unchanged = "coalesce(sum(t.sync_token IS s.token), 0)"
    in_stage = f"IN (SELECT id FROM temp.{STAGE})"

    def boolean(self, x: str, t: str, default: bool) -> str:
        return (f"(CASE {t} WHEN 'true' THEN 1 WHEN 'false' THEN 0 "
                f"WHEN 'text' THEN lower(trim({x})) = 'true' "
                f"ELSE {int(default)} END)")

    def money(self, x: str, t: str) -> str:  # integer cents
        return (f"(CASE {t} WHEN 'integer' THEN {x} * 100 WHEN 'real' THEN CAST(round({x} * 100) AS INTEGER) "
                f"WHEN 'text' THEN CAST(round(CAST({x} AS REAL) * 100) AS INTEGER) END)")

    def integer(self, x: str, t: str) -> str:
        return (f"(CASE {t} WHEN 'integer' THEN {x} WHEN 'real' THEN CAST({x} AS INTEGER) "
                f"WHEN 'text' THEN CAST({x} AS INTEGER) ELSE 0 END)")

    def time(self, x: str, t: str) -> str:
        # SQLite's date functions read the offset and answer in UTC; %f is seconds with milliseconds
        return f"(CASE {t} WHEN 'text' THEN substr(strftime('%Y-%m-%d %H:%M:%f', {x}), 1, 23) || '000' END)"

    def day(self, x: str, t: str) -> str:
        return f"(CASE {t} WHEN 'text' THEN date(substr({x}, 1, 10)) END)"

    def time_day(self, x: str, t: str) -> str:
        return f"(CASE {t} WHEN 'text' THEN date({x}) END)"

    def voided_note(self, n: str) -> str:
        return f"lower(trim(coalesce({n}, ''), ' ' || char(9, 10, 13))) LIKE 'voided%'"

    def direct(self, base: str) -> Accessor:
        return lambda p: (f"json_extract({base}, {_sql_text(_sqlite_path(p))})",
                          f"json_type({base}, {_sql_text(_sqlite_path(p))})")

    @staticmethod
    def _pulled(column: str, paths: Sequence[Path]) -> Accessor:
        """Paths read from the array one multi-path json_extract made of them."""
        index = {p: i for i, p in enumerate(paths)}
        return lambda p: (f"json_extract({column}, '$[{index[p]}]')", f"json_type({column}, '$[{index[p]}]')")

    @staticmethod
    def _paths(e: Entity) -> list[Path]:
        paths: list[Path] = [ID, SYNC_TOKEN]
        for f in e.fields:
            paths.extend(p for p in f.paths if p not in paths)
        for c in e.children:
            paths.extend(p for p in c.inherit.values() if p not in paths)
        return paths

    def staged(self, e: Entity) -> Accessor:
        return self._pulled("j", self._paths(e))

    def stage(self, e: Entity) -> str:
        extract = ", ".join(_sql_text(_sqlite_path(p)) for p in self._paths(e))
        return (f"WITH o AS MATERIALIZED (SELECT key AS k, value AS v, json_extract(value, {extract}) AS j "
                f"FROM json_each(?, ?) WHERE type = 'object') "
                f"INSERT INTO temp.{STAGE} (k, id, token, v, j) "
                f"SELECT k, json_extract(j, '$[0]'), coalesce(json_extract(j, '$[1]'), '0'), v, j FROM o "
                f"WHERE json_extract(j, '$[0]') IS NOT NULL")

    def children(self, e: Entity, c: Child) -> str:
        if c.shape == "links":
            exprs = ([self.expr(f, self.direct("t.value")) for f in c.fields]
                     + [self.expr(f, self.direct("l.value")) for f in c.line_fields])
            return (f"INSERT INTO {c.table} ({self.child_columns(c)}) "
                    "SELECT ?, s.id, row_number() OVER (PARTITION BY s.k ORDER BY l.key, t.key), "
                    f"{', '.join(exprs)} FROM temp.{STAGE} s, json_each(s.v, '$.Line') l, "
                    "json_each(CASE WHEN l.type = 'object' THEN l.value ELSE '{}' END, '$.LinkedTxn') t "
                    "WHERE t.type = 'object' AND json_extract(t.value, '$.TxnId') IS NOT NULL "
                    "AND json_extract(t.value, '$.TxnId') NOT IN ('', 0)")
        # one row per top-level line, or per line inside a group line; each line's fields pulled by one
        # multi-path json_extract (materialised, so it is not re-run per column)
        line_paths = [("DetailType",)] + [p for f in c.fields for p in f.paths]
        line = self._pulled("lj", line_paths)
        exprs = [self.inherited(c, f, self.expr(f, line), self.staged(e)) for f in c.fields]
        pulled = ", ".join(_sql_text(_sqlite_path(p)) for p in line_paths)
        groups = ("LEFT JOIN json_each(CASE WHEN json_extract(l.value, '$.DetailType') = 'GroupLineDetail' "
                  "THEN l.value ELSE '{}' END, '$.GroupLineDetail.Line') g ON g.type = 'object' "
                  if c.group_lines else "LEFT JOIN (SELECT NULL AS key, NULL AS value) g ")
        return (f"WITH x AS MATERIALIZED (SELECT s.k, s.id, s.j, l.key AS n1, g.key AS n2, "
                f"json_extract(coalesce(g.value, l.value), {pulled}) "
                f"AS lj FROM temp.{STAGE} s JOIN json_each(s.v, '$.Line') l {groups}"
                "WHERE l.type = 'object') "
                f"INSERT INTO {c.table} ({self.child_columns(c)}) "
                f"SELECT ?, {_sql_text(e.name)}, id, row_number() OVER (PARTITION BY k ORDER BY n1, n2), "
                f"{', '.join(exprs)} FROM x "
                f"WHERE json_extract(lj, '$[0]') = {_sql_text(c.detail)}")


_NUMBER_RE = r"^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$"
_DAY_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"


class _Postgres(_Dialect):
    """PostgreSQL reads the staged jsonb directly (no '%' in the SQL: psycopg reads it as a placeholder)."""

    param = "%s"
    stage_table = STAGE
    epoch = "DATE '1970-01-01'"
    create_stage = (f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE} (k bigint, id text, token text, v jsonb) "
                    "ON COMMIT DELETE ROWS")
    all_rows = ""
    unchanged = "count(*) FILTER (WHERE t.sync_token = s.token)"
    in_stage = f"= ANY(ARRAY(SELECT id FROM {STAGE}))"
    _lines_of = ("jsonb_array_elements(CASE WHEN jsonb_typeof(s.v -> 'Line') = 'array' THEN s.v -> 'Line' "
                 "ELSE '[]'::jsonb END) WITH ORDINALITY a(l, n)")

    def boolean(self, x: str, t: str, default: bool) -> str:
        return (f"(CASE {t} WHEN 'boolean' THEN {x}::boolean WHEN 'string' THEN lower(btrim({x})) = 'true' "
                f"ELSE {'true' if default else 'false'} END)")

    def money(self, x: str, t: str) -> str:
        return (f"(CASE {t} WHEN 'number' THEN round({x}::numeric, 2) WHEN 'string' THEN "
                f"(CASE WHEN btrim({x}) ~ {_sql_text(_NUMBER_RE)} "
                f"THEN round(btrim({x})::numeric, 2) END) END)")

    def integer(self, x: str, t: str) -> str:
        return (f"coalesce((CASE {t} WHEN 'number' THEN trunc({x}::numeric)::integer WHEN 'string' THEN "
                f"(CASE WHEN btrim({x}) ~ '^[-+]?[0-9]+$' THEN btrim({x})::integer END) END), 0)")

    def time(self, x: str, t: str) -> str:
        # the writer's transaction runs with TimeZone UTC, so a time without an offset is read as UTC
        return f"(CASE WHEN {t} = 'string' AND {x} ~ {_sql_text(_DAY_RE)} THEN {x}::timestamptz END)"

    def day(self, x: str, t: str) -> str:
        return f"(CASE WHEN {t} = 'string' AND {x} ~ {_sql_text(_DAY_RE)} THEN substr({x}, 1, 10)::date END)"

    def time_day(self, x: str, t: str) -> str:
        return f"({self.time(x, t)} AT TIME ZONE 'UTC')::date"

    def voided_note(self, n: str) -> str:
        return f"starts_with(lower(btrim(coalesce({n}, ''), E' \\t\\r\\n')), 'voided')"

    def direct(self, base: str) -> Accessor:
        def acc(p: Path) -> tuple[str, str]:
            lit = _sql_text("{" + ",".join(p) + "}")
            return f"({base} #>> {lit})", f"jsonb_typeof({base} #> {lit})"
        return acc

    def staged(self, e: Entity) -> Accessor:
        return self.direct("v")

    def stage(self, e: Entity) -> str:
        return (f"WITH d AS MATERIALIZED (SELECT %s::jsonb #> %s::text[] AS arr) "
                f"INSERT INTO {STAGE} (k, id, token, v) "
                "SELECT a.k, a.e ->> 'Id', coalesce(a.e ->> 'SyncToken', '0'), a.e "
                "FROM d, jsonb_array_elements("
                "CASE WHEN jsonb_typeof(d.arr) = 'array' THEN d.arr ELSE '[]'::jsonb END) "
                "WITH ORDINALITY a(e, k) "
                "WHERE jsonb_typeof(a.e) = 'object' AND a.e ->> 'Id' IS NOT NULL")

    def children(self, e: Entity, c: Child) -> str:
        if c.shape == "links":
            exprs = ([self.expr(f, self.direct("t.t")) for f in c.fields]
                     + [self.expr(f, self.direct("a.l")) for f in c.line_fields])
            return (f"INSERT INTO {c.table} ({self.child_columns(c)}) "
                    f"SELECT %s, s.id, row_number() OVER (PARTITION BY s.k ORDER BY a.n, t.n), "
                    f"{', '.join(exprs)} FROM {STAGE} s CROSS JOIN LATERAL {self._lines_of} "
                    "CROSS JOIN LATERAL jsonb_array_elements("
                    "CASE WHEN jsonb_typeof(a.l -> 'LinkedTxn') = 'array' THEN a.l -> 'LinkedTxn' "
                    "ELSE '[]'::jsonb END) "
                    "WITH ORDINALITY t(t, n) WHERE jsonb_typeof(t.t) = 'object' "
                    "AND CASE jsonb_typeof(t.t -> 'TxnId') "
                    "WHEN 'string' THEN t.t ->> 'TxnId' <> '' "
                    "WHEN 'number' THEN (t.t ->> 'TxnId')::numeric <> 0 "
                    "ELSE false END")
        line = self.direct("x.v")
        exprs = [self.inherited(c, f, self.expr(f, line), self.direct("x.doc")) for f in c.fields]
        groups = ("a.l ->> 'DetailType' = 'GroupLineDetail' "
                  "AND jsonb_typeof(a.l #> '{GroupLineDetail,Line}') = 'array' "
                  "THEN a.l #> '{GroupLineDetail,Line}'" if c.group_lines else "false THEN '[]'::jsonb")
        return (f"INSERT INTO {c.table} ({self.child_columns(c)}) "
                f"SELECT %s, {_sql_text(e.name)}, x.id, "
                f"row_number() OVER (PARTITION BY x.k ORDER BY x.n1, x.n2 NULLS FIRST), {', '.join(exprs)} "
                "FROM (SELECT s.k, s.id, s.v AS doc, coalesce(b.g, a.l) AS v, a.n AS n1, b.n AS n2 "
                f"FROM {STAGE} s "
                f"CROSS JOIN LATERAL {self._lines_of} LEFT JOIN LATERAL jsonb_array_elements(CASE WHEN "
                f"{groups} ELSE '[]'::jsonb END) WITH ORDINALITY b(g, n) ON true) x "
                f"WHERE x.v ->> 'DetailType' = {_sql_text(c.detail)}")


_DIALECTS: dict[str, _Dialect] = {"sqlite": _SQLite(), "postgresql": _Postgres()}


@cache
def page_sql(dialect: str, name: str) -> PageSql:
    """The compiled statements of entity ``name`` for ``dialect`` ("sqlite" or "postgresql")."""
    declared = entity(name)
    if dialect not in _DIALECTS:
        raise NotImplementedError(f"the cache supports SQLite and PostgreSQL, not {dialect}")
    return _DIALECTS[dialect].page(declared)


def json_path(dialect: str, keys: Sequence[str]) -> str | list[str]:
    """The path parameter of ``PageSql.stage``: where in the document the array of objects is."""
    if dialect == "postgresql":
        return list(keys)
    return "$" + "".join(f'."{k}"' for k in keys)
