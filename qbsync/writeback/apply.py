"""Applying a saved plan: re-read, re-check, write what still holds, audit everything (dry run by default)."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.orm import Session

from qbsync.cache.audit_models import WritebackPlan, WritebackPlanItem
from qbsync.clock import Clock
from qbsync.errors import InputError
from qbsync.qbo.gateway import QboGateway
from qbsync.writeback.audit import finish_run, running
from qbsync.writeback.engine import Executor, ItemResult, RunReport
from qbsync.writeback.fresh import CHUNK
from qbsync.writeback.plan import counted_entities, load_plan
from qbsync.writeback.recheck import ActivityMode, Expectation

log = logging.getLogger("qbsync.writeback")

#: Transactions changed this long before the plan still count as "since the plan": the QuickBooks
#: clock and ours may disagree a little, and erring towards skipping is the safe side.
CLOCK_MARGIN = timedelta(minutes=5)


def expectation_of(plan: WritebackPlan, item: WritebackPlanItem) -> Expectation:
    """What applying ``item`` assumes about the customer, and how new activity is judged."""
    mode: ActivityMode
    if item.new_active:
        mode = "none"  # reactivating never hurts the books: only SyncToken and Active must hold
    elif plan.rule == "duplicates":
        mode = "any"  # a duplicate is deactivated only when it has no transactions at all
    else:
        mode = "since_seen"
    return Expectation(customer_id=item.customer_id, display_name=item.display_name,
                       expected_active=item.current_active, new_active=item.new_active,
                       expected_token=item.sync_token, activity_mode=mode,
                       last_activity_seen=item.last_activity, changed_since=plan.created_at - CLOCK_MARGIN,
                       level=item.level, plan_seq=item.seq)


def _listed(item: WritebackPlanItem) -> ItemResult:
    outcome = "manual_merge" if item.disposition == "manual_merge" else "blocked"
    reason = item.steps if item.disposition == "manual_merge" and item.steps else item.reason
    return ItemResult(item.customer_id, item.display_name, item.current_active, item.new_active, outcome,
                      reason or "", sync_token_before=item.sync_token)


def apply_plan(session: Session, gateway: QboGateway, clock: Clock, plan_id: str, *, dry_run: bool = True,
               chunk_size: int = CHUNK) -> RunReport:
    """Apply plan ``plan_id``; with ``dry_run`` (the default) only read QuickBooks and report."""
    summary = load_plan(session, plan_id)
    plan = summary.plan
    if gateway.realm_id != plan.realm_id:
        raise InputError(f"plan {plan_id} belongs to company {plan.realm_id}, but the connection is to "
                         f"{gateway.realm_id}", hint=f"run it with --realm {plan.realm_id}")
    today = clock.now().date()
    if plan.as_of > today:
        raise InputError(f"plan {plan_id} judged customers as of {plan.as_of.isoformat()}, after today "
                         f"({today.isoformat()}): it would deactivate customers buying now",
                         hint="make a new plan as of today or a past date")
    changes = [i for i in summary.items if i.disposition == "change"]
    with running(session, clock, plan.realm_id, "apply", dry_run=dry_run, plan_id=plan.id) as run:
        log.info("%s plan %s: %d changes to re-check%s", "dry run of" if dry_run else "applying", plan.id,
                 len(changes), "" if run is None else f" (run {run.id})")
        executor = Executor(gateway, session, clock, plan.realm_id, run, counted_entities(plan),
                            chunk_size)
        results, interrupted = executor.execute([expectation_of(plan, i) for i in changes])
        by_id = {r.customer_id: r for r in results}
        report = RunReport(kind="apply", dry_run=dry_run, realm_id=plan.realm_id, plan_id=plan.id,
                           run_id=run.id if run else None, interrupted=interrupted)
        report.items = [by_id[i.customer_id] if i.disposition == "change" else _listed(i)
                        for i in summary.items]
        if run is not None:
            status = "interrupted" if interrupted else "done"
            finish_run(session, clock, run, status, report.counts(), interrupted)
    log.info("plan %s: %s", plan.id, ", ".join(f"{k} {v}" for k, v in sorted(report.counts().items())))
    return report
