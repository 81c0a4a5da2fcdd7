"""The disappearing-customers list: backtest the scorers, rank by the winner, value what is at risk.

1. The rolling-origin backtest (``backtest.py``) sizes the holdout to the company and picks a scorer.
2. The live list: every model refitted on everything up to as-of, the learned ranker retrained on
   the latest periods whose outcome is known by as-of, every eligible customer scored.
3. The chosen scorer becomes a *chance of loss* (no purchase over the next holdout): the learned
   ranker gives it directly; another scorer is turned into one by a one-variable logistic fit on
   the latest backtest cut, which keeps its order. The list is ranked by that chance (or, when asked,
   by value at risk), and the figures in each line are the ones that ranked it.
4. Value: Pareto/NBD purchases over the next year if the customer stays, times its expected spend
   per purchase from the Gamma-Gamma model; value at risk = chance of loss × that value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import numpy as np

from qbsync.rules.activity import CustomerActivity
from qbsync.rules.disappearing import features as feats
from qbsync.rules.disappearing.backtest import (
    LABELS,
    SCORERS,
    SHORT,
    BacktestResult,
    Cut,
    Evidence,
    _summary,
    backtest,
    sample,
    scores_at,
)
from qbsync.rules.disappearing.bgnbd import BgNbd
from qbsync.rules.disappearing.gammagamma import GammaGamma
from qbsync.rules.disappearing.learned import LearnedRanker
from qbsync.rules.disappearing.mle import MAX_FIT_CUSTOMERS, Array
from qbsync.rules.disappearing.paretonbd import ParetoNbd
from qbsync.rules.disappearing.rhythm import FALLBACK_GAP_DAYS, median_gaps, rhythm
from qbsync.rules.disappearing.summary import DAYS_PER_PERIOD, Days
from qbsync.rules.findings import Finding
from qbsync.rules.policy import InactivePolicy

__all__ = ["LABELS", "SCORERS", "DisappearingReport", "find_disappearing"]

RankBy = Literal["risk", "value"]
VALUE_DAYS = 365  # value is a year of purchases
GG_FIT_CUSTOMERS = 5_000  # the spend model is fitted on a fixed sample of this many (like the others)


@dataclass(frozen=True)
class DisappearingReport:
    findings: list[Finding]
    backtest: BacktestResult
    scorer: str  # what ranked the list
    models: dict[str, dict[str, Any]]  # fitted parameters on the full history up to as_of
    candidates: int  # customers scored
    rank_by: RankBy = "risk"
    value_at_risk: float = 0.0  # over every eligible customer, not only those listed
    #: every scorer's values for every eligible customer (``scored_ids``): for evaluations
    scores: Mapping[str, Array] = field(default_factory=dict)
    scored_ids: tuple[str, ...] = ()

    def summary(self) -> str:
        text = self.backtest.line(self.scorer)
        if self.rank_by == "value":
            text = "Listed by value at risk, the chance of loss from " + text.removeprefix("Ranked by ")
        return text


@dataclass
class _Live:
    cut: Cut
    chance: Array
    raw: Array
    learner: LearnedRanker | None
    errors: dict[str, str] = field(default_factory=dict)


def _eligible(act: CustomerActivity, policy: InactivePolicy, as_of: date) -> bool:
    """Early warning is for customers still active: not yet past the inactive threshold."""
    if not act.active or not act.purchase_dates or policy.excluded(act):
        return False
    threshold, _ = policy.threshold(act)
    return (as_of - act.purchase_dates[-1]).days <= threshold


def _transform(name: str, values: Array) -> Array:
    """A scorer's values on a scale where a logistic fit is sensible (order kept)."""
    if name in ("recency", "rhythm"):
        return np.log1p(np.maximum(values, 0.0))
    clipped = np.clip(values, 1e-9, 1 - 1e-9)
    return np.log(clipped) - np.log1p(-clipped)


