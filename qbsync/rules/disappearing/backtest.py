"""Rolling-origin backtest of the disappearing scorers on the company's own history.

Several calibration cuts before the as-of date; on each, every scorer ranks the customers as they
stood that day, and the truth is whether each bought again in the holdout that follows. The AUC is
the chance that a customer who did not come back is ranked above one who did (0.5 = coin toss).

- **The holdout is sized to the data**: three times the company's typical gap between purchases
  (so a weekly buyer and a quarterly one are both given time to come back), in whole weeks, between
  4 and 26 weeks, and short enough that two cuts fit in the history before the as-of date: each
  needs a holdout to be judged on, and the learned ranker a holdout before it to learn from with
  a holdout's worth of history before that (3.5 holdouts with the half-holdout step).
- **Cuts roll back** by half a holdout, up to ``MAX_CUTS``, as long as the learned ranker's
  training day still has a holdout's worth of history before it (the first weeks of a log look
  alike for everyone: every customer seems new).
- **The choice**: Pareto/NBD corrected by the learned model (``INCUMBENT``: the published model plus
  what the company's own history taught) ranks the list unless another scorer beats its mean AUC
  over the cuts by more than the backtest's noise: ``NOISE_SE`` standard errors of the paired
  difference (DeLong's, from the customers of each cut) and at least ``TIE``. Among the scorers
  that do, the best wins, a tie (``TIE``) going to the simpler (``SCORERS`` is ordered simplest
  first). Without the learned model every scorer competes that way from the start.
- **Never past the cut**: each cut sees only the purchases on or before it, each model is fitted
  there, and the learned ranker is trained on earlier days whose holdout ends by the cut.

Above ``SAMPLE_CUSTOMERS`` customers the backtest works on a fixed sample of them (chosen by a hash of
the customer's Id, so the same customers whatever order they came in); the list scores everyone.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

from qbsync.rules.disappearing import features as feats
from qbsync.rules.disappearing.bgnbd import BgNbd
from qbsync.rules.disappearing.features import Features
from qbsync.rules.disappearing.learned import LearnedRanker
from qbsync.rules.disappearing.mle import Array
from qbsync.rules.disappearing.paretonbd import ParetoNbd
from qbsync.rules.disappearing.rhythm import FALLBACK_GAP_DAYS, rhythm
from qbsync.rules.disappearing.summary import DAYS_PER_PERIOD, Days, Summary

#: Every scorer gives higher values to customers more likely gone; simplest first (ties go left).
SCORERS = ("recency", "rhythm", "pareto_nbd", "pareto_nbd_expected", "bg_nbd_expected", "corrected",
           "learned")
LABELS = {
    "recency": "time since the last purchase",
    "rhythm": "time overdue against the customer's own rhythm",
    "pareto_nbd": "Pareto/NBD chance of still buying",
    "pareto_nbd_expected": "Pareto/NBD expected purchases",
    "bg_nbd_expected": "BG/NBD expected purchases",
    "corrected": "Pareto/NBD corrected by the learned model (the mean of their log-odds)",
    "learned": "the learned model (logistic regression on the purchase history)",
}
SHORT = {"recency": "recency", "rhythm": "own rhythm", "pareto_nbd": "Pareto/NBD P(alive)",
         "pareto_nbd_expected": "Pareto/NBD", "bg_nbd_expected": "BG/NBD",
         "corrected": "Pareto/NBD corrected by the learned model", "learned": "the learned model"}
#: Ranks the list when there is too little history to backtest: the best published model.
DEFAULT_SCORER = "pareto_nbd_expected"
#: A more complex scorer must beat every simpler one by more than this AUC: equal to the three
#: decimals the line shows is a tie.
TIE = 0.0005
#: Ranks the list unless the backtest shows another scorer better beyond its noise: it holds
#: Pareto/NBD's information and the learned model's, and where the two cannot be told apart their
#: mean log-odds cannot do worse than both (the log-loss is convex in the log-odds).
INCUMBENT = "corrected"
#: Standard errors of the paired AUC difference a scorer must beat the incumbent by (two: the
#: usual; 1.5 to 3 chose alike on the development logs, docs/rules.md).
NOISE_SE = 2.0
MIN_CLASS = 10  # fewer disappeared (or returning) customers than this on a cut: its AUC is noise
MAX_CUTS = 3
#: The learned model's share of the corrected scorer's log-odds (the rest is Pareto/NBD's): equal
#: weights, not tuned (0.25 to 0.75 did alike on the development logs: docs/rules.md).
CORRECTION_WEIGHT = 0.5
TRAIN_CUTS = 2  # training days stacked for the learned ranker
SAMPLE_CUSTOMERS = 12_000
FIT_CUSTOMERS = 1_000  # the models fitted on each backtest cut (the list's fit uses up to 5,000)
MIN_HOLDOUT, MAX_HOLDOUT = 28, 182
GAPS_PER_HOLDOUT = 3
ROOM_HOLDOUTS = 3.5  # history needed for two cuts, in holdouts


def auc(scores: Array, gone: NDArray[np.bool_]) -> float:
    """Area under the ROC curve via the Mann-Whitney statistic (ties count one half)."""
    gone = np.asarray(gone, dtype=bool)
    n_pos = int(gone.sum())
    n_neg = len(gone) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _average_ranks(np.asarray(scores, dtype=np.float64))
    return float((ranks[gone].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auc_covariance(values: Mapping[str, Array], gone: NDArray[np.bool_]) -> dict[tuple[str, str], float]:
    """DeLong's covariance of the scorers' AUCs on the same customers (DeLong, DeLong & Clarke-Pearson
    1988): for each pair of scorers, how their AUC estimates vary together over samples of customers
    like these. The variance of a difference, ``cov[a, a] + cov[b, b] - 2 cov[a, b]``, is small
    when two scorers order the customers alike: the paired noise of the backtest's comparison."""
    gone = np.asarray(gone, dtype=bool)
    m, n = int(gone.sum()), int((~gone).sum())
    if m < 2 or n < 2:
        return {}
    keys = list(values)
    v10, v01 = [], []
    for k in keys:
        x = np.asarray(values[k], dtype=np.float64)
        ranks = _average_ranks(x)
        # each disappeared customer: the share of returning ones ranked below it (ties one half);
        # each returning customer: the share of disappeared ones ranked above it
        v10.append((ranks[gone] - _average_ranks(x[gone])) / n)
        v01.append(1.0 - (ranks[~gone] - _average_ranks(x[~gone])) / m)
    s10, s01 = np.atleast_2d(np.cov(np.array(v10))), np.atleast_2d(np.cov(np.array(v01)))
    cov = s10 / m + s01 / n
    return {(a, b): float(cov[i, j]) for i, a in enumerate(keys) for j, b in enumerate(keys)}


