"""Per company, what `qbsync status` and `report health` show of the live pipeline: the last webhook
event received, the syncs waiting and running, the last sync and how far the cache lags.

Lag is measured on the cache's own bookmark: the cache holds every change QuickBooks made before
``cache_as_of`` (the oldest entity cursor, a QuickBooks server time), so ``lag = now - cache_as_of``;
``waiting`` counts events whose change no sync has read yet. Jobs are read from procrastinate's table
when the cache is the fleet's PostgreSQL database; an in-process queue lives in the server's memory and
is not visible from another process (``queued`` is then None).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from qbsync.cache.models import SyncState
from qbsync.fleet.inbox import Inbox
from qbsync.texttable import human_time

STATE = SyncState.metadata.tables[SyncState.__tablename__]
SYNC_TASK = "qbsync.sync_realm"


@dataclass
class FleetStatus:
    realm_id: str
    last_event_at: datetime | None = None
    events_kept: int = 0
    waiting_events: int = 0
    queued: int | None = None
    running: int | None = None
    last_sync_at: datetime | None = None
    cache_as_of: datetime | None = None
    lag_seconds: float | None = None

    def to_json(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t else None

        return {"realm_id": self.realm_id, "last_event_at": iso(self.last_event_at),
                "events_kept": self.events_kept, "waiting_events": self.waiting_events,
                "queued": self.queued, "running": self.running, "last_sync_at": iso(self.last_sync_at),
                "cache_as_of": iso(self.cache_as_of),
                "lag_seconds": None if self.lag_seconds is None else round(self.lag_seconds, 1)}

    def line(self) -> str:
        def when(t: datetime | None) -> str:
            return human_time(t) if t else "never"

        queue = "-" if self.queued is None else f"{self.queued} queued, {self.running or 0} running"
        lag = "-" if self.lag_seconds is None else _duration(self.lag_seconds)
        return (f"last event {when(self.last_event_at)}, {self.waiting_events} not yet synced; "
                f"queue {queue}; last sync {when(self.last_sync_at)}, lag {lag}")


def _duration(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    if s < 172800:
        return f"{s // 3600} h"
    return f"{s // 86400} d"


def _jobs(conn: sa.Connection) -> dict[tuple[str, str], int] | None:
    if conn.dialect.name != "postgresql" or not sa.inspect(conn).has_table("procrastinate_jobs"):
        return None
    rows = conn.execute(sa.text(
        "SELECT args->>'realm_id' AS realm, status::text AS status, count(*) AS n FROM procrastinate_jobs "
        "WHERE task_name = :task AND status IN ('todo', 'doing') GROUP BY 1, 2"), {"task": SYNC_TASK})
    return {(r.realm, r.status): int(r.n) for r in rows}


def fleet_status(engine: sa.Engine, realms: Iterable[str], now: datetime) -> dict[str, FleetStatus]:
    wanted = sorted(set(realms))
    inbox = Inbox(engine)
    received = inbox.last_received()
    with engine.connect() as conn:
        jobs = _jobs(conn)
        marks = {r.realm_id: r for r in conn.execute(
            sa.select(STATE.c.realm_id, sa.func.max(STATE.c.last_success_at).label("last"),
                      sa.func.min(STATE.c.cursor).label("as_of"), sa.func.count(STATE.c.cursor).label("c"),
                      sa.func.count().label("n"))
            .where(STATE.c.realm_id.in_(wanted)).group_by(STATE.c.realm_id))}
    out: dict[str, FleetStatus] = {}
    for realm in wanted:
        st = FleetStatus(realm)
        if realm in received:
            st.last_event_at, st.events_kept = received[realm]
            st.waiting_events = inbox.waiting(realm)
        if jobs is not None:
            st.queued, st.running = jobs.get((realm, "todo"), 0), jobs.get((realm, "doing"), 0)
        m = marks.get(realm)
        if m is not None:
            st.last_sync_at = m.last
            if m.c == m.n and m.as_of is not None:  # every entity has a cursor
                st.cache_as_of = m.as_of
                st.lag_seconds = (now - m.as_of).total_seconds()
        out[realm] = st
    return out
