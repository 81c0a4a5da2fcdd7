"""Backtest and ranking of disappearing customers on synthetic histories where churn is known."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest

from qbsync.rules.activity import CustomerActivity
from qbsync.rules.disappearing import features
from qbsync.rules.disappearing.backtest import (
    INCUMBENT,
    NOISE_SE,
    SCORERS,
    TIE,
    auc,
    auc_covariance,
    backtest,
    choose,
    corrected,
    plan,
)
from qbsync.rules.disappearing.rank import find_disappearing
from qbsync.rules.disappearing.summary import Days
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


def _every(gap_days: int, customers: int = 40, start: date = START,
           until: date = AS_OF) -> dict[str, list[date]]:
    out = {}
    for c in range(customers):
        first = start + timedelta(days=c % gap_days)
        out[str(c)] = [first + timedelta(days=k * gap_days)
                       for k in range((until - first).days // gap_days + 1)]
    return out


def test_the_holdout_follows_the_rhythm_and_the_history() -> None:
    """Three typical gaps, in whole weeks, 4 to 26 weeks, and room for two cuts in the history."""
    assert plan(Days.of(_every(30)), AS_OF).horizon_days == 91  # 3 x 30 days -> 13 weeks
    assert plan(Days.of(_every(5)), AS_OF).horizon_days == 28  # never under 4 weeks
    assert plan(Days.of(_every(120)), AS_OF).horizon_days == 182  # never over 26 weeks
    short = plan(Days.of(_every(30, until=START + timedelta(days=200))), START + timedelta(days=200))
    assert short.horizon_days == 56  # 200 days of history hold 3.5 holdouts of 8 weeks, not 13
    assert "shortened" in short.sized and len(short.cuts) == 2
    assert plan(Days.of(_every(30)), AS_OF, holdout_days=60).horizon_days == 60  # by hand


def test_cuts_roll_back_and_the_learner_trains_only_on_what_was_known() -> None:
    p = plan(Days.of(_every(30)), AS_OF)
    end = AS_OF.toordinal()
    assert len(p.cuts) == 3 and p.cuts[0] == end - p.horizon_days
    assert list(np.diff(p.cuts)) == [-p.step_days] * 2 and p.step_days == 42
    for cut in (*p.cuts, end):
        days = p.training_days(cut)
        assert days
        for day in days:
            assert day + p.horizon_days <= cut  # what happened next is known by the cut
            assert day - p.first_day >= p.horizon_days  # and there was history before it


def test_ties_go_to_the_simpler_scorer() -> None:
    assert SCORERS.index("recency") < SCORERS.index("pareto_nbd_expected") < SCORERS.index("learned")
    assert choose({"recency": 0.8000, "pareto_nbd_expected": 0.8003, "learned": 0.8004}) == "recency"
    close = {"recency": 0.770, "pareto_nbd_expected": 0.779, "learned": 0.7792}
    assert choose(close) == "pareto_nbd_expected"
    assert choose({"recency": 0.770, "pareto_nbd_expected": 0.779, "learned": 0.779 + 2 * TIE}) == "learned"
    # BG/NBD and Pareto/NBD expected purchases were a 0.0001 tie in the issue: Pareto/NBD is listed first
    assert choose({"pareto_nbd_expected": 0.6742, "bg_nbd_expected": 0.6743}) == "pareto_nbd_expected"


def test_pareto_nbd_corrected_ranks_unless_another_beats_it_beyond_the_noise() -> None:
    """The corrected scorer holds Pareto/NBD's information and the learned model's: where the backtest
    cannot tell them apart it ranks the list, and another scorer takes over only by more than
    NOISE_SE standard errors of the paired difference (and TIE); among those, ties go to the simpler."""
    assert INCUMBENT == "corrected" and NOISE_SE == 2.0
    near = {"pareto_nbd_expected": 0.7795, "corrected": 0.779, "learned": 0.7794}
    assert choose(near) == "corrected"  # within TIE of both, without standard errors
    se = {(k, "corrected"): 0.002 for k in near}
    assert choose({**near, "learned": 0.7829}, se) == "corrected"  # 0.0039 ahead: under 2 SE
    assert choose({**near, "learned": 0.7831}, se) == "learned"  # 0.0041 ahead: beyond the noise
    # Pareto/NBD itself, when the backtest shows it ahead beyond the noise: never worse than it
    assert choose({**near, "pareto_nbd_expected": 0.7831}, se) == "pareto_nbd_expected"
    # several beyond the noise: the best, a tie going to the simpler
    beyond = {**near, "pareto_nbd_expected": 0.7900, "learned": 0.7903}
    assert choose(beyond, se) == "pareto_nbd_expected"
    assert choose({**beyond, "learned": 0.7910}, se) == "learned"
    # without the learned model there is no corrected scorer: the simplest within TIE of the best
    assert choose({"pareto_nbd_expected": 0.779, "bg_nbd_expected": 0.7794}) == "pareto_nbd_expected"


def test_the_noise_is_delongs_covariance_of_the_paired_aucs() -> None:
    rng = np.random.default_rng(11)
    n = 400
    signal = rng.normal(size=n)
    gone = rng.random(n) < 1 / (1 + np.exp(-signal))
    a = signal + rng.normal(size=n)
    b = np.round(signal + 1.3 * rng.normal(size=n))  # with ties
    cov = auc_covariance({"a": a, "b": b}, gone)
    # DeLong's variance of one AUC, from its pairs: the placements of each disappeared customer
    # among the returning ones and of each returning one among the disappeared
    pos, neg = b[gone], b[~gone]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    assert cov[("b", "b")] == pytest.approx(v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg))
    # the paired difference is what varies less than either AUC when the scorers agree
    diff = cov[("a", "a")] + cov[("b", "b")] - 2 * cov[("a", "b")]
    assert 0 < diff < cov[("a", "a")] + cov[("b", "b")]
    boot = []
    for _ in range(300):
        i = rng.integers(0, n, n)
        boot.append(auc(a[i], gone[i]) - auc(b[i], gone[i]))
    assert np.sqrt(diff) == pytest.approx(np.std(boot), rel=0.25)


def test_the_correction_is_the_mean_of_both_log_odds_and_keeps_every_customer_apart() -> None:
    expected = np.array([3.0, 0.5, 1e-3, 1e-12, 1e-30, 0.0])
    flat = corrected(expected, np.zeros(len(expected)))
    # a learned model that says nothing leaves Pareto/NBD's order, even where exp(-expected) rounds to 1
    assert list(np.argsort(-flat)) == [5, 4, 3, 2, 1, 0]
    assert len(set(flat[:4].tolist())) == 4
    pareto = np.exp(-expected[:3])
    learned = np.array([0.2, 0.9, 0.5])
    logit = np.log(pareto / (1 - pareto)) / 2 + np.log(learned / (1 - learned)) / 2
    assert np.allclose(corrected(expected[:3], np.log(learned / (1 - learned))), 1 / (1 + np.exp(-logit)))
    # and it can overturn Pareto/NBD only where the learned model disagrees strongly
    assert corrected(np.array([0.5]), np.array([4.0]))[0] > corrected(np.array([0.4]), np.array([-4.0]))[0]


def test_backtest_never_looks_past_as_of() -> None:
    hist, _ = histories(800, START, 1095, seed=3)
    as_of = START + timedelta(days=800)
    cut_off = {c: [d for d in ds if d <= as_of] for c, ds in hist.items()}
    cut_off = {c: ds for c, ds in cut_off.items() if ds}
    a, b = backtest(hist, as_of).result, backtest(cut_off, as_of).result
    assert a == b
    assert all(c.cutoff.toordinal() + a.horizon_days <= as_of.toordinal() for c in a.cuts)


def test_backtest_reports_every_scorer_on_every_cut_and_the_spread() -> None:
    hist, _ = histories(1500, START, 1095, seed=3)
    result = backtest(hist, AS_OF).result
    assert len(result.cuts) >= 2 and set(result.mean) == set(SCORERS)
    for k in SCORERS:
        assert result.low[k] <= result.mean[k] <= result.high[k]
    assert result.chosen == choose(result.mean, result.pair_se)
    assert result.mean["pareto_nbd_expected"] > 0.75
    line = result.line()
    assert line.startswith("Ranked by ") and f"on {len(result.cuts)} backtests (" in line


def test_backtest_with_too_little_history_says_so() -> None:
    hist = {str(i): [date(2025, 1, 1) + timedelta(days=7 * k) for k in range(10)] for i in range(5)}
    result = backtest(hist, date(2025, 3, 1)).result
    assert "too little history" in result.note and result.chosen == "pareto_nbd_expected"


def _activities(hist: dict[str, list[date]], as_of: date,
                spend: dict[str, list[float]] | None = None) -> dict[str, CustomerActivity]:
    out = {}
    for cid, dates in hist.items():
        seen = [d for d in dates if d <= as_of]
        revenue = sum((spend or {}).get(cid, [])[:len(seen)]) if spend else 10.0 * len(seen)
        out[cid] = CustomerActivity(customer_id=cid, display_name=f"Customer {cid}", active=True,
                                    parent_id=None, job=False, created=dates[0], customer_type_id=None,
                                    department_id=None,
                                    first_activity=seen[0] if seen else None,
                                    last_activity=seen[-1] if seen else None,
                                    purchase_dates=seen, txn_count=len(seen), realm_id="r1",
                                    lifetime_revenue=Decimal(str(round(revenue, 2))))
    return out


def _regular_shoppers(n: int, seed: int) -> tuple[dict[str, list[date]], dict[str, list[float]]]:
    """Customers who buy like clockwork (their own gap, a little jitter) until they stop: a
    rhythm Pareto/NBD's Poisson purchases cannot see, but the features can."""
    rng = np.random.default_rng(seed)
    hist, spend = {}, {}
    for i in range(n):
        gap = float(rng.choice([14, 28, 56]))
        day = float(rng.integers(0, 400))
        stop = day + rng.exponential(500)
        dates, amounts = [], []
        while day < min(stop, 1095):
            dates.append(START + timedelta(days=int(day)))
            amounts.append(float(round(rng.gamma(4, 20), 2)))
            day += gap * rng.uniform(0.85, 1.15)
        hist[str(i)], spend[str(i)] = dates, amounts
    return hist, spend