def _average_ranks(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """1-based ranks, ties sharing their average rank (scipy.stats.rankdata's default, without
    importing scipy.stats: half a second on every start of the command line)."""
    order = np.argsort(x, kind="mergesort")
    ordered = x[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1], True])
    ranks = np.empty(len(x))
    ranks[order] = np.repeat((starts[:-1] + starts[1:] + 1) / 2, np.diff(starts))
    return ranks


def _holdouts(days: int) -> str:
    return f"{days // 7}-week holdouts" if days % 7 == 0 else f"{days}-day holdouts"


def _round_week(days: float) -> int:
    return max(7, round(days / 7.0) * 7)


@dataclass(frozen=True)
class Plan:
    """Holdout length, step between cuts, the cuts (latest first) and the words for how."""

    horizon_days: int
    step_days: int
    min_history: int
    first_day: int  # ordinal of the first purchase in the history
    cuts: tuple[int, ...]  # ordinals
    learned: bool  # whether each cut has a training day before it
    sized: str

    def training_days(self, cut: int) -> list[int]:
        """Days whose holdout ends on or before ``cut``, latest first: what the learner learns from."""
        out = []
        for k in range(TRAIN_CUTS):
            day = cut - self.horizon_days - k * self.step_days
            if day - self.first_day >= self.min_history:
                out.append(day)
        return out