def _calibrate(name: str, evidence: Evidence, values: Array) -> Array:
    """Chance of loss for a scorer other than the learned one: a logistic curve in the scorer's
    value, fitted on the latest backtest cut (its outcome is known by as-of); the base rate when
    that cut is missing or the scorer ranked it backwards."""
    gone = evidence.latest_gone
    if gone is None or name not in evidence.latest:
        return np.full(len(values), np.nan)
    x = _transform(name, evidence.latest[name])
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=100.0, max_iter=1000).fit(x.reshape(-1, 1), gone.astype(int))
    if model.coef_[0, 0] <= 0:
        return np.full(len(values), float(gone.mean()))
    return np.asarray(model.predict_proba(_transform(name, values).reshape(-1, 1))[:, 1], float)


def find_disappearing(activities: Mapping[str, CustomerActivity], policy: InactivePolicy, as_of: date,
                      *, holdout_days: int | None = None, top: int | None = 50, scorer: str | None = None,
                      rank_by: RankBy = "risk", spend: Mapping[str, Sequence[float]] | None = None,
                      max_fit: int = MAX_FIT_CUSTOMERS, seed: int = 0) -> DisappearingReport:
    """Active customers most likely slipping away, ranked by the scorer the backtest chose.

    Every customer with purchases feeds the fits and the backtest; only QBO-active, not excluded
    customers still within their inactive threshold are listed (the rest are the inactive rule's).
    ``spend``: each customer's amounts aligned with its purchase dates, when the source has them
    (a purchase log); without it spend comes from the activity's lifetime revenue.
    """
    end = as_of.toordinal()
    with_days = {cid: a.purchase_dates for cid, a in activities.items() if a.purchase_dates}
    spend_of = {cid: spend[cid] for cid in with_days} if spend is not None else None
    history = Days.of(with_days, spend_of).up_to(end)[0]
    evidence = backtest(history, as_of, holdout_days, max_idle_days=policy.days, seed=seed)
    bt = evidence.result
    horizon = bt.horizon_days

    listed = np.array([_eligible(activities[cid], policy, as_of) for cid in history.ids], bool)
    live_days = history.select(listed)
    pareto, errors = _fit_pareto(history, end, max_fit)
    gap = rhythm(history, as_of).company_gap if len(history) else FALLBACK_GAP_DAYS
    cut = Cut(end, live_days, np.flatnonzero(listed), gap, pareto,
              feats.compute(live_days, end, horizon, gap, pareto), errors)
    learner = None
    if evidence.plan.learned:
        train = evidence.cuts.training_set(evidence.plan.training_days(end))
        if train is not None and train[2] == cut.features.names:
            learner = LearnedRanker.train(*train, seed=seed)
    bg = None
    try:
        bg = BgNbd.fit(_summary(history, end), max_fit) if len(history) else None
    except (ValueError, FloatingPointError) as exc:
        errors["bg_nbd"] = str(exc)
    values, more_errors = scores_at(cut, learner, max_fit, bg)
    errors.update(more_errors)
    chosen = scorer or bt.chosen
    if chosen not in values:  # the chosen model could not be fitted on the full history
        chosen = next(k for k in ("pareto_nbd_expected", "rhythm") if k in values)
    raw = values[chosen]
    chance = learner.chance_of_loss(cut.features.X) if chosen == "learned" and learner else \
        _calibrate(chosen, evidence, raw)

    value = _value(history, cut, pareto, activities, live_days.ids)
    at_risk = chance * value["if_kept"]
    f = cut.features
    key = at_risk if rank_by == "value" else chance
    # first the highest chance (or value at risk), then the scorer's own value, then the learned
    # model's chance (customers alike to the scorer, e.g. Pareto/NBD's same (x, t_x, T), are not
    # alike to it: they differ in spend), then the Id
    second = values.get("learned", np.zeros(len(f.ids)))
    order = np.lexsort((np.array(f.ids), -second, -np.asarray(raw, float),
                        -np.nan_to_num(key, nan=-1.0))).tolist()
    if top is not None:
        order = order[:top]
    own_gaps, _ = median_gaps(live_days)
    mean_auc = bt.mean.get(chosen, float("nan"))
    figures = {k: v for k, v in value.items() if k != "model"}
    findings = [_finding(activities[f.ids[i]], i, f, own_gaps, chosen, float(raw[i]), float(chance[i]),
                         {k: float(v[i]) for k, v in figures.items()}, float(at_risk[i]), mean_auc, learner,
                         as_of)
                for i in order]
    models: dict[str, dict[str, Any]] = {}
    if pareto is not None:
        models["pareto_nbd"] = {"r": pareto.r, "alpha": pareto.alpha, "s": pareto.s, "beta": pareto.beta,
                                "log_likelihood": float(pareto.log_likelihood)}
    if bg is not None:
        models["bg_nbd"] = {"r": bg.r, "alpha": bg.alpha, "a": bg.a, "b": bg.b,
                            "log_likelihood": float(bg.log_likelihood)}
    if value["model"] is not None:
        gg: GammaGamma = value["model"]
        models["gamma_gamma"] = {"p": gg.p, "q": gg.q, "v": gg.v, "log_likelihood": gg.log_likelihood,
                                 "customers": gg.customers, "mean_spend": round(gg.mean_spend, 2)}
    if learner is not None:
        models["learned"] = learner.describe()
    total = float(np.nansum(at_risk))
    return DisappearingReport(findings, bt, chosen, models, len(f.ids), rank_by, total, values, f.ids)


