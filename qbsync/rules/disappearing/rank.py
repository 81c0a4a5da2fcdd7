"""The disappearing-customers list: backtest the scorers, rank by the winner, explain every entry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np

from qbsync.rules.activity import CustomerActivity
from qbsync.rules.disappearing.backtest import BacktestResult, Scored, backtest, score
from qbsync.rules.disappearing.mle import MAX_FIT_CUSTOMERS
from qbsync.rules.disappearing.summary import Days
from qbsync.rules.findings import Finding
from qbsync.rules.policy import InactivePolicy

LABELS = {
    "pareto_nbd": "Pareto/NBD P(alive)",
    "pareto_nbd_expected": "Pareto/NBD expected purchases",
    "bg_nbd_expected": "BG/NBD expected purchases",
    "rhythm": "overdue against its own rhythm",
    "recency": "days since last purchase",
}


@dataclass(frozen=True)
class DisappearingReport:
    findings: list[Finding]
    backtest: BacktestResult
    scorer: str  # what ranked the list
    models: dict[str, dict[str, float]]  # fitted parameters on the full history up to as_of
    candidates: int  # customers scored

    def summary(self) -> str:
        bt = self.backtest
        auc = bt.auc.get(self.scorer, float("nan"))
        auc_text = f"{auc:.3f}" if np.isfinite(auc) else "n/a"
        others = ", ".join(f"{k} {v:.3f}" for k, v in bt.auc.items() if np.isfinite(v))
        text = (f"ranked by {LABELS[self.scorer]} ({self.scorer}); backtest AUC {auc_text} "
                f"(cutoff {bt.cutoff.isoformat()}, holdout {bt.holdout_days} days, "
                f"{bt.disappeared} of {bt.customers} customers did not buy again)")
        if others:
            text += f"; all scorers: {others}"
        if bt.note:
            text += f"; {bt.note}"
        return text


def _eligible(act: CustomerActivity, policy: InactivePolicy, as_of: date) -> bool:
    """Early warning is for customers still active: not yet past the inactive threshold."""
    if not act.active or not act.purchase_dates or policy.excluded(act):
        return False
    threshold, _ = policy.threshold(act)
    return (as_of - act.purchase_dates[-1]).days <= threshold


def find_disappearing(activities: Mapping[str, CustomerActivity], policy: InactivePolicy, as_of: date,
                      *, holdout_days: int = 180, top: int | None = 50, scorer: str | None = None,
                      max_fit: int = MAX_FIT_CUSTOMERS) -> DisappearingReport:
    """Active customers most likely slipping away, ranked by the scorer the backtest chose.

    Every customer with purchases feeds the fits and the backtest; only QBO-active, not excluded
    customers still within their inactive threshold are listed (the rest are the inactive rule's).
    """
    histories = Days.of({cid: a.purchase_dates for cid, a in activities.items() if a.purchase_dates})
    bt = backtest(histories, as_of, holdout_days, max_idle_days=policy.days, max_fit=max_fit)
    live: Scored = score(histories, as_of, holdout_days, max_fit)
    chosen = scorer or bt.chosen
    if chosen not in live.scores:  # the chosen model could not be fitted on the full history
        chosen = "rhythm"
    values = live.scores[chosen]
    index = {cid: i for i, cid in enumerate(live.ids)}
    rows = [(cid, index[cid]) for cid, act in activities.items()
            if cid in index and _eligible(act, policy, as_of)]
    rows.sort(key=lambda r: (-float(values[r[1]]), r[0]))
    if top is not None:
        rows = rows[:top]
    auc_value = bt.auc.get(chosen, float("nan"))
    findings = [_finding(activities[cid], i, live, chosen, float(values[i]), auc_value, bt, as_of)
                for cid, i in rows]
    models: dict[str, dict[str, float]] = {}
    if live.pareto is not None:
        p = live.pareto
        models["pareto_nbd"] = {"r": p.r, "alpha": p.alpha, "s": p.s, "beta": p.beta,
                                "log_likelihood": float(p.log_likelihood)}
    if live.bgnbd is not None:
        g = live.bgnbd
        models["bg_nbd"] = {"r": g.r, "alpha": g.alpha, "a": g.a, "b": g.b,
                            "log_likelihood": float(g.log_likelihood)}
    return DisappearingReport(findings, bt, chosen, models, len(live.ids))


def _finding(act: CustomerActivity, i: int, live: Scored, chosen: str, value: float, auc_value: float,
             bt: BacktestResult, as_of: date) -> Finding:
    assert live.days_since is not None and live.usual_gap is not None
    days = int(live.days_since[i])
    gap = float(live.usual_gap[i])
    last = act.purchase_dates[-1]
    n = len(act.purchase_dates)
    parts = [f"bought on {n} day{'s' if n != 1 else ''}",
             f"usually every {gap:.0f} days" + ("" if n > 1 else " (company typical, no rhythm of its own)"),
             f"last purchase {last.isoformat()}, {days} days ago ({days / gap:.1f}× usual gap)"]
    facts: dict[str, object] = {"purchases": n, "last_purchase": last.isoformat(), "days_since": days,
                                "usual_gap_days": round(gap, 1), "scorer": chosen,
                                "score": round(value, 4), "as_of": as_of.isoformat(),
                                "backtest_auc": round(auc_value, 4) if np.isfinite(auc_value) else None,
                                "revenue_12m": f"{act.revenue_12m:.2f}"}
    if live.p_alive is not None and live.expected is not None:
        p_alive, expected = float(live.p_alive[i]), float(live.expected[i])
        parts.append(f"P(alive) {p_alive:.2f}")
        parts.append(f"expected purchases next {bt.holdout_days} days {expected:.2f}")
        facts.update(p_alive=round(p_alive, 4), expected_purchases=round(expected, 4))
    auc_text = f"{auc_value:.2f}" if np.isfinite(auc_value) else "n/a"
    parts.append(f"ranked by {chosen} (backtest AUC {auc_text})")
    return Finding(realm_id=act.realm_id, customer_id=act.customer_id, display_name=act.name,
                   rule="disappearing", action="watch", reason="; ".join(parts), facts=facts,
                   score=round(value, 6), sync_token=act.sync_token, active=act.active)
