"""Sync health: per realm and entity, when the cache was last synced, how stale it is, and the last error.

Status per entity: ``never`` (no successful sync yet), ``error`` (the last run failed after the last
success), ``stale`` (last success older than ``stale_after``), ``ok``. Below them, the last
reconciliation of each report with QuickBooks' own (``qbsync report reconcile``): ``ok`` when every
figure agreed, ``differs`` with the first difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from qbsync.cache.models import ENTITY_MODELS, Realm, SyncState
from qbsync.clock import Clock
from qbsync.reports.table import Column, Table, record
from qbsync.texttable import human_time


@dataclass
class EntityHealth:
    realm_id: str
    company: str | None
    entity: str
    status: str
    last_success_at: datetime | None
    last_run_at: datetime | None
    age_hours: float | None
    cursor: datetime | None
    row_count: int
    cached_rows: int
    last_error: str | None


def status_of(state: SyncState | None, now: datetime, stale_after: timedelta) -> str:
    if state is None or state.last_success_at is None:
        return "error" if state is not None and state.last_error else "never"
    if state.last_error and state.last_run_at and state.last_run_at > state.last_success_at:
        return "error"
    if now - state.last_success_at > stale_after:
        return "stale"
    return "ok"


def health(engine: sa.Engine, clock: Clock, realm_id: str | None = None,
           stale_after: timedelta = timedelta(hours=26)) -> list[EntityHealth]:
    now = clock.now()
    out: list[EntityHealth] = []
    with engine.connect() as conn:
        realms = conn.execute(sa.select(Realm.realm_id, Realm.company_name)
                              .where(*([Realm.realm_id == realm_id] if realm_id else []))
                              .order_by(Realm.realm_id)).all()
        for rid, company in realms:
            states = _states(conn, rid)
            for entity, model in ENTITY_MODELS.items():
                state = states.get(entity)
                table_ = model.__table__
                cached = conn.execute(sa.select(sa.func.count()).select_from(table_)
                                      .where(table_.c.realm_id == rid)).scalar_one()
                success = state.last_success_at if state else None
                out.append(EntityHealth(
                    rid, company, entity, status_of(state, now, stale_after), success,
                    state.last_run_at if state else None,
                    round((now - success).total_seconds() / 3600, 1) if success else None,
                    state.cursor if state else None, state.row_count if state else 0, int(cached),
                    state.last_error if state else None))
            out += _checks(conn, rid, company, now)
    return out


def _checks(conn: sa.Connection, realm_id: str, company: str | None, now: datetime) -> list[EntityHealth]:
    from qbsync.reports.reconcile import last_checks

    rows = []
    for report, c in sorted(last_checks(conn, realm_id).items()):
        first = (c.detail or [{}])[0]
        said = None
        if c.differences:
            said = (f"{c.differences} differ from QuickBooks, e.g. {first.get('name')} "
                    f"({first.get('customer_id')}) {first.get('what')}: qbsync {first.get('ours')}, "
                    f"QuickBooks {first.get('theirs')}")
        rows.append(EntityHealth(
            realm_id, company, f"reconcile {report} ({c.qbo_report}, as of {c.as_of.isoformat()})",
            "differs" if c.differences else "ok", c.checked_at, c.checked_at,
            round((now - c.checked_at).total_seconds() / 3600, 1), None, c.compared, c.compared, said))
    return rows


def _states(conn: sa.Connection, realm_id: str) -> dict[str, SyncState]:
    rows = conn.execute(sa.select(SyncState.__table__).where(SyncState.realm_id == realm_id)).mappings()
    return {r["entity"]: SyncState(**dict(r)) for r in rows}


def table(rows: list[EntityHealth], now: datetime) -> Table:
    cols = [Column("realm_id", "Realm"), Column("company", "Company"), Column("entity", "Entity"),
            Column("status", "Status"), Column("last_success_at", "Last success", "date"),
            Column("age_hours", "Age (h)", "number"), Column("row_count", "Rows synced", "int"),
            Column("cached_rows", "Rows cached", "int"), Column("last_error", "Last error")]
    bad = [r for r in rows if r.status != "ok"]
    notes = ([f"{len(bad)} of {len(rows)} entities need attention: run `qbsync sync`"] if bad
             else ["all entities synced recently"] if rows else ["no realm in the cache: run `qbsync sync`"])
    return Table(f"Sync health at {human_time(now)}", cols, [record(r) for r in rows],
                 None, notes, {"now": now, "needs_attention": len(bad)})
