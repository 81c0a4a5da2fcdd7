"""Webhooks as Intuit sends them: the app's registration, the outbox of change events, payloads, signing.

Every change the store records (a create, update, delete, void or merge through the API, a batch item,
a change "behind the client's back", the time-forward play) appends one event to the ``webhook_events``
table in the same SQLite transaction as the change, so a write that faults sends nothing and a change
made by another process on the same database file (``qbsync sandbox advance --db``) is sent by the
server that serves it. Nothing is recorded while no endpoint is registered: as with Intuit, changes
made before the subscription are never delivered. ``webhook_sender.WebhookSender`` sends them.

Facts (docs/sandbox.md "Webhooks" has the sources): the body is signed with the ``intuit-signature``
header, base64 of HMAC-SHA256 of the raw body keyed with the app's verifier token. CloudEvents
deliveries are a JSON array of events, each ``{"specversion": "1.0", "id", "source", "type":
"qbo.<entity>.<verb>.v1", "datacontenttype", "time", "intuitentityid", "intuitaccountid", "data"}``;
the legacy payload is ``{"eventNotifications": [{"realmId", "dataChangeEvent": {"entities": [{"name",
"id", "operation", "lastUpdated"}]}}]}`` with ``deletedId`` on a merge.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from qbsync.sandbox import catalog
from qbsync.sandbox.clock import Notifier

if TYPE_CHECKING:
    import sqlite3

    from qbsync.sandbox.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS webhook_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, realm TEXT NOT NULL,
    entity TEXT NOT NULL, entity_id TEXT NOT NULL, operation TEXT NOT NULL, deleted_id TEXT,
    occurred REAL NOT NULL, state TEXT NOT NULL DEFAULT 'queued', held INTEGER NOT NULL DEFAULT 0,
    copy INTEGER NOT NULL DEFAULT 0, delivery INTEGER);
CREATE INDEX IF NOT EXISTS webhook_events_state ON webhook_events(state, seq);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT, created REAL NOT NULL, format TEXT NOT NULL,
    body TEXT NOT NULL, events TEXT NOT NULL, realms TEXT NOT NULL, state TEXT NOT NULL,
    attempts TEXT NOT NULL DEFAULT '[]', next_attempt REAL);
CREATE INDEX IF NOT EXISTS webhook_deliveries_state ON webhook_deliveries(state, id);
"""

FORMATS = ("cloudevents", "legacy")

# Which operations send an event, per entity, from Intuit's table of "entities that support webhooks"
# (developer.intuit.com .../develop/webhooks). Entities the sandbox serves that the table does not list
# (TaxCode, CustomerType, CompanyInfo) send nothing. Emailed is listed but the sandbox cannot email.
_LISTS = frozenset({"Create", "Update", "Delete", "Merge"})
_SALES = frozenset({"Create", "Update", "Delete", "Void", "Emailed"})
OPERATIONS: dict[str, frozenset[str]] = {
    "Customer": _LISTS, "Vendor": _LISTS, "Employee": _LISTS, "Account": _LISTS, "Item": _LISTS,
    "Class": _LISTS,
    "Department": frozenset({"Create", "Update", "Delete"}),
    "PaymentMethod": frozenset({"Create", "Update", "Delete"}),
    "Term": frozenset({"Create", "Update"}),
    "Invoice": _SALES, "Payment": _SALES, "SalesReceipt": _SALES, "CreditMemo": _SALES,
    "RefundReceipt": _SALES,
    "Estimate": frozenset({"Create", "Update", "Delete", "Emailed"}),
    "JournalEntry": frozenset({"Create", "Update", "Delete"}),
    "Preferences": frozenset({"Update"}),
}

_BY_LOWER = {e.lower(): e for e in OPERATIONS}

