"""Backtest of the disappearing scorers on the company's own history: fit before a cutoff, check after.

Every scorer ranks the customers as they stood on the cutoff; the truth is whether each bought
again in the holdout window. The AUC is the chance that a customer who did not come back is ranked
above one who did (0.5 = coin toss). The scorer with the best AUC ranks the live list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
from numpy.typing import NDArray

from qbsync.rules.disappearing.bgnbd import BgNbd
from qbsync.rules.disappearing.mle import MAX_FIT_CUSTOMERS, Array
from qbsync.rules.disappearing.paretonbd import ParetoNbd
from qbsync.rules.disappearing.rhythm import rhythm
from qbsync.rules.disappearing.summary import DAYS_PER_PERIOD, Days, summarize

#: Every scorer gives higher values to customers more likely gone.
SCORERS = ("pareto_nbd", "pareto_nbd_expected", "bg_nbd_expected", "rhythm", "recency")
DEFAULT_SCORER = "pareto_nbd"  # used when the history is too short or one-sided to backtest
MIN_CLASS = 10  # fewer disappeared (or returning) customers than this: the AUC would be noise


def auc(scores: Array, gone: NDArray[np.bool_]) -> float:
    """Area under the ROC curve via the Mann-Whitney statistic (ties count one half)."""
    gone = np.asarray(gone, dtype=bool)
    n_pos = int(gone.sum())
    n_neg = len(gone) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _average_ranks(np.asarray(scores, dtype=np.float64))
    return float((ranks[gone].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _average_ranks(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """1-based ranks, ties sharing their average rank (scipy.stats.rankdata's default, without
    importing scipy.stats: half a second on every start of the command line)."""
    order = np.argsort(x, kind="mergesort")
    ordered = x[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1], True])
    ranks = np.empty(len(x))
    ranks[order] = np.repeat((starts[:-1] + starts[1:] + 1) / 2, np.diff(starts))
    return ranks


@dataclass
class Scored:
    """Every scorer's values for the customers of one as-of date, plus the fitted models."""

    ids: tuple[str, ...]
    scores: dict[str, Array]
    pareto: ParetoNbd | None = None
    bgnbd: BgNbd | None = None
    p_alive: Array | None = None  # Pareto/NBD
    expected: Array | None = None  # Pareto/NBD, over the horizon
    days_since: Array | None = None
    usual_gap: Array | None = None
    errors: dict[str, str] = field(default_factory=dict)


def score(histories: Mapping[str, Sequence[date]] | Days, as_of: date, horizon_days: int,
          max_fit: int = MAX_FIT_CUSTOMERS) -> Scored:
    """Fit both models on the histories up to ``as_of`` and compute every scorer."""
    seen, _ = Days.of(histories).up_to(as_of.toordinal())
    summary = summarize(seen, as_of)
    rh = rhythm(seen, as_of)
    assert rh.ids == summary.ids
    horizon = horizon_days / DAYS_PER_PERIOD
    out = Scored(summary.ids, {"rhythm": rh.overdue, "recency": rh.days_since},
                 days_since=rh.days_since, usual_gap=rh.usual_gap)
    if len(summary) == 0:
        return out
    try:
        out.pareto = ParetoNbd.fit(summary, max_fit)
        out.p_alive = out.pareto.p_alive(summary)
        out.expected = out.pareto.expected_purchases(summary, horizon, out.p_alive)
        out.scores["pareto_nbd"] = 1.0 - out.p_alive
        out.scores["pareto_nbd_expected"] = np.exp(-out.expected)
    except (ValueError, FloatingPointError) as exc:
        out.errors["pareto_nbd"] = str(exc)
    try:
        out.bgnbd = BgNbd.fit(summary, max_fit)
        out.scores["bg_nbd_expected"] = np.exp(-out.bgnbd.expected_purchases(summary, horizon))
    except (ValueError, FloatingPointError) as exc:
        out.errors["bg_nbd"] = str(exc)
    return out


@dataclass(frozen=True)
class BacktestResult:
    cutoff: date
    holdout_days: int
    customers: int  # scored on the cutoff
    disappeared: int  # of those, bought nothing in the holdout
    auc: dict[str, float]
    chosen: str
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"cutoff": self.cutoff.isoformat(), "holdout_days": self.holdout_days,
                "customers": self.customers, "disappeared": self.disappeared,
                "auc": {k: round(v, 4) for k, v in self.auc.items()}, "chosen": self.chosen,
                "note": self.note}


def backtest(histories: Mapping[str, Sequence[date]] | Days, as_of: date, holdout_days: int = 180,
             max_idle_days: int | None = 365, max_fit: int = MAX_FIT_CUSTOMERS) -> BacktestResult:
    """Score everyone as of ``as_of - holdout_days`` and check who bought again by ``as_of``.

    Only customers the live list would show are scored: a purchase before the cutoff and, when
    ``max_idle_days`` is set, one within that many days of it (older ones are the inactive rule's).
    """
    cutoff = as_of - timedelta(days=holdout_days)
    days = Days.of(histories)
    before, where = days.up_to(cutoff.toordinal())
    holdout = (days.days > cutoff.toordinal()) & (days.days <= as_of.toordinal())
    came_back = np.bincount(days.owner[holdout], minlength=len(days))[where] > 0
    keep = np.ones(len(before), bool)
    if max_idle_days is not None:
        keep = cutoff.toordinal() - before.last <= max_idle_days
    calib = before.select(keep)
    scored = score(calib, cutoff, holdout_days, max_fit)
    assert scored.ids == calib.ids
    gone = ~came_back[keep]
    aucs = {name: auc(values, gone) for name, values in scored.scores.items()}
    aucs = {k: aucs[k] for k in SCORERS if k in aucs}
    n_gone = int(gone.sum())
    if n_gone < MIN_CLASS or len(gone) - n_gone < MIN_CLASS:
        return BacktestResult(cutoff, holdout_days, len(gone), n_gone, aucs, DEFAULT_SCORER,
                              note=f"too little history to backtest ({n_gone} of {len(gone)} customers "
                                   f"disappeared); ranked by {DEFAULT_SCORER}")
    finite = {k: v for k, v in aucs.items() if np.isfinite(v)}
    chosen = max(finite, key=lambda k: (finite[k], -SCORERS.index(k))) if finite else DEFAULT_SCORER
    return BacktestResult(cutoff, holdout_days, len(gone), n_gone, aucs, chosen)
