"""Backtest and ranking of disappearing customers on synthetic histories where churn is known."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from qbsync.rules.activity import CustomerActivity
from qbsync.rules.disappearing.backtest import SCORERS, auc, backtest
from qbsync.rules.disappearing.rank import find_disappearing
from qbsync.rules.policy import InactivePolicy

from .synthetic import histories

START = date(2022, 1, 1)
AS_OF = START + timedelta(days=1095)


def test_auc_of_known_orderings() -> None:
    gone = np.array([True, True, False, False])
    assert auc(np.array([4.0, 3.0, 2.0, 1.0]), gone) == 1.0
    assert auc(np.array([1.0, 2.0, 3.0, 4.0]), gone) == 0.0
    assert auc(np.array([1.0, 1.0, 1.0, 1.0]), gone) == 0.5


def test_auc_equals_the_share_of_correctly_ordered_pairs_with_ties() -> None:
    rng = np.random.default_rng(5)
    scores = rng.integers(0, 12, 300).astype(float)  # many ties
    gone = rng.random(300) < 0.4
    pos, neg = scores[gone], scores[~gone]
    pairs = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert abs(auc(scores, gone) - pairs / (len(pos) * len(neg))) < 1e-12


def test_backtest_separates_churned_from_returning_customers() -> None:
    hist, _ = histories(1500, START, 1095, seed=3)
    result = backtest(hist, AS_OF, holdout_days=180)
    assert set(result.auc) == set(SCORERS)
    assert result.auc[result.chosen] == max(result.auc.values())
    assert result.auc["pareto_nbd"] > 0.75
    assert 0 < result.disappeared < result.customers


def test_backtest_with_too_little_history_says_so() -> None:
    hist = {str(i): [date(2025, 1, 1) + timedelta(days=7 * k) for k in range(10)] for i in range(5)}
    result = backtest(hist, date(2025, 6, 1), holdout_days=90)
    assert "too little history" in result.note


def _activities(hist: dict[str, list[date]], as_of: date) -> dict[str, CustomerActivity]:
    out = {}
    for cid, dates in hist.items():
        seen = [d for d in dates if d <= as_of]
        out[cid] = CustomerActivity(customer_id=cid, display_name=f"Customer {cid}", active=True,
                                    parent_id=None, job=False, created=dates[0], customer_type_id=None,
                                    department_id=None,
                                    first_activity=seen[0] if seen else None,
                                    last_activity=seen[-1] if seen else None,
                                    purchase_dates=seen, txn_count=len(seen), realm_id="r1")
    return out


def test_the_list_flags_customers_who_really_churned() -> None:
    hist, churn = histories(1500, START, 1095, seed=5)
    as_of = START + timedelta(days=900)
    report = find_disappearing(_activities(hist, as_of), InactivePolicy(), as_of, top=100)
    assert report.scorer == report.backtest.chosen
    assert len(report.findings) == 100
    # truth from the simulation: had the customer's lifetime already ended on the as-of date?
    gone = [f.customer_id in churn and churn[f.customer_id] <= as_of for f in report.findings]
    eligible = [cid for cid, d in hist.items() if [x for x in d if x <= as_of]
                and (as_of - max(x for x in d if x <= as_of)).days <= 365]
    base_rate = np.mean([cid in churn and churn[cid] <= as_of for cid in eligible])
    assert np.mean(gone) > base_rate + 0.2  # the top of the list is much richer in churners than chance
    f = report.findings[0]
    assert f.action == "watch" and "backtest AUC" in f.reason and "usually every" in f.reason
    assert "AUC" in report.summary() and report.models["pareto_nbd"]["r"] > 0


def test_inactive_and_excluded_customers_are_not_listed() -> None:
    hist, _ = histories(600, START, 1095, seed=9)
    acts = _activities(hist, AS_OF)
    first = next(iter(acts))
    acts[first].active = False
    policy = InactivePolicy(exclude_ids=frozenset({"2"}))
    report = find_disappearing(acts, policy, AS_OF, top=None)
    listed = {f.customer_id for f in report.findings}
    assert first not in listed and "2" not in listed
    for f in report.findings:
        assert f.facts["days_since"] <= 365