# CloudEvents ``type`` verbs: qbo.customer.created.v1, .updated, .deleted, .merged (published);
# "voided" and "emailed" follow the same past-tense pattern (unconfirmed: docs/sandbox.md).
VERBS = {"Create": "created", "Update": "updated", "Delete": "deleted", "Merge": "merged",
         "Void": "voided", "Emailed": "emailed"}

# Intuit's published retry intervals after a delivery that was not answered 200 within 3 seconds
# (blogs.intuit.com 2025/10/14, "Introducing enhanced webhooks monitoring"): 0 s, 10 s, 20 s, 30 s,
# 5 min, 20 min, 2 h, 4 h, 6 h, then every 6 h.
INTUIT_RETRY = (0.0, 10.0, 20.0, 30.0, 300.0, 1200.0, 7200.0, 14400.0, 21600.0)

# "Up to 100 events can be batched in a single webhook notification" (Intuit's webhooks webinar Q&A,
# IntuitDeveloper/SampleApp-Webhooks-Java-Cloudevents).
MAX_BATCH = 100


class WebhookError(ValueError):
    """A registration or knob the sandbox refuses; the message says what to send instead."""


def supported(entity: str, operation: str) -> str | None:
    """The operation Intuit sends for this change of ``entity``, or None when it sends nothing.
    Making a list entity inactive is its "Delete"; where the table has no Delete (Term) it is an Update."""
    ops = OPERATIONS.get(entity)
    if not ops:
        return None
    if operation in ops:
        return operation
    if operation == "Delete" and "Update" in ops:
        return "Update"
    return None


def change_operation(entity: str, before: dict[str, Any] | None, after: dict[str, Any]) -> str:
    """Create, Update, or Delete when a name-list record goes from active to inactive (name lists are
    never hard-deleted: making one inactive is what the UI calls deleting it)."""
    if before is None:
        return "Create"
    if (catalog.is_name_list(entity) and before.get("Active") is not False
            and after.get("Active") is False):
        return "Delete"
    return "Update"


# ---- registration and knobs ----

@dataclass(frozen=True)
class Endpoint:
    """The app's webhook endpoint: where to POST, the verifier token that signs, and the payload format."""

    url: str
    verifier_token: str
    format: str = "cloudevents"
    entities: tuple[str, ...] = ()  # subscribed entities; empty = all

    @classmethod
    def make(cls, url: str, verifier_token: str | None = None, format: str = "cloudevents",
             entities: Iterable[str] | str | None = None) -> Endpoint:
        parts = urlsplit(str(url or ""))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise WebhookError(f"endpoint URL {url!r} is not an http(s) URL: give the full address, "
                               "e.g. http://127.0.0.1:8000/webhooks")
        fmt = str(format or "cloudevents").lower()
        if fmt not in FORMATS:
            raise WebhookError(f"payload format {format!r} is not one of {', '.join(FORMATS)}")
        token = verifier_token if verifier_token is not None else str(uuid.uuid4())
        if not str(token).strip():
            raise WebhookError("the verifier token is empty: give one, or leave it out to get a new one")
        names = entities.split(",") if isinstance(entities, str) else list(entities or ())
        chosen: list[str] = []
        for raw in names:
            if not raw.strip():
                continue
            ent = _BY_LOWER.get(raw.strip().lower())
            if ent is None:
                known = ", ".join(sorted(e for e in OPERATIONS))
                raise WebhookError(f"entity {raw.strip()!r} sends no webhooks; subscribe to some of: {known}")
            if ent not in chosen:
                chosen.append(ent)
        return cls(str(url), str(token), fmt, tuple(chosen))

    def wants(self, entity: str) -> bool:
        return not self.entities or entity in self.entities

    def public(self) -> dict[str, Any]:
        """For display: the verifier token shortened (it is a secret, like the portal hides it)."""
        token = self.verifier_token
        shown = token[:4] + "…" if len(token) > 8 else "…"
        return {"url": self.url, "format": self.format, "entities": list(self.entities) or "all",
                "verifier_token": shown}


