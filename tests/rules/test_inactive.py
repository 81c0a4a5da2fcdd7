"""The inactive rule and its guardrails, and reactivate, on crafted cache data."""

from __future__ import annotations

from datetime import date

import pytest

from qbsync.errors import ConfigError
from qbsync.rules.activity import load_activity
from qbsync.rules.findings import Finding
from qbsync.rules.inactive import check_inactive, find_inactive, find_reactivate, recheck_inactive
from qbsync.rules.policy import InactivePolicy, load_policy
from tests.builder import CacheBuilder

AS_OF = date(2025, 6, 30)
STALE = date(2024, 5, 8)  # 418 days before AS_OF
RECENT = date(2025, 5, 1)


def _run(b: CacheBuilder, policy: InactivePolicy | None = None, as_of: date = AS_OF) -> dict[str, Finding]:
    policy = policy or InactivePolicy()
    acts = load_activity(b.engine, b.realm_id, as_of, include_estimates=policy.include_estimates)
    return {f.customer_id: f for f in find_inactive(acts, policy, as_of)}


def test_stale_customer_is_flagged_with_reason_in_words_and_numbers(db_url: str) -> None:
    b = CacheBuilder(db_url)
    b.customer("1", "Stale Co")
    b.customer("2", "Busy Co")
    b.invoice("1", STALE, "100", balance="0")
    b.invoice("2", RECENT, balance="0")
    found = _run(b)
    assert set(found) == {"1"}
    f = found["1"]
    assert f.action == "deactivate" and f.rule == "inactive"
    assert f.reason == "last invoice 2024-05-08, 418 days ago; threshold 365; balance 0.00"
    assert f.facts["days_since"] == 418 and f.facts["threshold_days"] == 365


def test_open_balance_goes_to_collections_not_deactivate(db_url: str) -> None:
    b = CacheBuilder(db_url)
    b.customer("1", "Owes Money")
    b.invoice("1", STALE, "75")
    f = _run(b)["1"]
    assert f.action == "collections"
    assert "balance 75.00" in f.reason


def test_unapplied_credit_goes_to_collections(db_url: str) -> None:
    b = CacheBuilder(db_url)
    b.customer("1", "Has Credit")
    inv = b.invoice("1", STALE, "100")
    b.pay("1", STALE, (inv, "100"), unapplied="20")
    f = _run(b)["1"]
    assert f.action == "collections"
    assert "unapplied credit 20.00" in f.reason


def test_qbo_balance_guards_even_when_invoices_are_missing(db_url: str) -> None:
    b = CacheBuilder(db_url)
    b.customer("1", "Balance Without Invoices", balance="12.34")
    b.receipt("1", STALE)
    assert _run(b)["1"].action == "collections"


def test_parent_with_active_job_is_not_flagged_and_jobs_follow_parent(db_url: str) -> None:
    b = CacheBuilder(db_url)
    b.customer("1", "Parent With Busy Job")
    b.customer("2", "Parent With Busy Job:Kitchen", parent="1")
    b.invoice("1", STALE, balance="0")
    b.invoice("2", RECENT, balance="0")
    b.customer("10", "Quiet Parent")
    b.customer("11", "Quiet Parent:Old Job", parent="10")
    b.customer("12", "Quiet Parent:Old Job:Phase 2", parent="11")
    b.invoice("10", STALE, balance="0")
    b.invoice("12", date(2024, 6, 1), balance="0")
    found = _run(b)
    assert not {"1", "2"} & set(found)
    assert {"10", "11", "12"} <= set(found)
    assert all(found[c].action == "deactivate" for c in ("10", "11", "12"))
    assert found["11"].reason.startswith("job of Quiet Parent, follows its parent")
    assert "last invoice 2024-06-01 (job Quiet Parent:Old Job:Phase 2), 394 days ago" in found["10"].reason


def test_job_with_balance_protects_its_family(db_url: str) -> None:
    b = CacheBuilder(db_url)
    b.customer("1", "Parent")
    b.customer("2", "Parent:Job", parent="1")
    b.invoice("1", STALE, balance="0")
    b.invoice("2", STALE, "40", balance="40")
    found = _run(b)
    assert "1" not in found
    assert found["2"].action == "collections"


def test_brand_new_customer_without_transactions_is_left_alone(db_url: str) -> None:
    b = CacheBuilder(db_url)
    b.customer("1", "Just Signed Up", created=date(2025, 6, 1))
    b.customer("2", "Signed Up Long Ago Never Bought", created=date(2023, 1, 1))
    found = _run(b)
    assert "1" not in found
    assert found["2"].reason.startswith("no transactions; created 2023-01-01, 911 days ago")
    # the grace period also holds when the threshold is shorter than it
    assert "1" not in _run(b, InactivePolicy(days=10, grace_days=60))


def test_excluded_by_id_and_by_name_pattern(db_url: str) -> None:
    b = CacheBuilder(db_url)
    for cid, name in (("1", "Keep Me"), ("2", "ACME Holdings"), ("3", "Plain Stale")):
        b.customer(cid, name)
        b.invoice(cid, STALE, balance="0")
    policy = InactivePolicy(exclude_ids=frozenset({"1"}), exclude_names=("*holdings*",))
    assert set(_run(b, policy)) == {"3"}


