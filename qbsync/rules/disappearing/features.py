"""Per-customer features on a day, for the learned ranker: recency, frequency, rhythm, spend, model outputs.

Every feature is computed from the purchases on or before the day alone, so the same function
serves the training days (earlier periods, with what happened next as the label) and the live list.
Windows scale with the horizon (the holdout the backtest sized to the company's rhythm), so a
florist buying weekly and a wholesaler buying quarterly get comparable features. Each feature also
says in words what it shows about one customer, for the reasons printed next to the list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from qbsync.rules.disappearing.mle import Array
from qbsync.rules.disappearing.paretonbd import ParetoNbd
from qbsync.rules.disappearing.summary import DAYS_PER_PERIOD, Days, Summary


def weeks(days: float) -> str:
    """A span of days as people say it: '3 days', '5 weeks', '7 months'."""
    if days < 14:
        n = round(days)
        return f"{n} day{'s' if n != 1 else ''}"
    if days < 120:
        return f"{round(days / 7)} weeks"
    n = round(days / 30.44)
    return f"{n} months" if n < 24 else f"{days / 365.25:.0f} years"


@dataclass(frozen=True)
class Features:
    """Feature matrix aligned on ``ids``, with the plain figures the words are made of."""

    ids: tuple[str, ...]
    names: tuple[str, ...]
    X: Array  # customers × features
    horizon_days: int
    days_since: Array
    age: Array  # days since the first purchase
    purchases: Array
    usual_gap: Array  # days; the company's typical gap for customers with one purchase
    recent: Array  # purchases in the last horizon
    spend_mean: Array | None
    spend_last: Array | None
    expected: Array | None  # Pareto/NBD expected purchases over the horizon
    p_alive: Array | None

    def column(self, name: str) -> Array:
        return np.asarray(self.X[:, self.names.index(name)], float)

    def words(self, name: str, i: int) -> str:
        """What feature ``name`` shows about customer ``i``, in a few plain words."""
        return _WORDS[name](self, i)


def _money(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}"


_WORDS: dict[str, Callable[[Features, int], str]] = {
    "recency": lambda f, i: f"nothing for {weeks(f.days_since[i])}",
    "age": lambda f, i: f"first bought {weeks(f.age[i])} ago",
    "purchases": lambda f, i: ("a single purchase" if f.purchases[i] == 1
                               else f"{f.purchases[i]:.0f} purchases"),
    "overdue": lambda f, i: f"{f.days_since[i] / f.usual_gap[i]:.1f}× its usual gap",
    "recent": lambda f, i: (f"none in the last {weeks(f.horizon_days)}" if f.recent[i] == 0
                            else f"{f.recent[i]:.0f} in the last {weeks(f.horizon_days)}"),
    "pace": lambda f, i: f"buys every {weeks(f.usual_gap[i])}",
    "spend_mean": lambda f, i: f"spends about {_money(_req(f.spend_mean)[i])} a time",
    "spend_trend": lambda f, i: (f"last spent {_money(_req(f.spend_last)[i])}, usually "
                                 f"{_money(_req(f.spend_mean)[i])}"),
    "expected": lambda f, i: f"{_req(f.expected)[i]:.1f} purchases expected in {weeks(f.horizon_days)}",
    "p_alive": lambda f, i: f"{_req(f.p_alive)[i]:.0%} chance still buying",
}


def _req(values: Array | None) -> Array:
    assert values is not None
    return values


def compute(days: Days, cut: int, horizon_days: int, company_gap: float,
            pareto: ParetoNbd | None) -> Features:
    """Features of every customer in ``days`` on day ``cut`` (an ordinal); ``days`` must hold
    nothing after it. ``pareto``: the model fitted on the purchases up to ``cut``, or None."""
    if len(days) and int(days.days.max()) > cut:
        raise ValueError("features on a day must not see purchases after it")
    n_cust = len(days)
    counts = days.counts
    n = counts.astype(float)
    first, last = days.first.astype(float), days.last.astype(float)
    since = cut - last
    age = cut - first
    gap = np.where(n > 1, (last - first) / np.maximum(n - 1, 1), company_gap)
    gap = np.maximum(gap, 1.0)
    recent = np.bincount(days.owner[days.days > cut - horizon_days], minlength=n_cust).astype(float)
    cols: dict[str, Array] = {
        "recency": np.log1p(since),
        "age": np.log1p(age),
        "purchases": np.log(n),
        "overdue": np.log1p(since / gap),
        "recent": np.log1p(recent),
        "pace": np.log(n / (age + company_gap)),
    }
    spend_mean = spend_last = None
    if days.spend is not None:
        total = np.bincount(days.owner, days.spend, minlength=n_cust)
        spend_mean = np.maximum(total / np.maximum(n, 1), 0.0)
        spend_last = np.maximum(days.spend[np.cumsum(counts) - 1], 0.0)
        cols["spend_mean"] = np.log1p(spend_mean)
        cols["spend_trend"] = np.log1p(spend_last) - np.log1p(spend_mean)
    expected = p_alive = None
    if pareto is not None:
        s = Summary(days.ids, n - 1, (last - first) / DAYS_PER_PERIOD, age / DAYS_PER_PERIOD)
        with np.errstate(all="ignore"):
            p_alive = np.nan_to_num(pareto.p_alive(s), nan=0.5)
            expected = np.nan_to_num(pareto.expected_purchases(s, horizon_days / DAYS_PER_PERIOD, p_alive))
        cols["expected"] = np.log1p(np.maximum(expected, 0.0))
        cols["p_alive"] = p_alive
    names = tuple(cols)
    X = np.column_stack([cols[k] for k in names]) if n_cust else np.zeros((0, len(names)))
    return Features(days.ids, names, X, horizon_days, since, age, n, gap, recent, spend_mean, spend_last,
                    expected, p_alive)