@dataclass
class Knobs:
    """How deliveries behave. Times are seconds on the sandbox clock (tests move it; nothing sleeps).

    ``delay``: from a change until its event may be sent. ``batch_window``: once the first event is
    due, how long to wait for more before sending (0: send what is due at once; events that pile up
    while a delivery is in flight go out together anyway). ``batch_size``: events per delivery.
    ``duplicate_rate``: chance that an event is delivered a second time, in a later delivery (same
    id). ``reorder_rate``: chance that an event is held back one delivery, so later events overtake
    it. ``seed`` makes the draws repeat. ``timeout``: real seconds the endpoint has to answer.
    ``retry_schedule``: seconds to wait after each failed attempt (the last repeats);
    ``max_attempts``: give up after this many (None: never, as Intuit keeps retrying every 6 h)."""

    delay: float = 0.0
    batch_window: float = 0.0
    batch_size: int = MAX_BATCH
    duplicate_rate: float = 0.0
    reorder_rate: float = 0.0
    seed: int = 0
    timeout: float = 3.0
    retry_schedule: tuple[float, ...] = INTUIT_RETRY
    max_attempts: int | None = None

    def __post_init__(self) -> None:
        for name in ("delay", "batch_window", "timeout"):
            value = float(getattr(self, name))
            if value < 0 or (name == "timeout" and value == 0):
                raise WebhookError(f"{name} must be {'more than' if name == 'timeout' else 'at least'} 0 "
                                   f"seconds, got {value}")
            setattr(self, name, value)
        for name in ("duplicate_rate", "reorder_rate"):
            value = float(getattr(self, name))
            if not 0 <= value <= 1:
                raise WebhookError(f"{name} is a probability between 0 and 1, got {value}")
            setattr(self, name, value)
        self.batch_size = int(self.batch_size)
        if not 1 <= self.batch_size <= 1000:
            raise WebhookError(f"batch_size must be 1..1000 events, got {self.batch_size}")
        schedule = tuple(float(s) for s in self.retry_schedule)
        if not schedule or any(s < 0 for s in schedule):
            raise WebhookError("retry_schedule needs at least one wait, none negative (seconds)")
        self.retry_schedule = schedule
        if self.max_attempts is not None:
            self.max_attempts = int(self.max_attempts)
            if self.max_attempts < 1:
                raise WebhookError(f"max_attempts must be at least 1 (or null for no limit), got "
                                   f"{self.max_attempts}")
        self.seed = int(self.seed)

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: Knobs | None = None) -> Knobs:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise WebhookError(f"unknown webhook knob {unknown[0]!r}; knobs: {', '.join(sorted(known))}")
        merged = asdict(base) if base else {}
        merged.update(data)
        return cls(**merged)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["retry_schedule"] = list(self.retry_schedule)
        return out

    def wait_after(self, attempts: int) -> float:
        """Seconds before the next attempt after ``attempts`` failed ones."""
        return self.retry_schedule[min(attempts, len(self.retry_schedule)) - 1]


# ---- events and payloads ----

@dataclass(frozen=True)
class Event:
    seq: int
    event_id: str
    realm: str
    entity: str
    entity_id: str
    operation: str
    deleted_id: str | None
    occurred: float  # epoch seconds, sandbox clock
    held: bool = False
    copy: bool = False


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def cloud_time(epoch: float) -> str:
    """``2025-09-10T21:31:25.179851517Z``: UTC with nanoseconds, as Intuit's samples carry it."""
    dt = _utc(epoch)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond:06d}000Z"


def legacy_time(epoch: float) -> str:
    """``2025-09-08T20:52:31.657Z``: UTC with milliseconds, as in Intuit's 2025 legacy sample."""
    dt = _utc(epoch)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond // 1000:03d}Z"


