"""Recording write-back in the cache: append-only audit events, run rows, Customer rows from answers."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from qbsync.cache.audit_models import WritebackAudit, WritebackRun
from qbsync.cache.locks import is_held, run_lock, run_lock_name
from qbsync.cache.models import Customer
from qbsync.clock import Clock

log = logging.getLogger("qbsync.writeback")

JsonDict = dict[str, Any]


def new_id(prefix: str) -> str:
    """A short id a user can type: ``P`` for plans, ``R`` for runs."""
    return prefix + uuid.uuid4().hex[:10]


@dataclass
class Event:
    """One audit event before it is stored."""

    customer_id: str
    display_name: str | None
    event: str  # skip, sent, applied, already, stale, failed, unknown
    reason: str | None = None
    attempt: int = 0
    request_id: str | None = None
    old_active: bool | None = None
    new_active: bool | None = None
    sync_token_sent: str | None = None
    sync_token_after: str | None = None
    fault_code: str | None = None


def record(session: Session, run: WritebackRun, clock: Clock, event: Event) -> None:
    """Add one audit row (the caller commits: once per batch)."""
    session.add(WritebackAudit(run_id=run.id, realm_id=run.realm_id, at=clock.now(), **vars(event)))
    # One line per customer is the audit table's job (`qbsync writeback log`); the run's summary is
    # logged at INFO by apply/undo, so cron logs stay short and -vv shows every event.
    log.debug("run %s customer %s: %s%s", run.id, event.customer_id, event.event,
              f" ({event.reason})" if event.reason else "")


@contextlib.contextmanager
def running(session: Session, clock: Clock, realm_id: str, kind: str, *, dry_run: bool,
            plan_id: str | None = None, undo_of: str | None = None) -> Iterator[WritebackRun | None]:
    """A new run row (None for a dry run), with its lock held while the block runs.

    The lock is taken before the row exists, so a run shown as "running" always has a live holder;
    when the process is killed the lock goes with it and ``runs`` reports the run as interrupted.
    """
    if dry_run:
        yield None
        return
    run_id = new_id("R")
    with run_lock(session.get_bind().engine, run_id):
        run = WritebackRun(id=run_id, realm_id=realm_id, kind=kind, plan_id=plan_id, undo_of=undo_of,
                           started_at=clock.now(), status="running", summary={})
        session.add(run)
        session.commit()
        yield run


def finish_run(session: Session, clock: Clock, run: WritebackRun, status: str, summary: dict[str, int],
               error: str | None = None) -> None:
    run.status, run.summary, run.error, run.finished_at = status, summary, error, clock.now()
    session.merge(run)
    session.commit()


def _parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)).astimezone(UTC) if value else None
    except ValueError:
        return None


def preload_customers(session: Session, realm_id: str, ids: list[str]) -> list[Customer]:
    """Load these cached customers in one SELECT, so ``update_cached_customer`` finds them in the session.

    Without it each ``session.get`` autoflushes the pending audit rows and queries on its own: two
    round trips per customer, most of an apply's time on a fast connection. The session only holds
    weak references to unmodified rows: keep the returned list until the updates are done.
    """
    if not ids:
        return []
    stmt = sa.select(Customer).where(Customer.realm_id == realm_id, Customer.id.in_(ids))
    return list(session.scalars(stmt).all())


def update_cached_customer(session: Session, realm_id: str, row: JsonDict) -> bool:
    """Bring the cached Customer in line with what QuickBooks answered; False if not cached."""
    cached = session.get(Customer, (realm_id, str(row.get("Id"))))
    if cached is None:
        return False
    cached.active = bool(row.get("Active", True))
    cached.sync_token = str(row.get("SyncToken", cached.sync_token))
    # QBO renames a deactivated customer "<name> (deleted)" and restores the name on reactivation
    if isinstance(row.get("DisplayName"), str):
        cached.display_name = row["DisplayName"]
    if isinstance(row.get("FullyQualifiedName"), str):
        cached.fully_qualified_name = row["FullyQualifiedName"]
    cached.raw = row
    updated = _parse_time((row.get("MetaData") or {}).get("LastUpdatedTime"))
    if updated is not None:
        cached.updated_at = updated
    return True


def audit_log(session: Session, *, realm_id: str | None = None, run_id: str | None = None,
              customer_id: str | None = None, limit: int | None = None) -> list[WritebackAudit]:
    """Audit events, oldest first (the last ``limit`` when given)."""
    stmt = sa.select(WritebackAudit)
    if realm_id:
        stmt = stmt.where(WritebackAudit.realm_id == realm_id)
    if run_id:
        stmt = stmt.where(WritebackAudit.run_id == run_id)
    if customer_id:
        stmt = stmt.where(WritebackAudit.customer_id == customer_id)
    stmt = stmt.order_by(WritebackAudit.id.desc())
    if limit:
        stmt = stmt.limit(limit)
    return list(reversed(session.scalars(stmt).all()))


#: ``error`` of a run found "running" with no process holding its lock
KILLED = "the process carrying it out ended before it finished (killed or crashed)"


def runs(session: Session, realm_id: str | None = None) -> list[WritebackRun]:
    """The runs, oldest first; one left "running" by a process that is gone is marked interrupted."""
    stmt = sa.select(WritebackRun).order_by(WritebackRun.started_at)
    if realm_id:
        stmt = stmt.where(WritebackRun.realm_id == realm_id)
    found = list(session.scalars(stmt).all())
    engine = session.get_bind().engine
    orphans = [r for r in found if r.status == "running" and not is_held(engine, run_lock_name(r.id))]
    for run in orphans:
        run.status, run.error = "interrupted", KILLED
    if orphans:
        session.commit()
    return found