@pytest.fixture(scope="module")
def regular() -> tuple[dict[str, list[date]], dict[str, list[float]]]:
    return _regular_shoppers(1200, seed=8)


Seen = tuple[dict[str, list[date]], date, dict[str, CustomerActivity], dict[str, list[float]]]


@pytest.fixture
def day_900(regular: tuple[dict[str, list[date]], dict[str, list[float]]]) -> Seen:
    """The regular shoppers on day 900: their histories, that day, their activity by then and the
    spend of the purchases made by then."""
    hist, spend = regular
    as_of = START + timedelta(days=900)
    acts = _activities(hist, as_of)
    return hist, as_of, acts, {c: s[:len(acts[c].purchase_dates)] for c, s in spend.items()}


def test_the_learned_ranker_wins_the_backtest_when_it_sees_more(day_900: Seen) -> None:
    hist, as_of, acts, cut = day_900
    report = find_disappearing(acts, InactivePolicy(), as_of, top=None, spend=cut)
    bt = report.backtest
    assert bt.mean["learned"] > bt.mean["pareto_nbd_expected"] + TIE
    assert report.scorer == bt.chosen
    # and on what really happened next it ranks better than Pareto/NBD too
    came_back = {c for c, ds in hist.items() if any(as_of < d for d in ds)}
    gone = np.array([c not in came_back for c in report.scored_ids])
    assert auc(report.scores["learned"], gone) > auc(report.scores["pareto_nbd_expected"], gone)
    assert report.models["learned"]["weights"]["overdue"] > 0  # overdue pushes towards 'gone'


