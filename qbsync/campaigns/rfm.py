"""RFM scoring and the usual segment names (Champions ... Lost): scores 1-5, rules first-match-wins.

R = days since last purchase (fewer is better), F = number of purchases, M = lifetime revenue
net of credits, each scored 1-5 by quintile among customers with a purchase (ties share a score),
or by fixed edges when configured. Segments read R against FM = round-half-up((F + M) / 2):

    Champions           R 5    FM 4-5      Potential Loyalist  R 4-5  FM 2-3
    Loyal               R 3-4  FM 4-5      New                 R 5    FM 1
    Promising           R 4    FM 1        Need Attention      R 3    FM 3
    About to Sleep      R 3    FM 1-2      Can't Lose Them     R 1-2  FM 5
    At Risk             R 1-2  FM 3-4      Hibernating         R 2    FM 1-2
    Lost                R 1    FM 1-2

Every one of the 25 (R, FM) pairs falls in exactly one segment with the default rules.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from qbsync.errors import ConfigError
from qbsync.rules.activity import CustomerActivity


@dataclass(frozen=True)
class RfmRule:
    name: str
    r: tuple[int, int]  # inclusive score range
    fm: tuple[int, int]

    def matches(self, r: int, fm: int) -> bool:
        return self.r[0] <= r <= self.r[1] and self.fm[0] <= fm <= self.fm[1]


DEFAULT_RULES: tuple[RfmRule, ...] = (
    RfmRule("Champions", (5, 5), (4, 5)),
    RfmRule("Loyal", (3, 4), (4, 5)),
    RfmRule("Potential Loyalist", (4, 5), (2, 3)),
    RfmRule("New", (5, 5), (1, 1)),
    RfmRule("Promising", (4, 4), (1, 1)),
    RfmRule("Need Attention", (3, 3), (3, 3)),
    RfmRule("About to Sleep", (3, 3), (1, 2)),
    RfmRule("Can't Lose Them", (1, 2), (5, 5)),
    RfmRule("At Risk", (1, 2), (3, 4)),
    RfmRule("Hibernating", (2, 2), (1, 2)),
    RfmRule("Lost", (1, 1), (1, 2)),
)
SEGMENT_NAMES: tuple[str, ...] = tuple(r.name for r in DEFAULT_RULES)


@dataclass(frozen=True)
class RfmConfig:
    """Quintiles by default; ``*_edges`` (4 ascending cut points) switch a dimension to fixed edges.

    Recency edges are days: ``(30, 90, 180, 365)`` gives 5 for <= 30 days ... 1 for > 365.
    Frequency and monetary edges: ``(1, 2, 4, 8)`` gives 1 for <= 1 ... 5 for > 8.
    """

    recency_edges: tuple[int, ...] | None = None
    frequency_edges: tuple[Decimal, ...] | None = None
    monetary_edges: tuple[Decimal, ...] | None = None
    rules: tuple[RfmRule, ...] = field(default=DEFAULT_RULES)

    @classmethod
    def from_toml(cls, doc: Mapping[str, Any]) -> RfmConfig:
        def edges(key: str, kind: type) -> Any:
            raw = doc.get(key)
            if raw is None:
                return None
            if len(raw) != 4 or list(raw) != sorted(raw):
                raise ConfigError(f"rfm.{key}", f"needs 4 ascending numbers, got {raw!r}",
                                  hint="e.g. recency_edges = [30, 90, 180, 365]")
            return tuple(kind(str(v)) if kind is Decimal else kind(v) for v in raw)

        rules = DEFAULT_RULES
        if "segments" in doc:
            rules = tuple(RfmRule(s["name"], tuple(s["r"]), tuple(s["fm"]))
                          for s in doc["segments"])
        return cls(edges("recency_edges", int), edges("frequency_edges", Decimal),
                   edges("monetary_edges", Decimal), rules)


@dataclass(frozen=True)
class RfmScore:
    customer_id: str
    recency_days: int
    frequency: int
    monetary: Decimal
    r: int
    f: int
    m: int
    fm: int
    segment: str | None


def quintiles(values: Sequence[Any], higher_is_better: bool = True) -> list[int]:
    """Each value's 1-5 by the share of the values strictly worse than it (ties share a score), in
    the order given.

    One pass over the values in sorted order, a run of equal values at a time, where a binary search
    per customer added n log n more comparisons (of Decimals, for revenue) after the sort."""
    n = len(values)
    order = sorted(range(n), key=values.__getitem__)
    out = [0] * n
    start = 0
    while start < n:
        value = values[order[start]]
        end = start + 1
        while end < n and values[order[end]] == value:
            end += 1
        worse = start if higher_is_better else n - end  # strictly below, or strictly above
        score = min(5, 1 + (5 * worse) // n)
        for i in order[start:end]:
            out[i] = score
        start = end
    return out


def by_edges(edges: Sequence[Any], value: Any, higher_is_better: bool = True) -> int:
    above = bisect.bisect_left(list(edges), value)  # how many edges lie below value
    return 1 + above if higher_is_better else 5 - above


class _FirstMatch(dict[tuple[int, int], str | None]):
    """(R, FM) -> the name of the first rule matching it (None: no rule), each pair found once."""

    def __init__(self, rules: Sequence[RfmRule]) -> None:
        super().__init__()
        self.rules = rules

    def __missing__(self, key: tuple[int, int]) -> str | None:
        found = self[key] = next((rule.name for rule in self.rules if rule.matches(*key)), None)
        return found


def score_all(activities: Mapping[str, CustomerActivity], as_of: date,
              config: RfmConfig = RfmConfig()) -> dict[str, RfmScore]:
    """RFM of every customer with at least one purchase by ``as_of``; pure."""
    buyers = [a for a in activities.values() if a.last_purchase is not None and a.last_purchase <= as_of]
    # per buyer, in the same order: lists walked side by side, not dicts probed by id
    rec = [(as_of - a.last_purchase).days for a in buyers if a.last_purchase]
    freq = [max(1, a.txn_count) for a in buyers]
    mon = [a.lifetime_revenue for a in buyers]
    rs = ([by_edges(config.recency_edges, v, False) for v in rec] if config.recency_edges
          else quintiles(rec, False))
    fs = [by_edges(config.frequency_edges, v) for v in freq] if config.frequency_edges else quintiles(freq)
    ms = [by_edges(config.monetary_edges, v) for v in mon] if config.monetary_edges else quintiles(mon)
    segments = _FirstMatch(config.rules)
    out: dict[str, RfmScore] = {}
    for a, days, count, revenue, r, f, m in zip(buyers, rec, freq, mon, rs, fs, ms, strict=True):
        fm = (f + m + 1) // 2  # (F + M) / 2 rounded half up
        out[a.customer_id] = RfmScore(a.customer_id, days, count, revenue, r, f, m, fm, segments[(r, fm)])
    return out
