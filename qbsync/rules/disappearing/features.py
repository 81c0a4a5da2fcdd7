"""Per-customer features on a day, for the learned ranker: recency, frequency, rhythm, spend, Pareto/NBD.

Every feature is computed from the purchases on or before the day alone, so the same function
serves the training days (earlier periods, with what happened next as the label) and the live list.
Six, chosen on public logs (docs/rules.md): more (age, purchases in the last holdout, the last
purchase's spend against the usual, Pareto/NBD's P(alive)) did no better on the future and made
the model less steady on small companies; age also drifts as a cohort of customers grows old
together, so a model trained on younger days misreads it. Each feature also says in words what it
shows about one customer, for the reasons printed next to the list.
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
    company_gap: float
    days_since: Array
    age: Array  # days since the first purchase
    purchases: Array
    usual_gap: Array  # days; the company's typical gap for customers with one purchase
    spend_mean: Array | None
    expected: Array | None  # Pareto/NBD expected purchases over the horizon
    p_alive: Array | None  # Pareto/NBD, a figure for the JSON (not a model input)

    def column(self, name: str) -> Array:
        return np.asarray(self.X[:, self.names.index(name)], float)

    def words(self, name: str, i: int) -> str:
        """What feature ``name`` shows about customer ``i``, in a few plain words."""
        return _WORDS[name](self, i)


def _money(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}"


_WORDS: dict[str, Callable[[Features, int], str]] = {
    "recency": lambda f, i: f"nothing for {weeks(f.days_since[i])}",
    "purchases": lambda f, i: ("a single purchase" if f.purchases[i] == 1
                               else f"{f.purchases[i]:.0f} purchases"),
    "overdue": lambda f, i: f"{f.days_since[i] / f.usual_gap[i]:.1f}× its usual gap",
    "pace": lambda f, i: (f"one purchase every {weeks((f.age[i] + f.company_gap) / f.purchases[i])} "
                          "on average"),
    "spend_mean": lambda f, i: ("spent nothing so far" if _req(f.spend_mean)[i] < 0.005
                                else f"spends about {_money(_req(f.spend_mean)[i])} a time"),
    "expected": lambda f, i: f"{_req(f.expected)[i]:.1f} purchases expected in {weeks(f.horizon_days)}",
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
    cols: dict[str, Array] = {
        "recency": np.log1p(since),
        "purchases": np.log(n),
        "overdue": np.log1p(since / gap),
        "pace": np.log(n / (age + company_gap)),
    }
    spend_mean = None
    if days.spend is not None:
        total = np.bincount(days.owner, days.spend, minlength=n_cust)
        spend_mean = np.maximum(total / np.maximum(n, 1), 0.0)
        cols["spend_mean"] = np.log1p(spend_mean)
    expected = p_alive = None
    if pareto is not None:
        s = Summary(days.ids, n - 1, (last - first) / DAYS_PER_PERIOD, age / DAYS_PER_PERIOD)
        with np.errstate(all="ignore"):
            p_alive = np.nan_to_num(pareto.p_alive(s), nan=0.5)
            expected = np.nan_to_num(pareto.expected_purchases(s, horizon_days / DAYS_PER_PERIOD, p_alive))
        cols["expected"] = np.log1p(np.maximum(expected, 0.0))
    names = tuple(cols)
    X = np.column_stack([cols[k] for k in names]) if n_cust else np.zeros((0, len(names)))
    return Features(days.ids, names, X, horizon_days, company_gap, since, age, n, gap, spend_mean, expected,
                    p_alive)