def plan(days: Days, as_of: date, holdout_days: int | None = None) -> Plan:
    """Size the holdout to the company's rhythm and history, and place the cuts."""
    end = as_of.toordinal()
    seen, _ = days.up_to(end)
    first = int(seen.days.min()) if len(seen) else end
    span = end - first
    gap = rhythm(seen, as_of).company_gap if len(seen) else FALLBACK_GAP_DAYS
    if holdout_days is not None:
        horizon = holdout_days
        sized = f"{_holdouts(horizon)} (set by hand)"
    else:
        wanted = min(max(_round_week(GAPS_PER_HOLDOUT * gap), MIN_HOLDOUT), MAX_HOLDOUT)
        # room for two cuts: history, a holdout to learn from, half a step, a holdout to check
        room = max(7 * int(span / ROOM_HOLDOUTS / 7), MIN_HOLDOUT)
        horizon = min(wanted, room)
        sized = f"{_holdouts(horizon)}: {GAPS_PER_HOLDOUT}× the typical {feats.weeks(gap)} between purchases"
        if horizon < wanted:
            sized += f", shortened to fit {feats.weeks(span)} of history"
    step = max(7, 7 * int(horizon / 14))  # half a holdout, in whole weeks
    min_history = horizon
    cuts: list[int] = []
    learned = True
    for j in range(MAX_CUTS):
        cut = end - horizon - j * step
        if cut - horizon - first >= min_history:
            cuts.append(cut)
    if not cuts:  # too short for the learner: backtest the models alone if there is room
        learned = False
        cuts = [c for c in (end - horizon - j * step for j in range(MAX_CUTS)) if c - first >= min_history]
    return Plan(horizon, step, min_history, first, tuple(cuts), learned, sized)


def sample(ids: Sequence[str], limit: int = SAMPLE_CUSTOMERS) -> NDArray[np.bool_]:
    """A fixed sample of at most ``limit`` customers: the smallest CRC-32 of their Ids (then the Id),
    so the same customers are drawn whatever order the database returned them in."""
    mask = np.ones(len(ids), bool)
    if len(ids) <= limit:
        return mask
    crc = np.fromiter((zlib.crc32(i.encode()) for i in ids), np.int64, count=len(ids))
    order = np.lexsort((np.array(ids), crc))
    mask[:] = False
    mask[order[:limit]] = True
    return mask


@dataclass
class Cut:
    """One day's view of the (sampled) customers: who was eligible, their features and model fits."""

    day: int
    seen: Days  # the eligible customers' purchases up to ``day``
    where: NDArray[np.int64]  # their positions in the full history
    company_gap: float
    pareto: ParetoNbd | None
    features: Features
    errors: dict[str, str] = field(default_factory=dict)
    bg: BgNbd | None = None


class Cuts:
    """Features and fits per day, computed once and shared by the backtest and the live training."""

    def __init__(self, days: Days, horizon_days: int, max_idle_days: int | None,
                 fit_customers: int = FIT_CUSTOMERS) -> None:
        self.days = days
        self.horizon = horizon_days
        self.max_idle = max_idle_days
        self.fit_customers = fit_customers
        self._cuts: dict[int, Cut] = {}

    def at(self, day: int) -> Cut:
        if day not in self._cuts:
            self._cuts[day] = self._make(day)
        return self._cuts[day]

    def prepare(self, days: Sequence[int]) -> None:
        """Compute these days oldest first, so each fit starts from the one before it (never from
        a later day's)."""
        for day in sorted(set(days)):
            self.at(day)

    def _before(self, day: int) -> Cut | None:
        earlier = [d for d, c in self._cuts.items() if d < day and c.pareto is not None]
        return self._cuts[max(earlier)] if earlier else None

    def _make(self, day: int) -> Cut:
        seen, where = self.days.up_to(day)
        if self.max_idle is not None and len(seen):
            keep = day - seen.last <= self.max_idle
            seen, where = seen.select(keep), where[keep]
        as_of = date.fromordinal(day)
        gap = rhythm(seen, as_of).company_gap if len(seen) else FALLBACK_GAP_DAYS
        errors: dict[str, str] = {}
        pareto = None
        previous = self._before(day)
        if len(seen):
            try:
                start = previous.pareto.params if previous is not None and previous.pareto else None
                pareto = ParetoNbd.fit(_summary(seen, day), self.fit_customers, start, quick=True)
            except (ValueError, FloatingPointError) as exc:
                errors["pareto_nbd"] = str(exc)
        return Cut(day, seen, where, gap, pareto, feats.compute(seen, day, self.horizon, gap, pareto), errors)

    def bg(self, cut: Cut) -> BgNbd | None:
        """BG/NBD fitted on the cut's purchases (started from the nearest earlier cut's fit)."""
        if cut.bg is None and "bg_nbd" not in cut.errors and len(cut.seen):
            earlier = [c for d, c in self._cuts.items() if d < cut.day and c.bg is not None]
            start = max(earlier, key=lambda c: c.day).bg.params if earlier else None  # type: ignore[union-attr]
            try:
                cut.bg = BgNbd.fit(_summary(cut.seen, cut.day), self.fit_customers, start, quick=True)
            except (ValueError, FloatingPointError) as exc:
                cut.errors["bg_nbd"] = str(exc)
        return cut.bg

    def gone(self, cut: Cut, end: int) -> NDArray[np.bool_]:
        """Whether each of the cut's customers bought nothing after its day, up to ``end``."""
        later = (self.days.days > cut.day) & (self.days.days <= end)
        return np.bincount(self.days.owner[later], minlength=len(self.days))[cut.where] == 0

    def training_set(self, days: Sequence[int]) -> tuple[Array, NDArray[np.bool_], tuple[str, ...]] | None:
        parts = [self.at(d) for d in days]
        parts = [p for p in parts if len(p.seen)]
        if not parts:
            return None
        names = parts[0].features.names
        X = np.vstack([p.features.X for p in parts])
        y = np.concatenate([self.gone(p, p.day + self.horizon) for p in parts])
        return X, y, names


