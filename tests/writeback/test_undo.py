"""Undo: every customer a run changed goes back to its previous Active value, with the same care."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from qbsync.clock import FixedClock
from qbsync.errors import InputError, ServerError
from qbsync.writeback.apply import apply_plan
from qbsync.writeback.audit import audit_log, runs
from qbsync.writeback.plan import build_plan
from qbsync.writeback.undo import undo_run
from tests.writeback.conftest import REALM, Company, cached, finding, mirror

AS_OF = date(2026, 11, 23)


def _applied(session: Session, qbo: Company, clock: FixedClock, n: int) -> str:
    for k in range(1, n + 1):
        qbo.add_customer(str(k), f"Customer {k}", token="2")
    mirror(session, qbo)
    plan = build_plan(
        session, clock, REALM, "inactive", AS_OF, [finding(qbo, str(k)) for k in range(1, n + 1)]
    )
    report = apply_plan(session, qbo, clock, plan.plan.id, dry_run=False)
    assert report.run_id is not None
    return report.run_id


def test_undo_restores_every_customer_found_by_id_despite_the_deleted_suffix(
    session: Session, qbo: Company, clock: FixedClock
) -> None:
    run_id = _applied(session, qbo, clock, 4)
    assert qbo.customers["1"]["DisplayName"] == "Customer 1 (deleted)"
    dry = undo_run(session, qbo, clock, run_id)
    assert {i.outcome for i in dry.items} == {"would_apply"}
    assert not any(c["Active"] for c in qbo.customers.values())  # the dry run wrote nothing
    report = undo_run(session, qbo, clock, run_id, dry_run=False)
    assert {i.outcome for i in report.items} == {"applied"}
    assert all(c["Active"] for c in qbo.customers.values())
    assert qbo.customers["1"]["DisplayName"] == "Customer 1"
    assert cached(session, "3").active is True
    kinds = [(r.kind, r.undo_of) for r in runs(session, REALM)]
    assert kinds == [("apply", None), ("undo", run_id)]


def test_undo_restores_a_customer_edited_since_the_run_and_is_itself_idempotent(
    session: Session, qbo: Company, clock: FixedClock
) -> None:
    run_id = _applied(session, qbo, clock, 3)
    qbo.edit("2", Notes="someone touched it")  # another field: Active is still what the run set
    dry = undo_run(session, qbo, clock, run_id)
    assert "other fields edited since" in next(i.reason for i in dry.items if i.customer_id == "2")
    first = undo_run(session, qbo, clock, run_id, dry_run=False)
    assert {i.customer_id: i.outcome for i in first.items} == {"1": "applied", "2": "applied", "3": "applied"}
    assert qbo.customers["2"]["Active"] is True
    assert qbo.customers["2"]["Notes"] == "someone touched it"  # a sparse update: the edit stays
    second = undo_run(session, qbo, clock, run_id, dry_run=False)
    assert {i.outcome for i in second.items} == {"already"}
    assert len(qbo.writes) == 3 + 3


def test_apply_still_skips_a_customer_edited_since_the_plan(
    session: Session, qbo: Company, clock: FixedClock
) -> None:
    for k in ("1", "2"):
        qbo.add_customer(k, f"Customer {k}", token="2")
    mirror(session, qbo)
    plan = build_plan(session, clock, REALM, "inactive", AS_OF, [finding(qbo, k) for k in ("1", "2")])
    qbo.edit("2", Notes="someone touched it")
    report = apply_plan(session, qbo, clock, plan.plan.id, dry_run=False)
    outcomes = {i.customer_id: (i.outcome, i.reason) for i in report.items}
    assert outcomes["1"][0] == "applied"
    assert outcomes["2"][0] == "skipped" and "SyncToken was 2, now 3" in outcomes["2"][1]
    assert qbo.customers["2"]["Active"] is True


def test_undo_of_an_undo_deactivates_again_but_never_with_a_balance(
    session: Session, qbo: Company, clock: FixedClock
) -> None:
    run_id = _applied(session, qbo, clock, 2)
    undo = undo_run(session, qbo, clock, run_id, dry_run=False)
    assert undo.run_id is not None
    qbo.add_txn("Invoice", "1", date(2026, 1, 5), "5.00", open_=True)
    again = undo_run(session, qbo, clock, undo.run_id, dry_run=False)
    assert {i.customer_id: i.outcome for i in again.items} == {"1": "skipped", "2": "applied"}
    assert qbo.customers["1"]["Active"] is True


def test_undo_covers_a_write_whose_answer_was_lost(session: Session, qbo: Company, clock: FixedClock) -> None:
    for k in (1, 2):
        qbo.add_customer(str(k), f"Customer {k}", token="5")
    mirror(session, qbo)
    plan = build_plan(session, clock, REALM, "inactive", AS_OF, [finding(qbo, "1"), finding(qbo, "2")])
    qbo.lose_answer[2] = ServerError("connection reset")
    report = apply_plan(session, qbo, clock, plan.plan.id, dry_run=False)
    assert {i.outcome for i in report.items} == {"unknown"}
    assert report.run_id is not None
    undo = undo_run(session, qbo, clock, report.run_id, dry_run=False)
    assert {i.outcome for i in undo.items} == {"applied"}
    assert all(c["Active"] for c in qbo.customers.values())
    assert [e.event for e in audit_log(session, run_id=undo.run_id, customer_id="1")] == ["sent", "applied"]


def test_undo_of_unknown_run_names_the_fix(session: Session, qbo: Company, clock: FixedClock) -> None:
    with pytest.raises(InputError, match="no write-back run 'Rmissing'") as err:
        undo_run(session, qbo, clock, "Rmissing")
    assert "writeback log" in str(err.value)
