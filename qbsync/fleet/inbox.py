"""The receiver's durable side: events recorded in the cache (idempotent by id, numbered in arrival
order), and which companies have a change the cache does not hold yet.

An event is *covered* — its change is in the cache — when either

- it was committed before the company's last successful queued sync began (``seq`` up to
  ``fleet_realms.events_through``): the change happened before the event was sent, so before that
  sync read QuickBooks. Exact, and needs no clock; or
- its change is older than the entity's CDC cursor (the QuickBooks time at which the last sync of any
  kind began reading) by at least a second: what makes a late, out-of-order event queue nothing.
  QuickBooks' ``LastUpdatedTime`` has whole seconds, hence the second.

A company needs a sync while one of its events about a mirrored entity is not covered. The decision
looks at coverage, not at whether an event is new: a redelivery of a covered event queues nothing,
and one whose sync was lost (a crash between recording and queueing) queues it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from qbsync.cache.fleet_models import FleetRealm, WebhookEvent
from qbsync.cache.models import ENTITY_MODELS, SyncState
from qbsync.fleet.events import Event

EVENTS = WebhookEvent.metadata.tables[WebhookEvent.__tablename__]
REALMS = FleetRealm.metadata.tables[FleetRealm.__tablename__]
STATE = SyncState.metadata.tables[SyncState.__tablename__]
MARGIN = timedelta(seconds=1)
#: rows per statement: far below SQLite's and PostgreSQL's parameter limits
_CHUNK = 500
DEFAULT_RETENTION = timedelta(days=7)

Cursors = dict[tuple[str, str], datetime | None]


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


@dataclass(frozen=True)
class _Marks:
    through: dict[str, int]
    cursors: Cursors

    def covers(self, realm: str, entity: str, seq: int, occurred_at: datetime) -> bool:
        return seq <= self.through.get(realm, 0) or covered(occurred_at, self.cursors.get((realm, entity)))


class Inbox:
    """Webhook events in the cache database, and the bookmarks they are compared with."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def _insert(self, conn: sa.Connection, rows: list[dict[str, object]]) -> int:
        """Insert, skipping event ids already there; returns how many were new.

        The new rows are counted from RETURNING: psycopg reports ``rowcount`` -1 for a multi-row
        INSERT ... ON CONFLICT, which once made every event of a PostgreSQL delivery "already seen"."""
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt: sa.Insert = (pg_insert(EVENTS) if conn.dialect.name == "postgresql" else sqlite_insert(EVENTS)
                           ).on_conflict_do_nothing(index_elements=["event_id"])
        new = 0
        for start in range(0, len(rows), _CHUNK):
            new += len(conn.execute(stmt.values(rows[start:start + _CHUNK]).returning(EVENTS.c.seq)).all())
        return new

    def _marks(self, conn: sa.Connection, realms: Iterable[str]) -> _Marks:
        wanted = sorted(set(realms))
        if not wanted:
            return _Marks({}, {})
        through = {r.realm_id: int(r.events_through or 0) for r in conn.execute(
            sa.select(REALMS.c.realm_id, REALMS.c.events_through).where(REALMS.c.realm_id.in_(wanted)))}
        cursors: Cursors = {(r.realm_id, r.entity): r.cursor for r in conn.execute(
            sa.select(STATE.c.realm_id, STATE.c.entity, STATE.c.cursor).where(STATE.c.realm_id.in_(wanted)))}
        return _Marks(through, cursors)

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
        ids = list(unique)
        with self.engine.begin() as conn:
            out.new = self._insert(conn, rows)
            out.duplicates = len(events) - out.new
            stored = {}
            for start in range(0, len(ids), _CHUNK):
                stored.update({r.event_id: r for r in conn.execute(
                    sa.select(EVENTS.c.event_id, EVENTS.c.seq, EVENTS.c.realm_id, EVENTS.c.entity,
                              EVENTS.c.occurred_at).where(EVENTS.c.event_id.in_(ids[start:start + _CHUNK])))})
            marks = self._marks(conn, {e.realm_id for e in unique.values()})
        # The stored row decides (a redelivery is judged by when it first arrived, and by what it said).
        out.to_sync = sorted({r.realm_id for r in stored.values() if mirrored(r.entity)
                              and not marks.covers(r.realm_id, r.entity, r.seq, r.occurred_at)})
        return out

    def _uncovered(self, realms: Iterable[str] | None) -> list[tuple[str, str, int, datetime]]:
        """(company, entity, seq, change time) of the events about mirrored entities newer than the
        company's last queued sync."""
        with self.engine.connect() as conn:
            q = (sa.select(EVENTS.c.realm_id, EVENTS.c.entity, EVENTS.c.seq, EVENTS.c.occurred_at)
                 .select_from(EVENTS.outerjoin(REALMS, REALMS.c.realm_id == EVENTS.c.realm_id))
                 .where(EVENTS.c.entity.in_(list(ENTITY_MODELS)),
                        EVENTS.c.seq > sa.func.coalesce(REALMS.c.events_through, 0)))
            if realms is not None:
                q = q.where(EVENTS.c.realm_id.in_(sorted(set(realms))))
            rows = [(r.realm_id, r.entity, int(r.seq), r.occurred_at) for r in conn.execute(q)]
            marks = self._marks(conn, {r[0] for r in rows})
        return [r for r in rows if not marks.covers(*r)]

    def pending(self, realms: Iterable[str] | None = None) -> list[str]:
        """Companies with a recorded change their cache does not hold yet (the in-process queue fills
        itself from this on start; the fleet's tick re-queues them if a sync was lost)."""
        return sorted({r[0] for r in self._uncovered(realms)})

    def is_pending(self, realm_id: str) -> bool:
        return bool(self._uncovered([realm_id]))

    def waiting(self, realm_id: str) -> int:
        """Events of ``realm_id`` about mirrored entities whose change the cache does not hold yet."""
        return len(self._uncovered([realm_id]))

    def last_seq(self, realm_id: str) -> int:
        """The newest event of the company committed so far (read before a sync begins)."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(EVENTS.c.seq), 0))
                                    .where(EVENTS.c.realm_id == realm_id)).scalar_one())

    def note_sync(self, realm_id: str, *, outcome: str, started_at: datetime, finished_at: datetime,
                  through: int | None = None, error: str | None = None) -> None:
        """What a queued sync did; ``through``: it succeeded, and every event up to it is covered."""
        values: dict[str, object] = dict(last_started_at=started_at, last_finished_at=finished_at,
                                         last_outcome=outcome, last_error=(error or None) and error[:2000])
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(REALMS.c.events_through).where(REALMS.c.realm_id == realm_id)
                               .with_for_update()).first()
            if row is None:
                conn.execute(REALMS.insert().values(realm_id=realm_id, events_through=through or 0, **values))
                return
            if through is not None:
                values["events_through"] = max(int(row.events_through or 0), through)
            conn.execute(REALMS.update().where(REALMS.c.realm_id == realm_id).values(**values))

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