def test_the_learned_ranker_is_deterministic_and_explains_itself(day_900: Seen) -> None:
    _, as_of, acts, cut = day_900
    a = find_disappearing(acts, InactivePolicy(), as_of, top=30, scorer="learned", spend=cut)
    b = find_disappearing(acts, InactivePolicy(), as_of, top=30, scorer="learned", spend=cut)
    assert [f.as_dict() for f in a.findings] == [f.as_dict() for f in b.findings]
    assert a.models["learned"] == b.models["learned"]
    explained = [f for f in a.findings if f.facts.get("reasons")]
    assert len(explained) > 20
    for f in explained:
        assert "why: " in f.reason
        for r in f.facts["reasons"]:
            assert r["words"] in f.reason and r["weight"] > 0
            assert r["feature"] in a.models["learned"]["weights"]


def test_the_corrected_ranking_explains_itself_and_breaks_pareto_ties_by_the_learned_model(
        day_900: Seen) -> None:
    hist, as_of, acts, cut = day_900
    report = find_disappearing(acts, InactivePolicy(), as_of, top=None, scorer="corrected", spend=cut)
    assert report.scorer == "corrected"
    assert "Ranked by Pareto/NBD corrected by the learned model" in report.summary()
    assert sum("why: " in f.reason for f in report.findings) > 20
    # customers Pareto/NBD cannot tell apart (same purchases, first and last day) are listed in the
    # learned model's order, not the Id's
    clones = {f"twin{k}": [START + timedelta(days=700), START + timedelta(days=760)] for k in range(6)}
    # spends out of the Ids' order, so neither the learned order nor its reverse is the Ids'
    twin_spend = {f"twin{k}": [40.0 * 1.3 ** p] * 2 for k, p in enumerate([3, 0, 5, 1, 4, 2])}
    acts = _activities({**hist, **clones}, as_of)
    by_pareto = find_disappearing(acts, InactivePolicy(), as_of, top=None, scorer="pareto_nbd_expected",
                                  spend={**cut, **twin_spend})
    learned = dict(zip(by_pareto.scored_ids, by_pareto.scores["learned"], strict=True))
    twins = [f.customer_id for f in by_pareto.findings if f.customer_id.startswith("twin")]
    assert len({learned[t] for t in twins}) == 6  # spend tells them apart
    assert twins == sorted(twins, key=lambda t: -learned[t]) != sorted(twins)
    positions = [i for i, f in enumerate(by_pareto.findings) if f.customer_id.startswith("twin")]
    assert positions == list(range(positions[0], positions[0] + 6))  # and they stay together