def _summary(seen: Days, day: int) -> Summary:
    first, last = seen.first, seen.last
    return Summary(seen.ids, (seen.counts - 1).astype(float), (last - first) / DAYS_PER_PERIOD,
                   (day - first) / DAYS_PER_PERIOD)


def scores_at(cut: Cut, learner: LearnedRanker | None, fit_customers: int,
              bg: BgNbd | None = None) -> tuple[dict[str, Array], dict[str, str]]:
    """Every scorer's values for the customers of one cut (higher: more likely gone); ``bg``: a
    BG/NBD model already fitted on the purchases up to the cut (else one is fitted here)."""
    f = cut.features
    out: dict[str, Array] = {"recency": f.days_since.astype(float),
                             "rhythm": f.days_since / _own_gap(cut)}
    errors = dict(cut.errors)
    if f.p_alive is not None and f.expected is not None:
        out["pareto_nbd"] = 1.0 - f.p_alive
        out["pareto_nbd_expected"] = np.exp(-f.expected)
    try:
        bg = bg or BgNbd.fit(_summary(cut.seen, cut.day), fit_customers, quick=True)
        expected = bg.expected_purchases(_summary(cut.seen, cut.day), f.horizon_days / DAYS_PER_PERIOD)
        out["bg_nbd_expected"] = np.exp(-expected)
    except (ValueError, FloatingPointError) as exc:
        errors["bg_nbd"] = str(exc)
    if learner is not None:
        out["learned"] = learner.chance_of_loss(f.X)
        if f.expected is not None:
            out["corrected"] = corrected(f.expected, learner.log_odds(f.X))
    return out, errors


def corrected(expected: Array, learned_log_odds: Array) -> Array:
    """Pareto/NBD corrected by the learned model: the mean of their log-odds of no purchase over
    the holdout (Pareto/NBD's chance of none is ``exp(-expected purchases)``, the Poisson's).

    Half the learned model's word and half the published model's: where the learned model has
    learned little (a small company, a few hundred returning customers a cut) its noise is halved,
    and what it has learned still moves the published ranking."""
    e = np.maximum(np.asarray(expected, float), 1e-300)
    pareto_log_odds = -e - np.log(-np.expm1(-e))  # log(exp(-e) / (1 - exp(-e))), without rounding
    w = CORRECTION_WEIGHT
    return np.asarray(expit(w * np.asarray(learned_log_odds, float) + (1 - w) * pareto_log_odds), float)


def _own_gap(cut: Cut) -> Array:
    rh = rhythm(cut.seen, date.fromordinal(cut.day))
    return rh.usual_gap


@dataclass(frozen=True)
class CutResult:
    cutoff: date
    customers: int
    disappeared: int
    auc: dict[str, float]
    #: DeLong's covariance of the AUCs on this cut (pairs of scorers)
    cov: dict[tuple[str, str], float] = field(default_factory=dict, compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"cutoff": self.cutoff.isoformat(), "customers": self.customers,
                "disappeared": self.disappeared, "auc": {k: round(v, 4) for k, v in self.auc.items()}}


