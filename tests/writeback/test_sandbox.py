"""Write-back through the real QuickBooks client against the sandbox over HTTP: the issue's checks.

The plan comes from the real inactive rule over a cache synced from the sandbox by the real sync;
apply and undo go through ``qbsync.qbo.client.connect`` (limiter, retries, requestids) with virtual
sleeps, and faults come from the sandbox's FaultPlan.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from qbsync.clock import FixedClock
from qbsync.sandbox.knobs import FaultPlan
from qbsync.writeback.apply import apply_plan
from qbsync.writeback.audit import audit_log
from qbsync.writeback.plan import build_plan
from qbsync.writeback.sources import findings_for
from qbsync.writeback.undo import undo_run
from tests.writeback.sandbox_company import (
    AS_OF,
    MAX_ATTEMPTS,
    REALM,
    T0,
    TO_DEACTIVATE,
    Company,
    company,
    fill,
)


@pytest.fixture
def c(tmp_path: Path, db_url: str) -> Iterator[Company]:
    with company(tmp_path, db_url) as co:
        yield co


@pytest.fixture
def plan_clock() -> FixedClock:
    return FixedClock(T0 + timedelta(minutes=30))


@pytest.fixture
def engine(c: Company, db_url: str) -> Iterator[sa.Engine]:
    fill(c)
    eng = c.sync(db_url)
    yield eng
    eng.dispose()


def _plan(session: Session, engine: sa.Engine, clock: FixedClock) -> str:
    out = findings_for("inactive", engine, REALM, AS_OF)
    plan = build_plan(session, clock, REALM, "inactive", AS_OF, out.findings)
    assert {i.display_name for i in plan.items if i.disposition == "change"} == TO_DEACTIVATE
    return plan.plan.id


#: what QuickBooks answers that the client retries: a 503, a 429, an answer lost on the way
RETRIED_FAULTS = pytest.mark.parametrize("kind", ["503", "429", "drop"])


def _plan_faulted(c: Company, session: Session, engine: sa.Engine, clock: FixedClock,
                  script: dict[int, str]) -> tuple[str, dict[str, int]]:
    """A plan and the sync tokens before it is applied; QuickBooks will answer the requests numbered in
    ``script`` with those faults (applied in chunks of one customer, request 1 re-reads, 2 writes, 3
    re-reads, 4 writes, ...)."""
    plan_id = _plan(session, engine, clock)
    before = c.tokens()
    c.server.faults = FaultPlan(script=script)
    return plan_id, before


def _each_written_once(c: Company, before: dict[str, int]) -> None:
    """Every customer of the plan was written exactly once since the sync tokens ``before``."""
    after = c.tokens()
    assert {n: after[n] - before[n] for n in TO_DEACTIVATE} == dict.fromkeys(TO_DEACTIVATE, 1)


def test_a_plan_applied_twice_changes_quickbooks_once(
    c: Company, session: Session, engine: sa.Engine, plan_clock: FixedClock
) -> None:
    plan_id = _plan(session, engine, plan_clock)
    dry = apply_plan(session, c.client, plan_clock, plan_id)
    assert {i.outcome for i in dry.items} == {"would_apply"}, [(i.display_name, i.reason) for i in dry.items]
    assert all(c.active().values())
    before = c.tokens()
    first = apply_plan(session, c.client, plan_clock, plan_id, dry_run=False)
    assert {i.outcome for i in first.items} == {"applied"}
    tokens = c.tokens()
    second = apply_plan(session, c.client, plan_clock, plan_id, dry_run=False)
    assert {i.outcome for i in second.items} == {"already"}
    assert c.tokens() == tokens
    assert {n for n in tokens if tokens[n] != before[n]} == TO_DEACTIVATE
    assert c.active() == {"Old Alder": False, "Old Birch": False, "Recent Cedar": True, "Owes Dogwood": True,
                          "Elm Holdings": False, "Elm Site 1": False}
    assert c.customer(c.ids["Old Alder"])["DisplayName"] == "Old Alder (deleted)"
    # the cache follows QuickBooks' rename at once, not only after the next sync
    assert _cached_names(engine)[c.ids["Old Alder"]] == "Old Alder (deleted)"


def _cached_names(engine: sa.Engine) -> dict[str, str]:
    """Customer Id -> display name, as the cache holds them."""
    with engine.connect() as conn:
        return {id_: name for id_, name in conn.execute(sa.text("SELECT id, display_name FROM customers"))}


def test_customer_edited_or_invoiced_between_plan_and_apply_is_skipped(
    c: Company, session: Session, engine: sa.Engine, plan_clock: FixedClock
) -> None:
    plan_id = _plan(session, engine, plan_clock)
    c.server.clock.set(plan_clock.now() + timedelta(minutes=10))
    c.edit("Old Alder", Notes="phoned: ordering again in spring")
    c.sale("Old Birch", AS_OF, entity="Invoice")
    report = apply_plan(session, c.client, plan_clock, plan_id, dry_run=False)
    assert {i.display_name: i.outcome for i in report.items} == {
        "Old Alder": "skipped", "Old Birch": "skipped", "Elm Holdings": "applied", "Elm Site 1": "applied"}
    reasons = {i.display_name: i.reason for i in report.items}
    assert "SyncToken" in reasons["Old Alder"] or "changed" in reasons["Old Alder"], reasons
    assert c.active()["Old Alder"] and c.active()["Old Birch"]


@RETRIED_FAULTS
def test_a_fault_the_client_retries_changes_each_customer_once(
    c: Company, session: Session, engine: sa.Engine, plan_clock: FixedClock, kind: str
) -> None:
    plan_id, before = _plan_faulted(c, session, engine, plan_clock, {4: kind})  # the second write, once
    retries = c.client.stats.retries
    report = apply_plan(session, c.client, plan_clock, plan_id, dry_run=False, chunk_size=1)
    assert report.interrupted is None
    assert {i.outcome for i in report.items} == {"applied"}
    assert c.client.stats.retries == retries + 1
    assert c.waits, "the retry waited (on virtual time)"
    # a dropped answer is retried with the same requestid: QuickBooks (and the sandbox) answer it once
    _each_written_once(c, before)


@RETRIED_FAULTS
def test_faults_outliving_the_retries_leave_nothing_half_done_and_a_rerun_finishes(
    c: Company, session: Session, engine: sa.Engine, plan_clock: FixedClock, kind: str
) -> None:
    every_attempt = {4 + n: kind for n in range(MAX_ATTEMPTS)}  # at the second write
    plan_id, before = _plan_faulted(c, session, engine, plan_clock, every_attempt)
    first = apply_plan(session, c.client, plan_clock, plan_id, dry_run=False, chunk_size=1)
    assert first.interrupted
    firsts = {i.display_name: i.outcome for i in first.items}
    assert sorted(firsts.values()) == ["applied", "not_run", "not_run", "unknown"]
    unknown = next(n for n, o in firsts.items() if o == "unknown")
    # the unknown customer is either untouched (503/429 never reached the data) or fully done (drop)
    assert c.tokens()[unknown] - before[unknown] == (1 if kind == "drop" else 0)
    assert c.active()[unknown] is (kind != "drop")
    events = {e.event for e in audit_log(session, realm_id=REALM, customer_id=c.ids[unknown])}
    assert {"sent", "unknown"} <= events

    c.server.faults = None
    second = apply_plan(session, c.client, plan_clock, plan_id, dry_run=False, chunk_size=1)
    assert second.interrupted is None
    seconds = {i.display_name: i.outcome for i in second.items}
    assert seconds[unknown] == ("already" if kind == "drop" else "applied")
    assert not any(c.active()[n] for n in TO_DEACTIVATE)
    _each_written_once(c, before)


def test_undo_returns_every_touched_customer_to_its_previous_value(
    c: Company, session: Session, engine: sa.Engine, plan_clock: FixedClock
) -> None:
    plan_id = _plan(session, engine, plan_clock)
    run = apply_plan(session, c.client, plan_clock, plan_id, dry_run=False)
    assert run.run_id is not None
    undo = undo_run(session, c.client, plan_clock, run.run_id, dry_run=False)
    assert {i.outcome for i in undo.items} == {"applied"}
    assert all(c.active().values())
    assert c.customer(c.ids["Old Alder"])["DisplayName"] == "Old Alder"
    assert c.customer(c.ids["Elm Site 1"])["ParentRef"]["value"] == c.ids["Elm Holdings"]
    assert _cached_names(engine)[c.ids["Old Alder"]] == "Old Alder"


def test_nothing_with_an_open_balance_is_deactivated(
    c: Company, session: Session, engine: sa.Engine, plan_clock: FixedClock
) -> None:
    plan_id = _plan(session, engine, plan_clock)
    # an unpaid invoice dated long ago, entered after the plan: both a new balance and new activity
    c.server.clock.set(plan_clock.now() + timedelta(minutes=10))
    c.sale("Old Alder", AS_OF.replace(year=2024, month=1, day=10), entity="Invoice")
    report = apply_plan(session, c.client, plan_clock, plan_id, dry_run=False)
    alder = next(i for i in report.items if i.display_name == "Old Alder")
    assert alder.outcome == "skipped" and "balance" in alder.reason
    assert c.active()["Old Alder"] and c.active()["Owes Dogwood"]