def test_the_line_is_plain_and_shows_the_numbers_that_ranked_it() -> None:
    hist, _ = histories(1500, START, 1095, seed=5)
    as_of = START + timedelta(days=900)
    report = find_disappearing(_activities(hist, as_of), InactivePolicy(), as_of, top=60)
    assert report.scorer == report.backtest.chosen
    chances = [f.facts["chance_of_loss"] for f in report.findings]
    assert chances == sorted(chances, reverse=True)  # the list is in the order of its own figure
    for f in report.findings:
        assert len(f.reason) <= 200, f.reason
        assert "P(alive)" not in f.reason and "ranked by" not in f.reason and "_" not in f.reason
        in_ten = re.search(r"likely gone: (?:over |under )?(\d+) in 10", f.reason)
        assert in_ten, f.reason
        assert int(in_ten.group(1)) == max(1, min(9, round(10 * f.facts["chance_of_loss"])))
        assert f.score == f.facts["chance_of_loss"]
        assert f.facts["ranked_by"] == report.scorer and f.facts["backtest_auc"] is not None
        weeks = features.weeks(f.facts["days_since"])
        assert f"{weeks} ago" in f.reason


def test_the_list_flags_customers_who_really_churned() -> None:
    hist, churn = histories(1500, START, 1095, seed=5)
    as_of = START + timedelta(days=900)
    report = find_disappearing(_activities(hist, as_of), InactivePolicy(), as_of, top=100)
    assert len(report.findings) == 100
    # truth from the simulation: had the customer's lifetime already ended on the as-of date?
    gone = [f.customer_id in churn and churn[f.customer_id] <= as_of for f in report.findings]
    eligible = [cid for cid, d in hist.items() if [x for x in d if x <= as_of]
                and (as_of - max(x for x in d if x <= as_of)).days <= 365]
    base_rate = np.mean([cid in churn and churn[cid] <= as_of for cid in eligible])
    assert np.mean(gone) > base_rate + 0.2  # the top of the list is much richer in churners than chance
    assert "AUC" in report.summary() and report.models["pareto_nbd"]["r"] > 0


def test_value_at_risk_ranks_the_list_when_asked() -> None:
    hist, _ = histories(900, START, 1095, seed=4)
    rng = np.random.default_rng(1)
    spend = {c: [float(round(rng.gamma(3, 15 if int(c) % 3 else 150), 2)) for _ in ds]
             for c, ds in hist.items()}
    acts = _activities(hist, AS_OF, spend)
    by_value = find_disappearing(acts, InactivePolicy(), AS_OF, top=40, rank_by="value", spend=spend)
    at_risk = [float(f.facts["value_at_risk"]) for f in by_value.findings]
    assert at_risk == sorted(at_risk, reverse=True)
    for f in by_value.findings:
        chance, kept = f.facts["chance_of_loss"], float(f.facts["value_if_kept"])
        assert float(f.facts["value_at_risk"]) == pytest.approx(chance * kept, rel=1e-3, abs=0.01)
        said = re.search(r"([\d,.]+) a year at risk", f.reason)
        assert said
        assert float(said.group(1).replace(",", "")) == pytest.approx(float(f.facts["value_at_risk"]), abs=1)
    assert by_value.models["gamma_gamma"]["p"] > 0 and "Listed by value at risk" in by_value.summary()
    by_risk = find_disappearing(acts, InactivePolicy(), AS_OF, top=40, spend=spend)
    assert [f.customer_id for f in by_risk.findings] != [f.customer_id for f in by_value.findings]
    assert by_value.value_at_risk == pytest.approx(by_risk.value_at_risk)
    # big spenders (every third customer spends ten times more) dominate the value list
    assert np.mean([int(f.customer_id) % 3 == 0 for f in by_value.findings]) > 0.6


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