@dataclass(frozen=True)
class BacktestResult:
    horizon_days: int
    step_days: int
    sized: str
    cuts: tuple[CutResult, ...]
    mean: dict[str, float]
    low: dict[str, float]
    high: dict[str, float]
    chosen: str
    note: str = ""
    #: the standard error of each pair's difference in mean AUC (DeLong's, over the cuts)
    pair_se: dict[tuple[str, str], float] = field(default_factory=dict, compare=False, repr=False)

    @property
    def auc(self) -> dict[str, float]:
        """Mean AUC per scorer over the cuts."""
        return self.mean

    @property
    def holdout_days(self) -> int:
        return self.horizon_days

    def line(self, ranked_by: str | None = None) -> str:
        """The choice and its evidence in one sentence."""
        by = ranked_by or self.chosen
        head = f"Ranked by {SHORT[by]}"
        if by != self.chosen:
            head += f" (chosen by hand; the backtest picked {SHORT[self.chosen]})"
        if not self.cuts or by not in self.mean:
            return head + f": {self.note or 'no backtest'}."
        n = len(self.cuts)
        text = f"{head}: AUC {self.mean[by]:.3f} on {n} backtest{'s' if n != 1 else ''}"
        if n > 1:
            text += f" ({self.low[by]:.3f}-{self.high[by]:.3f})"
        # the best of the others, and the best published model (Pareto/NBD expected purchases)
        ranked = [k for k in sorted(self.mean, key=lambda k: (-self.mean[k], SCORERS.index(k))) if k != by]
        rivals = ranked[:1] + [k for k in (DEFAULT_SCORER,) if k in ranked[1:]]
        ahead = [k for k in rivals if self.mean[k] <= self.mean[by]]
        level = [k for k in rivals if k not in ahead]
        if ahead:
            text += ", ahead of " + " and ".join(f"{SHORT[k]} {self.mean[k]:.3f}" for k in ahead)
        for k in level:
            se = self.pair_se.get((k, by))
            if by == self.chosen and se is not None:
                text += f"; {SHORT[k]} {self.mean[k]:.3f} is within the noise (±{NOISE_SE * se:.3f})"
            else:
                text += f", against {SHORT[k]} {self.mean[k]:.3f}"
        text += f"; {self.sized}"
        if self.note:
            text += f"; {self.note}"
        return text + "."

    def as_dict(self) -> dict[str, Any]:
        return {"holdout_days": self.horizon_days, "step_days": self.step_days, "sized": self.sized,
                "cuts": [c.as_dict() for c in self.cuts], "mean_auc": _rounded(self.mean),
                "lowest_auc": _rounded(self.low), "highest_auc": _rounded(self.high),
                "chosen": self.chosen, "tie_margin": TIE, "noise_standard_errors": NOISE_SE,
                "standard_error": {k: round(self.pair_se[(k, self.chosen)], 4) for k in self.mean
                                   if k != self.chosen and (k, self.chosen) in self.pair_se},
                "note": self.note}


