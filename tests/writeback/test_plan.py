"""Plans: findings in, reviewable items out (blocked balances, manual merges), rendered three ways."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from qbsync.clock import FixedClock
from qbsync.rules.duplicates.sources import load_history
from qbsync.writeback.plan import build_plan, load_plan
from qbsync.writeback.render import render_plan
from qbsync.writeback.sources import findings_for
from tests.writeback.conftest import REALM, Company, finding, mirror

AS_OF = date(2026, 11, 23)


def test_plan_lists_state_new_value_rule_reason_and_token(
    session: Session, qbo: Company, clock: FixedClock
) -> None:
    qbo.add_customer("1", "Amy's Bird Sanctuary", token="4")
    qbo.add_txn("Invoice", "1", date(2024, 3, 2))
    qbo.add_customer("2", "Bill's Windsurf Shop", active=False, token="7")
    mirror(session, qbo)
    summary = build_plan(
        session,
        clock,
        REALM,
        "inactive",
        AS_OF,
        [finding(qbo, "1"), finding(qbo, "2", "reactivate", "reactivate")],
    )
    items = {i.customer_id: i for i in load_plan(session, summary.plan.id).items}
    assert items["1"].current_active is True and items["1"].new_active is False
    assert items["1"].sync_token == "4" and items["1"].disposition == "change"
    assert items["1"].last_activity == date(2024, 3, 2)
    assert items["2"].new_active is True and items["2"].sync_token == "7"
    rows = list(csv.DictReader(io.StringIO(render_plan(summary, "csv"))))
    assert {r["customer_id"]: (r["current"], r["new"]) for r in rows} == {
        "1": ("active", "inactive"),
        "2": ("inactive", "active"),
    }
    assert rows[0]["reason"].startswith("test reason")
    doc = json.loads(render_plan(summary, "json"))
    assert doc["plan_id"] == summary.plan.id and len(doc["items"]) == 2
    assert "Amy's Bird Sanctuary" in render_plan(summary, "table")


def test_the_plan_shows_the_last_activity_the_rule_judged_by_voided_invoices_left_out(
    engine: sa.Engine, session: Session, qbo: Company, clock: FixedClock
) -> None:
    """Issue 10: a plan item stored a voided invoice's date (2024-11-01) while the rule said 2022-03-01."""
    qbo.add_customer("1", "Amy's Bird Sanctuary")
    qbo.add_txn("Invoice", "1", date(2022, 3, 1))
    mistaken = qbo.add_txn("Invoice", "1", date(2024, 11, 1), open_=True)
    qbo.void("Invoice", mistaken)
    mirror(session, qbo)
    out = findings_for("inactive", engine, REALM, AS_OF)
    (found,) = [f for f in out.findings if f.customer_id == "1"]
    assert found.action == "deactivate" and found.facts["last_activity"] == "2022-03-01"
    summary = build_plan(session, clock, REALM, "inactive", AS_OF, out.findings)
    assert [(i.customer_id, i.last_activity) for i in summary.items] == [("1", date(2022, 3, 1))]


def test_a_duplicate_whose_only_transaction_was_voided_is_deactivated_not_merged(
    engine: sa.Engine, session: Session, qbo: Company, clock: FixedClock
) -> None:
    qbo.add_customer("1", "Acme Inc")
    qbo.add_customer("2", "ACME, Inc.")
    mistaken = qbo.add_txn("Invoice", "2", date(2023, 1, 5), open_=True)
    qbo.void("Invoice", mistaken)
    mirror(session, qbo)
    assert "2" not in load_history(engine, REALM, AS_OF)  # the rule sees no transactions...
    summary = build_plan(session, clock, REALM, "duplicates", AS_OF,
                         [finding(qbo, "2", rule="duplicates", survivor_id="1")])
    assert [(i.customer_id, i.disposition) for i in summary.items] == [("2", "change")]  # ...nor the plan


def test_open_balance_in_cache_is_blocked_and_already_inactive_is_left_out(
    session: Session, qbo: Company, clock: FixedClock
) -> None:
    qbo.add_customer("1", "Owes Money", balance="12.50")
    qbo.add_customer("2", "Already Gone", active=False)
    mirror(session, qbo)
    summary = build_plan(session, clock, REALM, "inactive", AS_OF, [finding(qbo, "1"), finding(qbo, "2")])
    assert [(i.customer_id, i.disposition) for i in summary.items] == [("1", "blocked")]
    assert "open balance 12.50" in summary.items[0].reason
    assert any("Already Gone" in why for why in summary.ignored)


def test_reactivating_a_customer_whose_name_is_taken_again_is_blocked(
    session: Session, qbo: Company, clock: FixedClock
) -> None:
    qbo.add_customer("5", "Kenneth Green", active=False)  # "Kenneth Green (deleted)"
    qbo.add_customer("311", "kenneth green")  # typed in again since, active
    qbo.add_customer("6", "Lena Park", active=False)
    mirror(session, qbo)
    summary = build_plan(session, clock, REALM, "reactivate", AS_OF,
                         [finding(qbo, c, "reactivate", "reactivate") for c in ("5", "6")])
    items = {i.customer_id: i for i in summary.items}
    assert items["5"].disposition == "blocked"
    assert "its name now belongs to active customer 'kenneth green' (Id 311)" in items["5"].reason
    assert items["6"].disposition == "change" and items["6"].new_active is True


def test_duplicate_with_history_becomes_manual_merge_with_steps(
    session: Session, qbo: Company, clock: FixedClock
) -> None:
    qbo.add_customer("1", "Acme Inc")
    qbo.add_customer("2", "ACME, Inc.")
    qbo.add_customer("3", "Acme Incorporated")
    qbo.add_txn("SalesReceipt", "2", date(2023, 1, 5))
    mirror(session, qbo)
    summary = build_plan(
        session,
        clock,
        REALM,
        "duplicates",
        AS_OF,
        [
            finding(qbo, "2", rule="duplicates", survivor_id="1"),
            finding(qbo, "3", rule="duplicates", survivor_id="1"),
        ],
    )
    items = {i.customer_id: i for i in summary.items}
    assert items["2"].disposition == "manual_merge" and items["2"].new_active is True
    assert items["2"].steps is not None and "exactly 'Acme Inc'" in items["2"].steps
    assert "(Id 2)" in items["2"].steps and "Merge contacts" in items["2"].steps
    assert "Make active" not in items["2"].steps
    qbo.add_customer("4", "Acme Co", active=False)  # "Acme Co (deleted)": hidden in the list
    qbo.add_txn("Invoice", "4", date(2022, 1, 5))
    mirror(session, qbo)
    retired = build_plan(session, clock, REALM, "duplicates", AS_OF,
                         [finding(qbo, "4", "merge", rule="duplicates", survivor_id="1")]).items[0]
    assert retired.disposition == "manual_merge" and retired.steps is not None
    assert retired.steps.startswith("1. 'Acme Co (deleted)' is inactive") and "Make active" in retired.steps
    assert items["3"].disposition == "change" and items["3"].new_active is False


def test_jobs_come_before_their_parent_when_deactivating(
    session: Session, qbo: Company, clock: FixedClock
) -> None:
    qbo.add_customer("1", "Parent")
    qbo.add_customer("2", "Parent:Job", parent="1")
    mirror(session, qbo)
    summary = build_plan(session, clock, REALM, "inactive", AS_OF, [finding(qbo, "1"), finding(qbo, "2")])
    assert [i.customer_id for i in summary.items] == ["2", "1"]