def source_for(app_id: str) -> str:
    """The CloudEvents ``source``: Intuit's samples carry ``intuit.`` and 44 base64 characters (a
    32-byte digest) that stay the same for an app; the sandbox uses the SHA-256 of its client id."""
    return "intuit." + base64.b64encode(hashlib.sha256(app_id.encode("utf-8")).digest()).decode("ascii")


def cloud_event(ev: Event, source: str) -> dict[str, Any]:
    data: dict[str, Any] = {"deletedid": ev.deleted_id} if ev.deleted_id else {}
    return {"specversion": "1.0", "id": ev.event_id, "source": source,
            "type": f"qbo.{ev.entity.lower()}.{VERBS[ev.operation]}.v1",
            "datacontenttype": "application/json", "time": cloud_time(ev.occurred),
            "intuitentityid": ev.entity_id, "intuitaccountid": ev.realm, "data": data}


def legacy_entity(ev: Event) -> dict[str, Any]:
    out: dict[str, Any] = {"name": ev.entity, "id": ev.entity_id, "operation": ev.operation,
                           "lastUpdated": legacy_time(ev.occurred)}
    if ev.deleted_id:
        out["deletedId"] = ev.deleted_id
    return out


def payload(events: list[Event], fmt: str, source: str) -> Any:
    """The JSON document of one delivery, events in the order given."""
    if fmt == "cloudevents":
        return [cloud_event(ev, source) for ev in events]
    by_realm: dict[str, list[dict[str, Any]]] = {}
    for ev in events:
        by_realm.setdefault(ev.realm, []).append(legacy_entity(ev))
    return {"eventNotifications": [{"realmId": realm, "dataChangeEvent": {"entities": ents}}
                                   for realm, ents in by_realm.items()]}


