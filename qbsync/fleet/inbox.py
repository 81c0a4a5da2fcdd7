"""The receiver's durable side: events recorded in the cache (idempotent by id), and which companies
have a change the cache does not hold yet.

A company needs a sync when one of its events about a mirrored entity is newer than that entity's
CDC cursor (the QuickBooks time at which the last sync began reading). The decision looks at the
events' times, not at whether an event is new: a redelivery of an event already covered by a sync
queues nothing, and one whose sync was lost (a crash between recording and queueing) queues it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from qbsync.cache.fleet_models import WebhookEvent
from qbsync.cache.models import ENTITY_MODELS, SyncState
from qbsync.fleet.events import Event

EVENTS = WebhookEvent.metadata.tables[WebhookEvent.__tablename__]
STATE = SyncState.metadata.tables[SyncState.__tablename__]
#: an event is covered when its change is at least this much older than the cursor (QBO times have
#: whole seconds, and CDC's changedSince is floored to a second)
MARGIN = timedelta(seconds=1)
#: rows per INSERT: far below SQLite's and PostgreSQL's parameter limits
_CHUNK = 500
DEFAULT_RETENTION = timedelta(days=7)


def mirrored(entity: str) -> bool:
    return entity in ENTITY_MODELS


def covered(occurred_at: datetime, cursor: datetime | None) -> bool:
    """The sync that set ``cursor`` read every change made at ``occurred_at``."""
    return cursor is not None and occurred_at + MARGIN <= cursor


@dataclass
class Recorded:
    """What recording one delivery did."""

    new: int = 0
    duplicates: int = 0
    #: companies with a change the cache does not hold yet (a sync is to be queued for each)
    to_sync: list[str] = field(default_factory=list)


class Inbox:
    """Webhook events in the cache database, and the cursors they are compared with."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def _insert(self, conn: sa.Connection, rows: list[dict[str, object]]) -> int:
        """Insert, skipping event ids already there; returns how many were new."""
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt: sa.Insert = (pg_insert(EVENTS) if conn.dialect.name == "postgresql" else sqlite_insert(EVENTS)
                           ).on_conflict_do_nothing(index_elements=["event_id"])
        new = 0
        for start in range(0, len(rows), _CHUNK):
            result = conn.execute(stmt.values(rows[start:start + _CHUNK]))
            new += max(0, result.rowcount or 0)
        return new

    def record(self, events: Sequence[Event], received_at: datetime) -> Recorded:
        """Store ``events`` (one transaction, committed on return) and say which companies need a sync."""
        out = Recorded()
        if not events:
            return out
        unique: dict[str, Event] = {}
        for e in events:
            unique.setdefault(e.event_id, e)
        rows: list[dict[str, object]] = [
            dict(event_id=e.event_id, realm_id=e.realm_id, entity=e.entity[:64], entity_id=e.entity_id,
                 operation=e.operation[:16], occurred_at=e.occurred_at or received_at,
                 received_at=received_at, format=e.format) for e in unique.values()]
        with self.engine.begin() as conn:
            out.new = self._insert(conn, rows)
            out.duplicates = len(events) - out.new
            cursors = self._cursors(conn, {e.realm_id for e in events})
        out.to_sync = sorted({e.realm_id for e in events if mirrored(e.entity) and not covered(
            e.occurred_at or received_at, cursors.get((e.realm_id, e.entity)))})
        return out

    def _cursors(self, conn: sa.Connection, realms: Iterable[str]) -> dict[tuple[str, str], datetime | None]:
        wanted = sorted(set(realms))
        if not wanted:
            return {}
        rows = conn.execute(sa.select(STATE.c.realm_id, STATE.c.entity, STATE.c.cursor)
                            .where(STATE.c.realm_id.in_(wanted))).all()
        return {(r.realm_id, r.entity): r.cursor for r in rows}

    def newest_changes(self, realms: Iterable[str] | None = None) -> dict[tuple[str, str], datetime]:
        """Per (company, mirrored entity): the time of the newest change an event announced."""
        q = (sa.select(EVENTS.c.realm_id, EVENTS.c.entity, sa.func.max(EVENTS.c.occurred_at).label("newest"))
             .where(EVENTS.c.entity.in_(list(ENTITY_MODELS)))
             .group_by(EVENTS.c.realm_id, EVENTS.c.entity))
        if realms is not None:
            q = q.where(EVENTS.c.realm_id.in_(sorted(set(realms))))
        with self.engine.connect() as conn:
            return {(r.realm_id, r.entity): r.newest for r in conn.execute(q) if r.newest is not None}

    def pending(self, realms: Iterable[str] | None = None) -> list[str]:
        """Companies with a recorded change their cache does not hold yet (the in-process queue fills
        itself from this on start; the fleet's periodic sweep re-queues them if a sync was lost)."""
        newest = self.newest_changes(realms)
        with self.engine.connect() as conn:
            cursors = self._cursors(conn, {r for r, _ in newest})
        return sorted({realm for (realm, entity), t in newest.items()
                       if not covered(t, cursors.get((realm, entity)))})

    def is_pending(self, realm_id: str) -> bool:
        return bool(self.pending([realm_id]))

    def waiting(self, realm_id: str) -> int:
        """Events of ``realm_id`` about mirrored entities whose change the cache does not hold yet."""
        with self.engine.connect() as conn:
            cursors = self._cursors(conn, [realm_id])
            rows = conn.execute(sa.select(EVENTS.c.entity, EVENTS.c.occurred_at).where(
                EVENTS.c.realm_id == realm_id, EVENTS.c.entity.in_(list(ENTITY_MODELS)))).all()
        return sum(1 for r in rows if not covered(r.occurred_at, cursors.get((realm_id, r.entity))))

    def last_received(self) -> dict[str, tuple[datetime, int]]:
        """Per company: when its last event arrived, and how many events are kept."""
        q = (sa.select(EVENTS.c.realm_id, sa.func.max(EVENTS.c.received_at).label("last"),
                       sa.func.count().label("n")).group_by(EVENTS.c.realm_id))
        with self.engine.connect() as conn:
            return {r.realm_id: (r.last, int(r.n)) for r in conn.execute(q)}

    def prune(self, before: datetime) -> int:
        """Forget events received before ``before`` (redeliveries come within hours, not weeks)."""
        with self.engine.begin() as conn:
            return int(conn.execute(EVENTS.delete().where(EVENTS.c.received_at < before)).rowcount or 0)
