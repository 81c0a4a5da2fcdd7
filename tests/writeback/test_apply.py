"""Applying plans against a fake QuickBooks: re-check, skip on change, 5010, faults, idempotency, audit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from qbsync.cache.audit_models import WritebackAudit, WritebackRun
from qbsync.clock import FixedClock
from qbsync.errors import InputError, ServerError, ThrottledError
from qbsync.writeback.apply import apply_plan
from qbsync.writeback.audit import audit_log
from qbsync.writeback.plan import build_plan
from tests.writeback.conftest import REALM, Company, cached, finding, mirror

AS_OF = date(2026, 11, 23)


def _company(qbo: Company, n: int) -> list[str]:
    ids = []
    for k in range(1, n + 1):
        cid = str(k)
        qbo.add_customer(cid, f"Customer {k:03d}", token=str(k % 4))
        qbo.add_txn("Invoice", cid, date(2024, 1, 1) + timedelta(days=k))
        ids.append(cid)
    return ids


def _plan(
    session: Session,
    qbo: Company,
    clock: FixedClock,
    ids: Sequence[str],
    rule: str = "inactive",
    action: str = "deactivate",
) -> str:
    mirror(session, qbo)
    return build_plan(
        session, clock, REALM, rule, AS_OF, [finding(qbo, c, action, rule) for c in ids]
    ).plan.id


def _outcomes(report: Any) -> dict[str, str]:
    return {i.customer_id: i.outcome for i in report.items}


def test_dry_run_reads_but_writes_nothing_anywhere(session: Session, qbo: Company, clock: FixedClock) -> None:
    ids = _company(qbo, 3)
    plan_id = _plan(session, qbo, clock, ids)
    report = apply_plan(session, qbo, clock, plan_id)
    assert set(_outcomes(report).values()) == {"would_apply"}
    assert qbo.writes == [] and qbo.write_batches() == []
    assert all(c["Active"] for c in qbo.customers.values())
    assert session.scalars(sa.select(WritebackRun)).all() == []
    assert session.scalars(sa.select(WritebackAudit)).all() == []
    assert cached(session, "1").active is True


def test_apply_writes_sparse_updates_in_batches_and_updates_cache(
    session: Session, qbo: Company, clock: FixedClock
) -> None:
    ids = _company(qbo, 65)
    plan_id = _plan(session, qbo, clock, ids)
    report = apply_plan(session, qbo, clock, plan_id, dry_run=False)
    assert set(_outcomes(report).values()) == {"applied"}
    assert not any(c["Active"] for c in qbo.customers.values())
    batches = qbo.write_batches()
    assert [len(b) for b in batches] == [30, 30, 5]
    for batch in batches:
        for item in batch:
            body = item["Customer"]
            assert set(body) == {"Id", "SyncToken", "sparse", "Active"}
            assert body["sparse"] is True and body["Active"] is False
            assert len(item["bId"]) <= 50
    row = cached(session, "7")
    assert row.active is False
    assert row.sync_token == qbo.customers["7"]["SyncToken"]
    assert row.raw["DisplayName"] == "Customer 007 (deleted)"
    events = audit_log(session, run_id=report.run_id)
    assert [e.event for e in events if e.customer_id == "7"] == ["sent", "applied"]


def test_applying_a_plan_twice_changes_quickbooks_once(
    session: Session, qbo: Company, clock: FixedClock
) -> None:
    ids = _company(qbo, 5)
    plan_id = _plan(session, qbo, clock, ids)
    first = apply_plan(session, qbo, clock, plan_id, dry_run=False)
    tokens = {c: qbo.customers[c]["SyncToken"] for c in ids}
    second = apply_plan(session, qbo, clock, plan_id, dry_run=False)
    assert set(_outcomes(first).values()) == {"applied"}
    assert set(_outcomes(second).values()) == {"already"}
    assert len(qbo.writes) == 5 and len(qbo.write_batches()) == 1
    assert {c: qbo.customers[c]["SyncToken"] for c in ids} == tokens


def test_customer_edited_or_invoiced_since_the_plan_is_skipped_never_overwritten(
    session: Session, qbo: Company, clock: FixedClock
) -> None:
    ids = _company(qbo, 4)
    plan_id = _plan(session, qbo, clock, ids)
    qbo.edit("1", Notes="called, will order again")  # edited: SyncToken moves
    qbo.add_txn("SalesReceipt", "2", date(2026, 11, 20))  # bought again
    qbo.add_txn("Invoice", "3", date(2023, 1, 1), "40.00", open_=True)  # a balance, no customer edit
    report = apply_plan(session, qbo, clock, plan_id, dry_run=False)
    out = _outcomes(report)
    assert out == {"1": "skipped", "2": "skipped", "3": "skipped", "4": "applied"}
    reasons = {i.customer_id: i.reason for i in report.items}
    assert "SyncToken" in reasons["1"]
    assert "new activity" in reasons["2"] and "2026-11-20" in reasons["2"]
    assert "open balance 40.00" in reasons["3"]
    assert [w["Id"] for w in qbo.writes] == ["4"]
    assert qbo.customers["1"]["Active"] and qbo.customers["2"]["Active"] and qbo.customers["3"]["Active"]
    skips = [e for e in audit_log(session, run_id=report.run_id) if e.event == "skip"]
    assert {e.customer_id for e in skips} == {"1", "2", "3"}


def test_backdated_invoice_entered_after_the_plan_counts_as_new_activity(
    session: Session, qbo: Company, clock: FixedClock
) -> None:
    ids = _company(qbo, 2)
    plan_id = _plan(session, qbo, clock, ids)
    clock.advance(timedelta(hours=1))
    qbo.clock.set(clock.now())
    qbo.add_txn("Invoice", "1", date(2023, 6, 1))  # dated long ago, entered now
    report = apply_plan(session, qbo, clock, plan_id, dry_run=False)
    assert _outcomes(report) == {"1": "skipped", "2": "applied"}
    why = next(i.reason for i in report.items if i.customer_id == "1")
    assert "dated 2023-06-01" in why and "entered or changed after" in why  # found by entry time, not date


def test_nothing_with_an_open_balance_is_deactivated_even_if_quickbooks_would_allow(
    session: Session, qbo: Company, clock: FixedClock
) -> None:
    ids = _company(qbo, 2)
    plan_id = _plan(session, qbo, clock, ids)
    qbo.settle("1", BalanceWithJobs=15.0)  # only a job owes money
    report = apply_plan(session, qbo, clock, plan_id, dry_run=False)
    assert _outcomes(report) == {"1": "skipped", "2": "applied"}
    assert qbo.customers["1"]["Active"] is True


def test_balance_refusal_from_quickbooks_is_reported_not_retried(
    session: Session, qbo: Company, clock: FixedClock
) -> None:
    ids = _company(qbo, 2)
    plan_id = _plan(session, qbo, clock, ids)

    def balance_appears(fake: Company, items: Sequence[dict[str, Any]]) -> None:
        fake.add_txn("Invoice", "2", date(2023, 1, 1), "9.99", open_=True)  # between re-read and write

    qbo.before_batch[2] = balance_appears
    report = apply_plan(session, qbo, clock, plan_id, dry_run=False)
    assert _outcomes(report) == {"1": "applied", "2": "skipped"}
    assert "balance" in {i.customer_id: i.reason for i in report.items}["2"]
    assert len(qbo.write_batches()) == 1


def test_5010_rereads_and_skips_a_customer_changed_meanwhile(
    session: Session, qbo: Company, clock: FixedClock
) -> None:
    ids = _company(qbo, 3)
    plan_id = _plan(session, qbo, clock, ids)

    def someone_edits(fake: Company, items: Sequence[dict[str, Any]]) -> None:
        fake.edit("2", CompanyName="Renamed Ltd")

    qbo.before_batch[2] = someone_edits  # call 1 = re-read, call 2 = write
    report = apply_plan(session, qbo, clock, plan_id, dry_run=False)
    assert _outcomes(report) == {"1": "applied", "2": "skipped", "3": "applied"}
    assert qbo.customers["2"]["Active"] is True
    assert len(qbo.write_batches()) == 1  # no blind retry
    events = [e.event for e in audit_log(session, run_id=report.run_id, customer_id="2")]
    assert events == ["sent", "stale", "skip"]


def test_5010_without_a_real_change_is_sent_again_once_after_rereading(
    session: Session, qbo: Company, clock: FixedClock
) -> None:
    ids = _company(qbo, 2)
    plan_id = _plan(session, qbo, clock, ids)
    qbo.stale_once.add("1")
    report = apply_plan(session, qbo, clock, plan_id, dry_run=False)
    assert _outcomes(report) == {"1": "applied", "2": "applied"}
    attempts = [(e.event, e.attempt) for e in audit_log(session, run_id=report.run_id, customer_id="1")]
    assert attempts == [("sent", 1), ("stale", 1), ("sent", 2), ("applied", 2)]
    rids = {e.request_id for e in audit_log(session, run_id=report.run_id, customer_id="1") if e.request_id}
    assert len(rids) == 2  # a new attempt gets its own requestid, or QuickBooks would replay the 5010


@pytest.mark.parametrize("fault", [ThrottledError("throttled", status=429), ServerError("503", status=503)])
def test_throttle_or_server_error_mid_apply_leaves_no_customer_half_done_and_rerun_finishes(
    session: Session, qbo: Company, clock: FixedClock, fault: Exception
) -> None:
    ids = _company(qbo, 6)
    plan_id = _plan(session, qbo, clock, ids)

    def fail(fake: Company, items: Sequence[dict[str, Any]]) -> None:
        raise fault

    qbo.before_batch[4] = fail  # chunks of 2: read, write, read, WRITE fails, ...
    first = apply_plan(session, qbo, clock, plan_id, dry_run=False, chunk_size=2)
    assert first.interrupted
    out = _outcomes(first)
    assert list(out.values()).count("applied") == 2
    assert list(out.values()).count("unknown") == 2 and list(out.values()).count("not_run") == 2
    for cid in ids:  # the cache agrees with QuickBooks for everything written
        if out[cid] == "applied":
            assert cached(session, cid).active is False and qbo.customers[cid]["Active"] is False
        else:
            assert qbo.customers[cid]["Active"] is True
    assert session.get(WritebackRun, first.run_id).status == "interrupted"  # type: ignore[union-attr]
    second = apply_plan(session, qbo, clock, plan_id, dry_run=False, chunk_size=2)
    assert second.interrupted is None
    assert sorted(_outcomes(second).values()) == ["already"] * 2 + ["applied"] * 4
    assert sorted(w["Id"] for w in qbo.writes) == sorted(ids)  # each customer written exactly once


def test_lost_answer_is_recorded_unknown_and_rerun_finds_it_done(
    session: Session, qbo: Company, clock: FixedClock
) -> None:
    ids = _company(qbo, 3)
    plan_id = _plan(session, qbo, clock, ids)
    qbo.lose_answer[2] = ServerError("connection dropped")
    first = apply_plan(session, qbo, clock, plan_id, dry_run=False)
    assert set(_outcomes(first).values()) == {"unknown"}
    assert not any(c["Active"] for c in qbo.customers.values())  # QuickBooks did it
    second = apply_plan(session, qbo, clock, plan_id, dry_run=False)
    assert set(_outcomes(second).values()) == {"already"}
    assert len(qbo.writes) == 3
    assert cached(session, "2").active is False  # the re-run brought the cache in line


def test_jobs_are_deactivated_before_a_parent_and_a_parent_with_active_jobs_is_kept(
    session: Session, qbo: Company, clock: FixedClock
) -> None:
    qbo.add_customer("1", "Parent")
    qbo.add_customer("2", "Job A", parent="1")
    qbo.add_customer("3", "Other Parent")
    qbo.add_customer("4", "Job B", parent="3")
    plan_id = _plan(session, qbo, clock, ["1", "2", "3"])  # job 4 stays active
    report = apply_plan(session, qbo, clock, plan_id, dry_run=False)
    assert _outcomes(report) == {"1": "applied", "2": "applied", "3": "skipped"}
    assert "sub-customers" in {i.customer_id: i.reason for i in report.items}["3"]
    assert [w["Id"] for w in qbo.writes] == ["2", "1"]


def test_reactivation_plan_restores_active_and_drops_the_deleted_suffix(
    session: Session, qbo: Company, clock: FixedClock
) -> None:
    qbo.add_customer("1", "Came Back", active=False, token="3")
    qbo.add_txn("Invoice", "1", date(2026, 10, 1))
    plan_id = _plan(session, qbo, clock, ["1"], rule="reactivate", action="reactivate")
    report = apply_plan(session, qbo, clock, plan_id, dry_run=False)
    assert _outcomes(report) == {"1": "applied"}
    assert qbo.customers["1"]["Active"] is True and qbo.customers["1"]["DisplayName"] == "Came Back"


def test_duplicate_is_deactivated_only_without_any_transactions(
    session: Session, qbo: Company, clock: FixedClock
) -> None:
    qbo.add_customer("1", "Acme Inc")
    qbo.add_customer("2", "ACME Inc.")
    qbo.add_customer("3", "Acme Incorporated")
    qbo.add_customer("4", "Acme, Inc")
    qbo.add_customer("5", "ACME INC")
    plan_id = _plan(session, qbo, clock, ["2", "3", "4", "5"], rule="duplicates")
    qbo.add_txn("Payment", "2", date(2019, 1, 1))  # any payment, however old
    # an estimate is history too: the plan would have sent this one to a manual merge
    qbo.add_txn("Estimate", "3", date(2020, 1, 1))
    unpaid = qbo.add_txn("Invoice", "4", date(2021, 1, 1), open_=True)
    qbo.void("Invoice", unpaid)  # a voided invoice is no transaction to keep: as the plan judges it
    report = apply_plan(session, qbo, clock, plan_id, dry_run=False)
    assert _outcomes(report) == {"2": "skipped", "3": "skipped", "4": "applied", "5": "applied"}
    assert sorted(w["Id"] for w in qbo.writes) == ["4", "5"]


def test_a_voided_invoice_is_no_activity_when_the_plan_is_applied(
    session: Session, qbo: Company, clock: FixedClock
) -> None:
    """Issue 10: the plan and its write-time re-check count activity as the rule does (voids left out)."""
    qbo.add_customer("1", "Amy's Bird Sanctuary")
    qbo.add_txn("Invoice", "1", date(2022, 3, 1))
    mistaken = qbo.add_txn("Invoice", "1", date(2024, 11, 1), open_=True)
    qbo.void("Invoice", mistaken)  # voided before the plan, dated after the last real activity
    qbo.add_customer("2", "Bill's Windsurf Shop")
    receipt = qbo.add_txn("SalesReceipt", "2", date(2023, 5, 1))
    plan_id = _plan(session, qbo, clock, ["1", "2"])
    clock.advance(timedelta(hours=1))
    qbo.clock.set(clock.now())
    qbo.void("SalesReceipt", receipt)  # voided after the plan: a change, but no new activity
    report = apply_plan(session, qbo, clock, plan_id, dry_run=False)
    assert _outcomes(report) == {"1": "applied", "2": "applied"}, [i.reason for i in report.items]


def test_plan_of_another_company_is_refused(session: Session, qbo: Company, clock: FixedClock) -> None:
    ids = _company(qbo, 1)
    plan_id = _plan(session, qbo, clock, ids)
    other = Company("4620")
    # Bad input (exit 2), not a write-back that stopped early (exit 6, "run it again"): a cron
    # wrapper must not retry these forever.
    with pytest.raises(InputError, match="belongs to company 9130"):
        apply_plan(session, other, clock, plan_id)
    with pytest.raises(InputError, match="no write-back plan"):
        apply_plan(session, qbo, clock, "Pnope")


def test_a_crash_mid_apply_leaves_the_attempts_on_record_and_a_rerun_finishes(
    engine: sa.Engine, session: Session, qbo: Company, clock: FixedClock
) -> None:
    from qbsync.cache.db import session_factory

    ids = _company(qbo, 4)
    plan_id = _plan(session, qbo, clock, ids)

    def killed(fake: Company, items: Sequence[dict[str, Any]]) -> None:
        raise KeyboardInterrupt  # the process dies while the write batch is in flight

    qbo.before_batch[2] = killed
    with pytest.raises(KeyboardInterrupt):
        apply_plan(session, qbo, clock, plan_id, dry_run=False)
    with session_factory(engine)() as fresh:
        crashed = fresh.scalars(sa.select(WritebackRun)).one()
        assert crashed.status == "running"
        assert sorted(
            e.customer_id for e in audit_log(fresh, run_id=crashed.id) if e.event == "sent"
        ) == sorted(ids)
    session.rollback()
    report = apply_plan(session, qbo, clock, plan_id, dry_run=False)
    assert set(_outcomes(report).values()) == {"applied"}
    assert sorted(w["Id"] for w in qbo.writes) == sorted(ids)


def test_a_plan_judged_as_of_a_future_date_is_refused(session: Session, qbo: Company,
                                                      clock: FixedClock) -> None:
    ids = _company(qbo, 2)
    mirror(session, qbo)
    later = clock.now().date() + timedelta(days=400)
    plan = build_plan(session, clock, REALM, "inactive", later, [finding(qbo, c) for c in ids]).plan.id
    with pytest.raises(InputError, match="after today"):
        apply_plan(session, qbo, clock, plan)
    assert not qbo.writes
