"""The sandbox's SQLite store: realms, entity JSON with indexed hot columns, CDC tombstones, tokens."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timezone
from decimal import Decimal
from typing import Any

from qbsync.sandbox import apifault, catalog, postings, wire
from qbsync.sandbox.clock import SandboxClock
from qbsync.sandbox.query import Cond, Query, matches, sort_value
from qbsync.sandbox.webhooks import SCHEMA as WEBHOOK_SCHEMA
from qbsync.sandbox.webhooks import Outbox, change_operation

_SCHEMA = """
CREATE TABLE IF NOT EXISTS realms (
    realm TEXT PRIMARY KEY, tz_offset TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    realm TEXT NOT NULL, entity TEXT NOT NULL, id INTEGER NOT NULL,
    sync INTEGER NOT NULL DEFAULT 0, active INTEGER NOT NULL DEFAULT 1,
    updated REAL, created REAL, txn_date TEXT, customer_id INTEGER, parent_id INTEGER,
    dname TEXT, sname TEXT, doc TEXT, open_amt REAL NOT NULL DEFAULT 0,
    data TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS objects_pk ON objects(realm, entity, id);
CREATE INDEX IF NOT EXISTS objects_updated ON objects(realm, entity, updated);
CREATE INDEX IF NOT EXISTS objects_customer ON objects(realm, customer_id, entity);
CREATE INDEX IF NOT EXISTS objects_txn_date ON objects(realm, entity, txn_date);
CREATE INDEX IF NOT EXISTS objects_sname ON objects(realm, entity, sname);
CREATE INDEX IF NOT EXISTS objects_dname ON objects(realm, dname);
CREATE INDEX IF NOT EXISTS objects_parent ON objects(realm, entity, parent_id);
CREATE TABLE IF NOT EXISTS tombstones (
    realm TEXT NOT NULL, entity TEXT NOT NULL, id INTEGER NOT NULL, deleted REAL NOT NULL, stub TEXT NOT NULL,
    PRIMARY KEY (realm, entity, id));
CREATE INDEX IF NOT EXISTS tombstones_deleted ON tombstones(realm, entity, deleted);
CREATE TABLE IF NOT EXISTS ar_lines (
    realm TEXT NOT NULL, entity TEXT NOT NULL, id INTEGER NOT NULL, customer_id INTEGER NOT NULL,
    amt REAL NOT NULL);
CREATE INDEX IF NOT EXISTS ar_lines_customer ON ar_lines(realm, customer_id);
CREATE INDEX IF NOT EXISTS ar_lines_txn ON ar_lines(realm, entity, id);
CREATE TABLE IF NOT EXISTS requests (
    realm TEXT NOT NULL, requestid TEXT NOT NULL, status INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (realm, requestid));
CREATE TABLE IF NOT EXISTS oauth (
    token TEXT PRIMARY KEY, kind TEXT NOT NULL, data TEXT NOT NULL);
"""

_COLS = ("realm", "entity", "id", "sync", "active", "updated", "created", "txn_date", "customer_id",
         "parent_id", "dname", "sname", "doc", "open_amt", "data")
_INSERT = (f"INSERT OR REPLACE INTO objects ({', '.join(_COLS)}) "
           f"VALUES ({', '.join('?' for _ in _COLS)})")

_BULK_CHUNK = 5000


def _ref_int(obj: dict[str, Any], key: str) -> int | None:
    ref = obj.get(key)
    if isinstance(ref, dict):
        v = ref.get("value")
        if isinstance(v, str) and v.isdigit():
            return int(v)
        if isinstance(v, int):
            return v
    return None


def _time_epoch(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        dt = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _open_amount(entity: str, obj: dict[str, Any]) -> float:
    """What this object adds to its customer's open balance."""
    if entity == "Invoice":
        return float(wire.to_decimal(obj.get("Balance")))
    if entity == "Payment":
        return -float(wire.to_decimal(obj.get("UnappliedAmt")))
    if entity == "CreditMemo":
        return -float(wire.to_decimal(obj.get("Balance", obj.get("RemainingCredit"))))
    return 0.0


def _row(realm: str, entity: str, obj: dict[str, Any], text: str) -> tuple[Any, ...]:
    meta = obj.get("MetaData") or {}
    name = obj.get(catalog.name_field(entity)) if entity in catalog.NAME_LISTS else None
    fqn = obj.get("FullyQualifiedName") or name
    sync = obj.get("SyncToken", 0)
    return (
        realm, entity, int(obj["Id"]),
        int(sync) if str(sync).isdigit() else 0,
        0 if obj.get("Active") is False else 1,
        _time_epoch(meta.get("LastUpdatedTime")),
        _time_epoch(meta.get("CreateTime")),
        obj.get("TxnDate"),
        _ref_int(obj, "CustomerRef"),
        _ref_int(obj, "ParentRef"),
        name.lower() if isinstance(name, str) else None,
        fqn.lower() if isinstance(fqn, str) else None,
        obj.get("DocNumber"),
        _open_amount(entity, obj),
        text,
    )


# Properties answered from indexed columns: path -> (column, kind).
_HOT: dict[tuple[str, ...], tuple[str, str]] = {
    ("id",): ("id", "int"),
    ("active",): ("active", "bool"),
    ("metadata", "lastupdatedtime"): ("updated", "time"),
    ("metadata", "createtime"): ("created", "time"),
    ("txndate",): ("txn_date", "text"),
    ("customerref",): ("customer_id", "int"),
    ("parentref",): ("parent_id", "int"),
    ("docnumber",): ("doc", "text"),
}
_SQL_OPS = {"=": "=", "<": "<", ">": ">", "<=": "<=", ">=": ">="}


def _hot(entity: str, path: tuple[str, ...]) -> tuple[str, str] | None:
    if path in _HOT:
        return _HOT[path]
    if entity in catalog.NAME_LISTS:
        if path == (catalog.name_field(entity).lower(),):
            return ("dname", "lower")
        if path == ("fullyqualifiedname",):
            return ("sname", "lower")
    return None


@dataclass
class QueryResult:
    texts: list[str]
    count: int | None = None


class _Impossible(Exception):
    """A condition no row can satisfy (e.g. Id = 'abc')."""


class Store:
    """Entity store. ``Store()`` is in memory (tests); ``Store(path)`` is a SQLite file."""

    def __init__(self, path: str | None = None, clock: SandboxClock | None = None) -> None:
        self.path = path
        self.clock = clock or SandboxClock()
        self._wlock = threading.RLock()
        self._local = threading.local()
        self._memory = path is None or path == ":memory:"
        self._shared: sqlite3.Connection | None = None
        if self._memory:
            self._shared = self._connect(":memory:")
        self._next_ids: dict[tuple[str, str], int] = {}
        self._tz_cache: dict[str, timezone] = {}
        self._ar_cache: dict[str, frozenset[str]] = {}
        conn = self._conn()
        with self._locked():
            conn.executescript(_SCHEMA)
            conn.executescript(WEBHOOK_SCHEMA)
        # Every change below records its webhook event here, in the change's own transaction.
        self.outbox = Outbox(self)

    # ---- connections ----

    def _connect(self, target: str) -> sqlite3.Connection:
        conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL" if target != ":memory:" else "PRAGMA journal_mode=MEMORY")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA cache_size=-65536")
        return conn

    def _conn(self) -> sqlite3.Connection:
        if self._shared is not None:
            return self._shared
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            assert self.path is not None
            conn = self._connect(self.path)
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # One in-memory connection is shared by every thread, so reads take the lock too;
        # a file database gives each thread its own connection and only writes serialise.
        if self._memory:
            with self._wlock:
                yield
        else:
            yield

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Serialised write transaction; nests (inner calls join the outer one)."""
        with self._wlock:
            conn = self._conn()
            depth = getattr(self._local, "depth", 0)
            self._local.depth = depth + 1
            if depth == 0:
                conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if depth == 0:
                    conn.execute("ROLLBACK")
                    self.outbox.rolled_back()
                raise
            else:
                if depth == 0:
                    conn.execute("COMMIT")
                    self.outbox.committed()
            finally:
                self._local.depth = depth

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        with self._locked():
            return self._conn().execute(sql, tuple(params)).fetchall()

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        if self._shared is not None:
            self._shared.close()

    # ---- realms ----

    def create_realm(self, realm_id: str, *, company_info: dict[str, Any],
                     preferences: dict[str, Any] | None = None, tz_offset: str = "-08:00") -> None:
        tz = wire.offset_tz(tz_offset)
        now = self.clock.now()
        stamp = wire.fmt_meta_time(now, tz)
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO realms (realm, tz_offset, created) VALUES (?, ?, ?)",
                         (realm_id, tz_offset, now.timestamp()))
            self._tz_cache[realm_id] = tz
            for entity, body in (("CompanyInfo", company_info), ("Preferences", preferences or {})):
                obj = {"domain": "QBO", "sparse": False, "Id": "1", "SyncToken": "0",
                       "MetaData": {"CreateTime": stamp, "LastUpdatedTime": stamp}}
                obj.update(body)
                obj["Id"] = str(obj.get("Id") or "1")
                self._insert(conn, realm_id, entity, obj)

    def realms(self) -> list[str]:
        return [r[0] for r in self._read("SELECT realm FROM realms ORDER BY created, realm")]

    def has_realm(self, realm_id: str) -> bool:
        return bool(self._read("SELECT 1 FROM realms WHERE realm = ?", (realm_id,)))

    def tz(self, realm_id: str) -> timezone:
        tz = self._tz_cache.get(realm_id)
        if tz is None:
            rows = self._read("SELECT tz_offset FROM realms WHERE realm = ?", (realm_id,))
            tz = wire.offset_tz(rows[0][0] if rows else "-08:00")
            self._tz_cache[realm_id] = tz
        return tz

    def stamp(self, realm_id: str, at: datetime | None = None) -> str:
        """Now (or ``at``) as a MetaData time in the company's offset."""
        return wire.fmt_meta_time(at or self.clock.now(), self.tz(realm_id))

    # ---- raw object access ----

    def _insert(self, conn: sqlite3.Connection, realm: str, entity: str, obj: dict[str, Any]) -> str:
        text = wire.dumps(obj)
        conn.execute(_INSERT, _row(realm, entity, obj, text))
        if entity == "JournalEntry":
            self._put_ar_lines(conn, realm, [obj])
        elif entity == "Account":
            self._ar_cache.pop(realm, None)
        key = (realm, entity)
        if key in self._next_ids:
            self._next_ids[key] = max(self._next_ids[key], int(obj["Id"]) + 1)
        return text

    # ---- journal entries' Accounts Receivable lines ----

    def ar_account_ids(self, realm_id: str) -> frozenset[str]:
        """Ids of the company's Accounts Receivable accounts (AccountType "Accounts Receivable")."""
        ids = self._ar_cache.get(realm_id)
        if ids is None:
            rows = self._read("SELECT id, data FROM objects WHERE realm = ? AND entity = 'Account'",
                              (realm_id,))
            ids = frozenset(str(r[0]) for r in rows
                            if json.loads(r[1]).get("AccountType") == catalog.AR_ACCOUNT_TYPE)
            self._ar_cache[realm_id] = ids
        return ids

    def journal_ar(self, realm_id: str, obj: dict[str, Any]) -> dict[int, Decimal]:
        return postings.journal_ar(obj, self.ar_account_ids(realm_id))

    def _put_ar_lines(self, conn: sqlite3.Connection, realm: str, objs: list[dict[str, Any]]) -> None:
        ar_ids = self.ar_account_ids(realm)
        conn.executemany("DELETE FROM ar_lines WHERE realm = ? AND entity = 'JournalEntry' AND id = ?",
                         [(realm, int(o["Id"])) for o in objs])
        conn.executemany("INSERT INTO ar_lines (realm, entity, id, customer_id, amt) VALUES (?, ?, ?, ?, ?)",
                         [(realm, "JournalEntry", int(o["Id"]), cid, float(amt)) for o in objs
                          for cid, amt in postings.journal_ar(o, ar_ids).items()])

    def bulk_load(self, realm_id: str, entity: str, objects: Iterable[dict[str, Any]]) -> int:
        """Insert complete QBO objects as they are (Id, SyncToken, MetaData kept); returns the count."""
        ent = catalog.canonical(entity)
        if ent is None:
            raise ValueError(f"the sandbox does not serve entity {entity!r}; "
                             f"known: {', '.join(catalog.ALL_ENTITIES)}")
        n = 0
        chunk: list[tuple[Any, ...]] = []
        dumps = wire.dumps

        journals: list[dict[str, Any]] = []

        def flush() -> None:
            with self.transaction() as conn:
                conn.executemany(_INSERT, chunk)
                if journals:
                    self._put_ar_lines(conn, realm_id, journals)
            chunk.clear()
            journals.clear()

        for obj in objects:
            chunk.append(_row(realm_id, ent, obj, dumps(obj)))
            if ent == "JournalEntry":
                journals.append(obj)
            n += 1
            if len(chunk) >= _BULK_CHUNK:
                flush()
        if chunk:
            flush()
        self._next_ids.pop((realm_id, ent), None)
        if ent == "Account":
            self._ar_cache.pop(realm_id, None)
        return n

    def get_text(self, realm_id: str, entity: str, id_: str | int) -> str | None:
        try:
            key = int(id_)
        except (TypeError, ValueError):
            return None
        rows = self._read("SELECT data FROM objects WHERE realm = ? AND entity = ? AND id = ?",
                          (realm_id, entity, key))
        return rows[0][0] if rows else None

    def get(self, realm_id: str, entity: str, id_: str | int) -> dict[str, Any] | None:
        ent = catalog.canonical(entity) or entity
        text = self.get_text(realm_id, ent, id_)
        return json.loads(text) if text is not None else None

    def next_id(self, realm_id: str, entity: str) -> str:
        with self._wlock:
            key = (realm_id, entity)
            if key not in self._next_ids:
                rows = self._read(
                    "SELECT MAX(m) FROM (SELECT MAX(id) AS m FROM objects WHERE realm = ? AND entity = ? "
                    "UNION ALL SELECT MAX(id) FROM tombstones WHERE realm = ? AND entity = ?)",
                    (realm_id, entity, realm_id, entity))
                self._next_ids[key] = int(rows[0][0] or 0) + 1
            nid = self._next_ids[key]
            self._next_ids[key] = nid + 1
            return str(nid)

    def save(self, realm_id: str, entity: str, obj: dict[str, Any], *, bump_sync: bool = True,
             touch: bool = True, event: str | None = "auto") -> dict[str, Any]:
        """Write ``obj`` (which has an Id); optionally bump SyncToken and LastUpdatedTime.

        ``event`` is the webhook operation this change sends ("Update", "Void", "Delete"...; None for
        none). By default a change that bumps the SyncToken is an Update and a server-side
        recomputation that does not (a customer's balance) sends nothing."""
        stamp = self.stamp(realm_id)
        meta = dict(obj.get("MetaData") or {})
        if touch:
            meta["LastUpdatedTime"] = stamp
            meta.setdefault("CreateTime", stamp)
        obj["MetaData"] = meta
        if bump_sync:
            obj["SyncToken"] = str(int(str(obj.get("SyncToken", "0")) or 0) + 1)
        if event == "auto":
            event = "Update" if bump_sync else None
        with self.transaction() as conn:
            self._insert(conn, realm_id, entity, obj)
            if event:
                self.outbox.record(conn, realm_id, entity, obj["Id"], event)
        return obj

    def create(self, realm_id: str, entity: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Insert a new object: assigns Id, SyncToken "0" and both MetaData times."""
        stamp = self.stamp(realm_id)
        obj["Id"] = self.next_id(realm_id, entity)
        obj["SyncToken"] = "0"
        obj["MetaData"] = {"CreateTime": stamp, "LastUpdatedTime": stamp}
        with self.transaction() as conn:
            self._insert(conn, realm_id, entity, obj)
            self.outbox.record(conn, realm_id, entity, obj["Id"], "Create")
        return obj

    def note_change(self, realm_id: str, entity: str, id_: str | int, operation: str,
                    deleted_id: str | int | None = None) -> None:
        """Record a webhook event for a change the writes themselves do not describe (a merge)."""
        with self.transaction() as conn:
            self.outbox.record(conn, realm_id, entity, id_, operation, deleted_id)

    def put(self, realm_id: str, entity: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Upsert "behind the client's back": no business rules, but SyncToken, LastUpdatedTime and CDC
        move as they would for a change made in the QuickBooks UI."""
        ent = catalog.canonical(entity)
        if ent is None:
            raise ValueError(f"the sandbox does not serve entity {entity!r}")
        obj = dict(obj)
        obj.setdefault("domain", "QBO")
        obj.setdefault("sparse", False)
        with self.transaction():
            current = self.get(realm_id, ent, obj["Id"]) if obj.get("Id") else None
            if current is None:
                if not obj.get("Id"):
                    return self.create(realm_id, ent, obj)
                stamp = self.stamp(realm_id)
                obj.setdefault("SyncToken", "0")
                obj["MetaData"] = {"CreateTime": stamp, "LastUpdatedTime": stamp}
                return self.save(realm_id, ent, obj, bump_sync=False, event="Create")
            obj["SyncToken"] = current.get("SyncToken", "0")
            obj["MetaData"] = dict(current.get("MetaData") or {})
            return self.save(realm_id, ent, obj, event=change_operation(ent, current, obj))

    def delete(self, realm_id: str, entity: str, id_: str | int) -> None:
        """Hard-delete a transaction, leaving the CDC "Deleted" stub."""
        ent = catalog.canonical(entity) or entity
        stamp = self.stamp(realm_id)
        stub = {"domain": "QBO", "status": "Deleted", "Id": str(id_), "MetaData": {"LastUpdatedTime": stamp}}
        with self.transaction() as conn:
            cur = conn.execute("DELETE FROM objects WHERE realm = ? AND entity = ? AND id = ?",
                               (realm_id, ent, int(id_)))
            if cur.rowcount == 0:
                raise KeyError(f"{ent} {id_} not found in realm {realm_id}")
            conn.execute("DELETE FROM ar_lines WHERE realm = ? AND entity = ? AND id = ?",
                         (realm_id, ent, int(id_)))
            conn.execute("INSERT OR REPLACE INTO tombstones (realm, entity, id, deleted, stub) "
                         "VALUES (?, ?, ?, ?, ?)",
                         (realm_id, ent, int(id_), self.clock.now().timestamp(), wire.dumps(stub)))
            self.outbox.record(conn, realm_id, ent, str(id_), "Delete")

    def add_tombstone(self, realm_id: str, entity: str, id_: str | int, when: str) -> None:
        """Record that a transaction was deleted at ``when`` (a MetaData time), for CDC: used by
        loaders and the generator for history that never reached the store."""
        stub = {"domain": "QBO", "status": "Deleted", "Id": str(id_), "MetaData": {"LastUpdatedTime": when}}
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO tombstones (realm, entity, id, deleted, stub) "
                         "VALUES (?, ?, ?, ?, ?)",
                         (realm_id, entity, int(id_), _time_epoch(when), wire.dumps(stub)))

    def count(self, realm_id: str, entity: str) -> int:
        return int(self._read("SELECT COUNT(*) FROM objects WHERE realm = ? AND entity = ?",
                              (realm_id, entity))[0][0])

    # ---- lookups for business rules ----

    def ids_named(self, realm_id: str, entities: Iterable[str], name: str) -> list[tuple[str, int]]:
        ents = tuple(entities)
        marks = ", ".join("?" for _ in ents)
        rows = self._read(f"SELECT entity, id FROM objects WHERE realm = ? AND dname = ? "
                          f"AND entity IN ({marks})",
                          (realm_id, name.lower(), *ents))
        return [(r[0], int(r[1])) for r in rows]

    def children(self, realm_id: str, entity: str, parent_id: int) -> list[dict[str, Any]]:
        rows = self._read("SELECT data FROM objects WHERE realm = ? AND entity = ? AND parent_id = ?",
                          (realm_id, entity, parent_id))
        return [json.loads(r[0]) for r in rows]

    def open_balance(self, realm_id: str, customer_id: int) -> Decimal:
        marks = ", ".join("?" for _ in catalog.BALANCE_ENTITIES)
        rows = self._read(
            f"SELECT COALESCE(SUM(open_amt), 0) FROM objects WHERE realm = ? AND customer_id = ? "
            f"AND entity IN ({marks})", (realm_id, customer_id, *catalog.BALANCE_ENTITIES))
        journal = self._read("SELECT COALESCE(SUM(amt), 0) FROM ar_lines WHERE realm = ? AND customer_id = ?",
                             (realm_id, customer_id))
        return wire.to_decimal(Decimal(str(rows[0][0])) + Decimal(str(journal[0][0])))

    # ---- idempotency ----

    def remembered(self, realm_id: str, requestid: str) -> tuple[int, str] | None:
        rows = self._read("SELECT status, body FROM requests WHERE realm = ? AND requestid = ?",
                          (realm_id, requestid))
        return (int(rows[0][0]), rows[0][1]) if rows else None

    def remember(self, realm_id: str, requestid: str, status: int, body: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO requests (realm, requestid, status, body) "
                         "VALUES (?, ?, ?, ?)",
                         (realm_id, requestid, status, body))

    # ---- OAuth records ----

    def oauth_get(self, token: str) -> dict[str, Any] | None:
        rows = self._read("SELECT data FROM oauth WHERE token = ?", (token,))
        return json.loads(rows[0][0]) if rows else None

    def oauth_put(self, token: str, kind: str, data: dict[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO oauth (token, kind, data) VALUES (?, ?, ?)",
                         (token, kind, json.dumps(data)))

    def oauth_by_kind(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        rows = self._read("SELECT token, data FROM oauth WHERE kind = ?", (kind,))
        return [(r[0], json.loads(r[1])) for r in rows]

    # ---- queries ----

    def _sql_cond(self, realm_id: str, entity: str, cond: Cond, col: str, kind: str) -> tuple[str, list[Any]]:
        def conv(v: Any) -> Any:
            if kind == "int":
                s = str(v)
                if isinstance(v, bool) or not s.lstrip("-").isdigit():
                    raise _Impossible
                return int(s)
            if kind == "bool":
                if isinstance(v, bool):
                    return int(v)
                if str(v).lower() in ("true", "false"):
                    return int(str(v).lower() == "true")
                raise _Impossible
            if kind == "time":
                try:
                    return wire.parse_time(str(v), self.tz(realm_id)).timestamp()
                except ValueError:
                    raise apifault.query_parse_error(f"invalid date/time value '{v}'") from None
            if kind == "lower":
                return str(v).lower()
            return str(v)

        if cond.op == "like":
            if kind not in ("lower", "text"):
                raise _Fallback
            pattern = str(cond.values[0]).lower() if kind == "lower" else str(cond.values[0])
            pattern = pattern.replace("\\", "\\\\").replace("_", "\\_")
            return f"{col} LIKE ? ESCAPE '\\'", [pattern]
        if cond.op == "in":
            vals = []
            for v in cond.values:
                with contextlib.suppress(_Impossible):
                    vals.append(conv(v))
            if not vals:
                raise _Impossible
            return f"{col} IN ({', '.join('?' for _ in vals)})", vals
        return f"{col} {_SQL_OPS[cond.op]} ?", [conv(cond.values[0])]

    def run_query(self, realm_id: str, q: Query) -> QueryResult:
        where = ["realm = ?", "entity = ?"]
        params: list[Any] = [realm_id, q.entity]
        py_conds: list[Cond] = []
        try:
            for cond in q.conds:
                hot = _hot(q.entity, cond.path)
                if hot is None:
                    py_conds.append(cond)
                    continue
                try:
                    frag, vals = self._sql_cond(realm_id, q.entity, cond, *hot)
                except _Fallback:
                    py_conds.append(cond)
                    continue
                where.append(frag)
                params.extend(vals)
        except _Impossible:
            return QueryResult([], 0 if q.count else None)
        if catalog.is_name_list(q.entity) and not q.mentions("active"):
            where.append("active = 1")
        where_sql = " AND ".join(where)

        order_sql: list[str] = []
        py_order = False
        for path, desc in q.order:
            hot = _hot(q.entity, path)
            if hot is None:
                py_order = True
                break
            order_sql.append(f"{hot[0]} {'DESC' if desc else 'ASC'}")
        if not q.order:
            if catalog.is_name_list(q.entity):
                order_sql = ["sname ASC", "id ASC"]
            elif catalog.is_transaction(q.entity):
                order_sql = ["updated DESC", "id DESC"]
            else:
                order_sql = ["id ASC"]
        elif not py_order:
            order_sql.append("id ASC")

        if not py_conds and not py_order:
            if q.count:
                n = self._read(f"SELECT COUNT(*) FROM objects WHERE {where_sql}", params)[0][0]
                return QueryResult([], int(n))
            rows = self._read(
                f"SELECT data FROM objects WHERE {where_sql} ORDER BY {', '.join(order_sql)} "
                "LIMIT ? OFFSET ?",
                [*params, q.max_results, q.start - 1])
            return QueryResult([r[0] for r in rows])

        rows = self._read(
            f"SELECT data FROM objects WHERE {where_sql} ORDER BY {', '.join(order_sql) or 'id'}", params)
        decoded = [(json.loads(r[0]), r[0]) for r in rows]
        kept = [(o, t) for o, t in decoded if all(matches(o, c) for c in py_conds)]
        if q.count:
            return QueryResult([], len(kept))
        if py_order:
            for path, desc in reversed(q.order):
                kept.sort(key=lambda ot, p=path: sort_value(ot[0], p), reverse=desc)  # type: ignore[misc]
        page = kept[q.start - 1:q.start - 1 + q.max_results]
        return QueryResult([t for _, t in page])

    def changed_since(self, realm_id: str, entity: str, since: datetime,
                      limit: int) -> list[tuple[float, str]]:
        """(time, JSON) of objects changed and transactions deleted at or after ``since``, oldest first."""
        ts = since.timestamp()
        rows = self._read(
            "SELECT updated, data FROM objects WHERE realm = ? AND entity = ? AND updated >= ? "
            "UNION ALL SELECT deleted, stub FROM tombstones WHERE realm = ? AND entity = ? AND deleted >= ? "
            "ORDER BY 1 LIMIT ?", (realm_id, entity, ts, realm_id, entity, ts, limit))
        return [(float(r[0]), r[1]) for r in rows]


class _Fallback(Exception):
    """This condition cannot be answered by SQL; evaluate it in Python."""