def test_per_type_and_per_location_thresholds(db_url: str) -> None:
    b = CacheBuilder(db_url)
    b.department("5", "Seasonal Kiosk")
    b.customer("1", "Wholesale", type_id="W")
    b.customer("2", "Kiosk Regular")
    b.customer("3", "Default Rules")
    b.invoice("1", STALE, balance="0")  # 418 days: below the wholesale 730
    b.invoice("2", date(2025, 1, 1), dept="5", balance="0")  # 180 days: above the kiosk's 90
    b.invoice("3", date(2025, 1, 1), balance="0")  # 180 days: below the default 365
    policy = InactivePolicy(type_days={"W": 730}, location_days={"Seasonal Kiosk": 90})
    found = _run(b, policy)
    assert set(found) == {"2"}
    assert "threshold 90" in found["2"].reason
    assert found["2"].facts["threshold_source"] == "location Seasonal Kiosk"


def test_as_of_replay_ignores_later_data(db_url: str) -> None:
    b = CacheBuilder(db_url)
    b.customer("1", "Came Back")
    b.invoice("1", STALE, balance="0")
    b.invoice("1", date(2025, 8, 1), "10", balance="10")  # after the replay date
    f = _run(b, as_of=AS_OF)["1"]
    assert f.action == "deactivate" and "balance 0.00" in f.reason
    assert "1" not in _run(b, as_of=date(2025, 8, 31))


def test_already_inactive_customers_are_not_flagged_again(db_url: str) -> None:
    b = CacheBuilder(db_url)
    b.customer("1", "Already Off (deleted)", active=False)
    b.invoice("1", STALE, balance="0")
    assert _run(b) == {}


def test_check_inactive_re_evaluates_one_customer(db_url: str) -> None:
    b = CacheBuilder(db_url)
    b.customer("1", "Parent")
    b.customer("2", "Parent:Job", parent="1")
    b.invoice("1", STALE, balance="0")
    acts = load_activity(b.engine, b.realm_id, AS_OF)
    policy = InactivePolicy()
    f = check_inactive(acts["1"], policy, AS_OF, jobs=[acts["2"]])
    assert f is not None and f.action == "deactivate" and f.sync_token == "0"
    job = recheck_inactive("2", acts, policy, AS_OF)
    assert job is not None and job.action == "deactivate"
    b.invoice("2", RECENT, balance="0")  # the job was invoiced between plan and apply
    acts = load_activity(b.engine, b.realm_id, AS_OF)
    assert recheck_inactive("1", acts, policy, AS_OF) is None
    assert check_inactive(acts["1"], policy, AS_OF, jobs=[acts["2"]]) is None


def test_reactivate_inactive_customer_with_recent_activity(db_url: str) -> None:
    b = CacheBuilder(db_url)
    b.customer("1", "Switched Off Too Soon (deleted)", active=False)
    b.invoice("1", date(2025, 6, 20), "45", balance="45")
    b.customer("2", "Rightly Off (deleted)", active=False)
    b.invoice("2", STALE, balance="0")
    b.customer("3", "Parent Off (deleted)", active=False)
    b.customer("4", "Parent Off:Job (deleted)", active=False, parent="3")
    b.receipt("4", date(2025, 6, 1))
    acts = load_activity(b.engine, b.realm_id, AS_OF)
    found = {f.customer_id: f for f in find_reactivate(acts, InactivePolicy(reactivate_days=90), AS_OF)}
    assert set(found) == {"1", "3", "4"}
    assert found["1"].display_name == "Switched Off Too Soon"
    assert found["1"].reason == ("inactive in QuickBooks but last invoice 2025-06-20, 10 days ago; "
                                 "window 90; balance 45.00")
    assert found["3"].reason.startswith("inactive parent of Parent Off:Job")
    # by default the window is the inactive threshold: 418 days is outside 365
    default = {f.customer_id for f in find_reactivate(acts, InactivePolicy(), AS_OF)}
    assert default == {"1", "3", "4"}


def test_policy_from_toml(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "qbsync.toml"
    path.write_text('[rules.inactive]\ndays = 400\ngrace_days = 30\ninclude_estimates = true\n'
                    'exclude_ids = ["12", 13]\nexclude_names = ["*Inc"]\n'
                    '[rules.inactive.type_days]\n"3" = 730\n[rules.inactive.location_days]\nDowntown = 180\n')
    p = load_policy(path)
    assert (p.days, p.grace_days, p.include_estimates) == (400, 30, True)
    assert p.exclude_ids == frozenset({"12", "13"}) and p.exclude_names == ("*Inc",)
    assert dict(p.type_days) == {"3": 730} and dict(p.location_days) == {"Downtown": 180}
    path.write_text("[rules.inactive]\ndayz = 3\n")
    with pytest.raises(ConfigError, match="dayz"):
        load_policy(path)
    path.write_text("[rules.inactive]\ndays = 0\n")
    with pytest.raises(ConfigError, match="days"):
        load_policy(path)