def _rounded(d: Mapping[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in d.items()}


def choose(mean: Mapping[str, float], pair_se: Mapping[tuple[str, str], float] | None = None) -> str:
    """The incumbent (``INCUMBENT``) unless another scorer beats it by more than ``NOISE_SE`` standard
    errors of their difference (``pair_se``; without it, by more than ``TIE``); among those, the
    best mean AUC unless a simpler one is within ``TIE`` of it (the simplest such wins)."""
    finite = {k: v for k, v in mean.items() if np.isfinite(v)}
    if not finite:
        return DEFAULT_SCORER
    if INCUMBENT in finite:
        base = finite[INCUMBENT]
        se = pair_se or {}
        finite = {k: v for k, v in finite.items()
                  if k != INCUMBENT and v - base > max(TIE, NOISE_SE * se.get((k, INCUMBENT), 0.0))}
        if not finite:
            return INCUMBENT
    best = max(finite.values())
    return next(k for k in SCORERS if k in finite and finite[k] >= best - TIE)


def _pair_se(results: Sequence[CutResult], keys: Sequence[str]) -> dict[tuple[str, str], float]:
    """The standard error of each pair's difference in mean AUC over the cuts (the cuts' DeLong
    variances added, as if independent)."""
    out: dict[tuple[str, str], float] = {}
    for a in keys:
        for b in keys:
            if a == b or not all((a, b) in r.cov for r in results):
                continue
            var = sum(r.cov[(a, a)] + r.cov[(b, b)] - 2 * r.cov[(a, b)] for r in results) / len(results) ** 2
            out[(a, b)] = float(np.sqrt(max(var, 0.0)))
    return out


@dataclass
class Evidence:
    """The backtest's result plus what the live ranking reuses: the cuts, and the latest cut's
    scores and outcomes (to turn any scorer into a chance of loss)."""

    result: BacktestResult
    plan: Plan
    cuts: Cuts
    latest: dict[str, Array] = field(default_factory=dict)
    latest_gone: NDArray[np.bool_] | None = None


def backtest(histories: Mapping[str, Sequence[date]] | Days, as_of: date, holdout_days: int | None = None,
             max_idle_days: int | None = 365, *, sample_customers: int = SAMPLE_CUSTOMERS,
             fit_customers: int = FIT_CUSTOMERS, seed: int = 0) -> Evidence:
    """Score the (sampled) customers on each cut, check who bought again within the holdout.

    Only customers the live list would show are scored: a purchase before the cut and, when
    ``max_idle_days`` is set, one within that many days of it (older ones are the inactive rule's).
    """
    days = Days.of(histories)
    days = days.up_to(as_of.toordinal())[0]
    days = days.select(sample(days.ids, sample_customers))
    p = plan(days, as_of, holdout_days)
    cuts = Cuts(days, p.horizon_days, max_idle_days, fit_customers)
    results: list[CutResult] = []
    evidence = Evidence(BacktestResult(p.horizon_days, p.step_days, p.sized, (), {}, {}, {}, DEFAULT_SCORER),
                        p, cuts)
    notes = []
    needed = [*p.cuts, *(t for day in (*p.cuts, as_of.toordinal()) for t in p.training_days(day))]
    cuts.prepare(needed if p.learned else p.cuts)
    for day in sorted(p.cuts):
        cuts.bg(cuts.at(day))
    for day in p.cuts:
        cut = cuts.at(day)
        gone = cuts.gone(cut, day + p.horizon_days)
        n_gone = int(gone.sum())
        if n_gone < MIN_CLASS or len(gone) - n_gone < MIN_CLASS:
            notes.append(f"cut {date.fromordinal(day).isoformat()} skipped ({n_gone} of {len(gone)} "
                         "customers did not buy again)")
            continue
        learner = None
        if p.learned:
            train = cuts.training_set(p.training_days(day))
            if train is not None:
                learner = LearnedRanker.train(*train, seed=seed)
        values, _ = scores_at(cut, learner, fit_customers, cut.bg)
        scored = {k: values[k] for k in SCORERS if k in values}
        results.append(CutResult(date.fromordinal(day), len(gone), n_gone,
                                 {k: auc(v, gone) for k, v in scored.items()}, auc_covariance(scored, gone)))
        if len(results) == 1:
            evidence.latest, evidence.latest_gone = values, gone
    if not results:
        why = "too little history to backtest" + (f" ({'; '.join(notes)})" if notes else "")
        evidence.result = BacktestResult(p.horizon_days, p.step_days, p.sized, (), {}, {}, {}, DEFAULT_SCORER,
                                         note=f"{why}; ranked by {LABELS[DEFAULT_SCORER]}")
        return evidence
    common = [k for k in SCORERS if all(k in r.auc and np.isfinite(r.auc[k]) for r in results)]
    mean = {k: float(np.mean([r.auc[k] for r in results])) for k in common}
    low = {k: float(min(r.auc[k] for r in results)) for k in common}
    high = {k: float(max(r.auc[k] for r in results)) for k in common}
    if not p.learned:
        notes.append("too little history to train the learned model")
    pair_se = _pair_se(results, common)
    evidence.result = BacktestResult(p.horizon_days, p.step_days, p.sized, tuple(results), mean, low, high,
                                     choose(mean, pair_se), note="; ".join(notes), pair_se=pair_se)
    return evidence