def _fit_pareto(history: Days, end: int, max_fit: int) -> tuple[ParetoNbd | None, dict[str, str]]:
    if not len(history):
        return None, {}
    try:
        return ParetoNbd.fit(_summary(history, end), max_fit), {}
    except (ValueError, FloatingPointError) as exc:
        return None, {"pareto_nbd": str(exc)}


def _value(history: Days, cut: Cut, pareto: ParetoNbd | None, activities: Mapping[str, CustomerActivity],
           ids: tuple[str, ...]) -> dict[str, Any]:
    """Expected spend per purchase (Gamma-Gamma), purchases over the next year if the customer stays
    and overall (Pareto/NBD), and the value of that year if kept."""
    n_all, mean_all = _spend(history, activities)
    model: GammaGamma | None = None
    fit = sample(history.ids, GG_FIT_CUSTOMERS)
    try:
        model = GammaGamma.fit(n_all[fit], mean_all[fit])
    except (ValueError, FloatingPointError):
        model = None
    pos = {cid: i for i, cid in enumerate(history.ids)}
    at = np.array([pos[c] for c in ids], dtype=np.int64)
    n, m = n_all[at], mean_all[at]
    per_purchase = model.expected_spend(n, m) if model is not None else np.where(n > 0, m, np.nan)
    nan = np.full(len(ids), np.nan)
    purchases = kept = nan
    if pareto is not None:
        f = cut.features
        s = _summary(cut.seen, cut.day)
        with np.errstate(all="ignore"):
            p_alive = np.asarray(f.p_alive if f.p_alive is not None else pareto.p_alive(s))
            purchases = pareto.expected_purchases(s, VALUE_DAYS / DAYS_PER_PERIOD, p_alive)
            kept = np.where(p_alive > 1e-12, purchases / p_alive, 0.0)
    return {"spend": per_purchase, "purchases_next_year": purchases, "purchases_if_kept": kept,
            "expected_value": purchases * per_purchase, "if_kept": kept * per_purchase, "model": model}


def _spend(history: Days, activities: Mapping[str, CustomerActivity]) -> tuple[Array, Array]:
    """Per customer of ``history``: the purchases the spend model averages, and their average.

    From a log's amounts, the repeat purchases (every purchase day after the first), as Fader,
    Hardie & Lee fit it: the first purchase is left out (an acquisition order often differs), and
    a customer without a repeat purchase is expected to spend the population's mean. From the
    cache, which keeps a customer's revenue but not each day's, every purchase day and the
    lifetime revenue over them."""
    n = history.counts.astype(float)
    if history.spend is not None:
        repeat = np.r_[False, history.owner[1:] == history.owner[:-1]]  # days sorted by customer
        owner, amount = history.owner[repeat], history.spend[repeat]
        total = np.bincount(owner, amount, minlength=len(history))
        paid = np.bincount(owner[amount > 0], minlength=len(history)).astype(float)
        return paid, np.where(paid > 0, total / np.maximum(paid, 1), np.nan)
    revenue = np.array([float(activities[c].lifetime_revenue) for c in history.ids])
    return n, np.where(revenue > 0, revenue / n, np.nan)


