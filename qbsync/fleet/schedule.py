"""Which scheduled syncs are due (pure): the periodic CDC increment and the periodic reconcile.

Webhooks can be lost (an outage, a company connected while the endpoint was down), so a schedule
stays the backstop: every ``every`` a CDC sync of each connected company, and every
``reconcile_every`` a full pass (which deletes what QuickBooks no longer has). They go through the
same queue as the webhooks' syncs, so they coalesce with them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from qbsync.cache.models import SyncState
from qbsync.fleet.runner import CDC, FULL, SCHEDULE, SyncRequest

STATE = SyncState.metadata.tables[SyncState.__tablename__]
DEFAULT_EVERY = timedelta(minutes=15)
DEFAULT_RECONCILE = timedelta(days=7)


@dataclass(frozen=True)
class RealmMarks:
    """The oldest bookmarks of a company's entities (the company is as current as its least current)."""

    last_success_at: datetime | None
    full_done_at: datetime | None
    synced: bool  # a sync has ever completed (cursors exist)


def realm_marks(engine: sa.Engine, realms: Iterable[str]) -> dict[str, RealmMarks]:
    wanted = sorted(set(realms))
    if not wanted:
        return {}
    q = (sa.select(STATE.c.realm_id, sa.func.min(STATE.c.last_success_at).label("ok"),
                   sa.func.min(STATE.c.full_sync_done_at).label("full"),
                   sa.func.count(STATE.c.cursor).label("cursors"), sa.func.count().label("n"))
         .where(STATE.c.realm_id.in_(wanted)).group_by(STATE.c.realm_id))
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    out = {r.realm_id: RealmMarks(r.ok if r.cursors == r.n else None, r.full if r.cursors == r.n else None,
                                  r.cursors > 0) for r in rows}
    return {realm: out.get(realm, RealmMarks(None, None, False)) for realm in wanted}


def due(now: datetime, marks: Mapping[str, RealmMarks], every: timedelta = DEFAULT_EVERY,
        reconcile_every: timedelta = DEFAULT_RECONCILE) -> list[SyncRequest]:
    """The scheduled requests due at ``now``. A company never synced gets one CDC request (its first
    sync is a full pass anyway), not a reconcile on top of it."""
    out: list[SyncRequest] = []
    for realm, m in sorted(marks.items()):
        if m.last_success_at is None or now - m.last_success_at >= every:
            out.append(SyncRequest(realm, CDC, SCHEDULE))
        if m.synced and (m.full_done_at is None or now - m.full_done_at >= reconcile_every):
            out.append(SyncRequest(realm, FULL, SCHEDULE))
    return out