def body_bytes(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def content_type(fmt: str) -> str:
    # Intuit's CloudEvents migration guide warns that CloudEvents deliveries may come as
    # application/cloudevents+json (and endpoints that accept only application/json answer 415).
    return "application/cloudevents+json" if fmt == "cloudevents" else "application/json"


def sign(body: bytes, verifier_token: str) -> str:
    """The ``intuit-signature`` header: base64(HMAC-SHA256(key=verifier token, message=raw body))."""
    return base64.b64encode(hmac.new(verifier_token.encode("utf-8"), body, hashlib.sha256).digest()).decode()


# ---- the outbox: the store's side ----

class Outbox(Notifier):
    """Registration, knobs and the queue of events, kept in the store's SQLite database.

    ``record`` runs inside the store's write transaction; listeners (the sender) are told after the
    transaction commits, never before and never for one that rolled back."""

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store
        self._endpoint: Endpoint | None = None
        self._pending = threading.local()
        self.reload()

    # settings

    def _setting(self, key: str) -> Any:
        rows = self.store._read("SELECT value FROM webhook_settings WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else None

    def _put_setting(self, key: str, value: Any) -> None:
        with self.store.transaction() as conn:
            if value is None:
                conn.execute("DELETE FROM webhook_settings WHERE key = ?", (key,))
            else:
                conn.execute("INSERT OR REPLACE INTO webhook_settings (key, value) VALUES (?, ?)",
                             (key, json.dumps(value)))

    def reload(self) -> Endpoint | None:
        """Read the registration again (another process may have changed it)."""
        data = self._setting("endpoint")
        self._endpoint = Endpoint(data["url"], data["verifier_token"], data["format"],
                                  tuple(data.get("entities") or ())) if data else None
        return self._endpoint

    @property
    def endpoint(self) -> Endpoint | None:
        return self._endpoint

    def register(self, endpoint: Endpoint) -> Endpoint:
        self._put_setting("endpoint", {"url": endpoint.url, "verifier_token": endpoint.verifier_token,
                                       "format": endpoint.format, "entities": list(endpoint.entities)})
        self._endpoint = endpoint
        self.notify()
        return endpoint

    def unregister(self) -> int:
        """Remove the endpoint and drop what was not yet delivered (Intuit's "Delete subscription").
        Returns how many queued events were dropped."""
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM webhook_settings WHERE key = 'endpoint'")
            dropped = conn.execute("DELETE FROM webhook_events WHERE state = 'queued'").rowcount
            conn.execute("UPDATE webhook_deliveries SET state = 'dropped', next_attempt = NULL "
                         "WHERE state = 'pending'")
        self._endpoint = None
        self.notify()
        return int(dropped)

    def knobs(self) -> Knobs:
        data = self._setting("knobs")
        return Knobs.from_dict(data) if data else Knobs()

    def set_knobs(self, changes: dict[str, Any]) -> Knobs:
        knobs = Knobs.from_dict(changes, base=self.knobs())
        self._put_setting("knobs", knobs.to_dict())
        self.notify()
        return knobs

    # events

    def record(self, conn: sqlite3.Connection, realm: str, entity: str, entity_id: str | int,
               operation: str, deleted_id: str | int | None = None) -> None:
        """Queue the event of one change (inside the store's transaction, on its connection)."""
        endpoint = self._endpoint
        if endpoint is None or not endpoint.wants(entity):
            return
        op = supported(entity, operation)
        if op is None:
            return
        conn.execute("INSERT INTO webhook_events (event_id, realm, entity, entity_id, operation, deleted_id, "
                     "occurred) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (str(uuid.uuid4()), realm, entity, str(entity_id), op,
                      None if deleted_id is None else str(deleted_id), self.store.clock.now().timestamp()))
        self._pending.events = True

    def committed(self) -> None:
        if getattr(self._pending, "events", False):
            self._pending.events = False
            self.notify()

    def rolled_back(self) -> None:
        self._pending.events = False

    def events(self, state: str | None = None, *, due_by: float | None = None,
               limit: int | None = None) -> list[Event]:
        """Events in the outbox, oldest first: all, or those in ``state`` (queued, sent). With ``due_by``
        (epoch): only those that happened by then, events held back by the reorder knob last."""
        sql = ("SELECT seq, event_id, realm, entity, entity_id, operation, deleted_id, occurred, held, copy "
               "FROM webhook_events WHERE 1 = 1")
        params: list[Any] = []
        if state:
            sql += " AND state = ?"
            params.append(state)
        if due_by is not None:
            sql += " AND occurred <= ? ORDER BY held, seq"
            params.append(due_by)
        else:
            sql += " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = self.store._read(sql, params)
        return [Event(int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6], float(r[7]), bool(r[8]), bool(r[9]))
                for r in rows]

    def counts(self) -> dict[str, int]:
        queued = self.store._read("SELECT COUNT(*) FROM webhook_events WHERE state = 'queued'")[0][0]
        rows = self.store._read("SELECT state, COUNT(*) FROM webhook_deliveries GROUP BY state")
        out = {"queued_events": int(queued)}
        for state in ("pending", "delivered", "abandoned", "dropped"):
            out[f"{state}_deliveries"] = 0
        for state, n in rows:
            out[f"{state}_deliveries"] = int(n)
        return out

    def deliveries(self, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        """The delivery log, oldest first: what was sent (the exact body), to which realms, and each
        attempt with its sandbox-clock time and the endpoint's answer."""
        rows = self.store._read(
            "SELECT id, created, format, body, events, realms, state, attempts, next_attempt "
            "FROM webhook_deliveries WHERE id > ? ORDER BY id LIMIT ?", (after, limit))
        out = []
        for r in rows:
            out.append({"id": int(r[0]), "created": _utc(float(r[1])).isoformat(), "format": r[2],
                        "body": r[3], "events": json.loads(r[4]), "realms": json.loads(r[5]),
                        "state": r[6], "attempts": json.loads(r[7]),
                        "next_attempt": _utc(float(r[8])).isoformat() if r[8] is not None else None})
        return out
