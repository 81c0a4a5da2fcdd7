"""Undoing a run: put back the Active value of every customer that run changed, with the same checks.

Only changes the audit log shows as applied are undone. A customer whose Active flag is still what
the run set is put back even if other fields were edited since (the sparse update touches Active
only, with the SyncToken read just before); one whose Active someone changed since is skipped and
reported, one already back to its old value is left alone. Customers are found by Id, so the
" (deleted)" suffix QuickBooks adds to inactive names does not matter. An undo is itself a run,
audited and undoable.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.orm import Session

from qbsync.cache.audit_models import WritebackAudit, WritebackPlan, WritebackRun
from qbsync.cache.models import Customer
from qbsync.clock import Clock
from qbsync.errors import InputError
from qbsync.qbo.gateway import QboGateway
from qbsync.writeback.apply import CLOCK_MARGIN
from qbsync.writeback.audit import finish_run, running
from qbsync.writeback.engine import Executor, RunReport
from qbsync.writeback.fresh import CHUNK
from qbsync.writeback.plan import counted_entities
from qbsync.writeback.recheck import Expectation

log = logging.getLogger("qbsync.writeback")


def changes_of(session: Session, run: WritebackRun) -> list[tuple[WritebackAudit, str]]:
    """What ``run`` changed, per customer: its last write event and the SyncToken it left behind.

    A write whose answer was lost ("sent"/"unknown" as last event) counts too, expected at the next
    SyncToken (QuickBooks bumps it by one per change): if the write did not happen, the customer is
    still at its old value and the undo finds nothing to do.
    """
    rows = session.scalars(sa.select(WritebackAudit).where(WritebackAudit.run_id == run.id)
                           .order_by(WritebackAudit.id))
    last: dict[str, WritebackAudit] = {}
    for row in rows:
        if row.event in ("applied", "sent", "unknown", "stale", "failed"):
            last.pop(row.customer_id, None)
            last[row.customer_id] = row
    out: list[tuple[WritebackAudit, str]] = []
    for row in last.values():
        if row.event == "applied" and row.sync_token_after is not None:
            out.append((row, row.sync_token_after))
        elif row.event in ("sent", "unknown") and (row.sync_token_sent or "").isdigit():
            out.append((row, str(int(row.sync_token_sent or "0") + 1)))
    return out


def undo_run(session: Session, gateway: QboGateway, clock: Clock, run_id: str, *, dry_run: bool = True,
             chunk_size: int = CHUNK) -> RunReport:
    """Restore what run ``run_id`` changed; with ``dry_run`` (the default) only read and report."""
    target = session.get(WritebackRun, run_id)
    if target is None:
        raise InputError(f"no write-back run '{run_id}' in this cache",
                         hint="list runs with `qbsync writeback log --runs`")
    if gateway.realm_id != target.realm_id:
        raise InputError(f"run {run_id} changed company {target.realm_id}, but the connection is to "
                         f"{gateway.realm_id}", hint=f"run it with --realm {target.realm_id}")
    if target.status in ("running", "interrupted"):
        log.warning("run %s never finished (interrupted, crashed or still running): undoing what it "
                    "recorded as applied",
                    run_id)
    earlier = list(session.scalars(sa.select(WritebackRun.id).where(WritebackRun.undo_of == run_id)
                                   .order_by(WritebackRun.started_at)))
    if earlier:
        log.warning("run %s was undone before by %s: customers already back show as 'already'", run_id,
                    ", ".join(earlier))
    changed = changes_of(session, target)
    ids = [c.customer_id for c, _ in changed]
    levels: dict[str, int] = {cid: level for cid, level in session.execute(
        sa.select(Customer.id, Customer.level).where(Customer.realm_id == target.realm_id,
                                                     Customer.id.in_(ids)))} if ids else {}
    plan = session.get(WritebackPlan, target.plan_id) if target.plan_id else None
    exps = []
    for ev, token in changed:
        assert ev.new_active is not None and ev.old_active is not None
        restoring_inactive = not ev.old_active
        exps.append(Expectation(
            customer_id=ev.customer_id, display_name=ev.display_name or ev.customer_id,
            expected_active=ev.new_active, new_active=ev.old_active, expected_token=token,
            # putting a customer back to inactive is a deactivation: no activity since the run allowed
            activity_mode="changed_since" if restoring_inactive else "none",
            changed_since=target.started_at - CLOCK_MARGIN, level=levels.get(ev.customer_id) or 0,
            other_edits_ok=True))
    with running(session, clock, target.realm_id, "undo", dry_run=dry_run, plan_id=target.plan_id,
                 undo_of=target.id) as run:
        log.info("%s run %s: %d changes to put back", "dry run of undoing" if dry_run else "undoing", run_id,
                 len(exps))
        executor = Executor(gateway, session, clock, target.realm_id, run, counted_entities(plan),
                            chunk_size)
        results, interrupted = executor.execute(exps)
        report = RunReport(kind="undo", dry_run=dry_run, realm_id=target.realm_id, plan_id=target.plan_id,
                           run_id=run.id if run else None, undo_of=target.id, items=results,
                           interrupted=interrupted)
        if run is not None:
            status = "interrupted" if interrupted else "done"
            finish_run(session, clock, run, status, report.counts(), interrupted)
    log.info("undo of run %s: %s", run_id, ", ".join(f"{k} {v}" for k, v in sorted(report.counts().items())))
    return report