def _in_ten(p: float) -> str:
    """A chance as people say it: '8 in 10', 'under 1 in 10', 'over 9 in 10'."""
    if p < 0.05:
        return "under 1 in 10"
    if p >= 0.95:
        return "over 9 in 10"
    return f"{max(1, min(9, round(p * 10)))} in 10"


def _money(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 10 else f"{v:,.2f}"


#: Already said in a line's head, so not repeated as its reasons.
_SAID = {"recency", "pace"}


def _finding(act: CustomerActivity, i: int, f: feats.Features, own_gaps: Array, chosen: str, raw: float,
             chance: float, value: dict[str, float], at_risk: float, mean_auc: float,
             learner: LearnedRanker | None, as_of: date) -> Finding:
    since = float(f.days_since[i])
    n = int(f.purchases[i])
    gap = float(own_gaps[i])
    if n == 1:
        head = f"bought once, {feats.weeks(since)} ago"
    elif n == 2:
        head = f"bought twice, {feats.weeks(gap)} apart, last {feats.weeks(since)} ago"
    else:
        head = f"usually buys every {feats.weeks(gap)}, last bought {feats.weeks(since)} ago"
    parts = [head]
    if np.isfinite(chance):
        parts.append(f"likely gone: {_in_ten(chance)}")
    if np.isfinite(at_risk) and at_risk > 0:
        parts.append(f"{_money(at_risk)} a year at risk")
    reasons: list[dict[str, Any]] = []
    if chosen in ("learned", "corrected") and learner is not None:
        reasons = [r for r in learner.reasons(f, i, k=4) if r["feature"] not in _SAID][:2]
        if reasons:
            parts.append("why: " + ", ".join(r["words"] for r in reasons))
    line = ", ".join(parts[:2]) + ("; " + "; ".join(parts[2:]) if len(parts) > 2 else "")
    last = act.purchase_dates[-1]
    facts: dict[str, Any] = {
        "purchases": n, "last_purchase": last.isoformat(), "days_since": int(since),
        "usual_gap_days": round(gap, 1) if np.isfinite(gap) else None,
        "chance_of_loss": round(chance, 4) if np.isfinite(chance) else None,
        "horizon_days": f.horizon_days, "ranked_by": chosen, "scorer_value": round(raw, 6),
        "backtest_auc": round(mean_auc, 4) if np.isfinite(mean_auc) else None,
        "as_of": as_of.isoformat(), "revenue_12m": f"{act.revenue_12m:.2f}",
        "value_at_risk": _money_fact(at_risk), "value_if_kept": _money_fact(value["if_kept"]),
        "expected_value": _money_fact(value["expected_value"]), "expected_spend": _money_fact(value["spend"]),
        "purchases_next_year": _num(value["purchases_next_year"]),
        "purchases_next_year_if_kept": _num(value["purchases_if_kept"]),
    }
    if f.p_alive is not None and f.expected is not None:
        facts.update(p_alive=round(float(f.p_alive[i]), 4), expected_purchases=round(float(f.expected[i]), 4))
    if reasons:
        facts["reasons"] = reasons
    return Finding(realm_id=act.realm_id, customer_id=act.customer_id, display_name=act.name,
                   rule="disappearing", action="watch", reason=line, facts=facts,
                   score=facts["chance_of_loss"] if np.isfinite(chance) else round(raw, 6),
                   sync_token=act.sync_token, active=act.active)


def _money_fact(v: float) -> str | None:
    return f"{v:.2f}" if np.isfinite(v) else None


def _num(v: float) -> float | None:
    return round(v, 4) if np.isfinite(v) else None


def describe_scorer(name: str) -> str:
    return f"{LABELS[name]} ({SHORT[name]})"
