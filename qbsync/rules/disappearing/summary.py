"""Purchase histories as the models see them: repeat count, recency and age, in weeks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import chain

import numpy as np
from numpy.typing import NDArray

DAYS_PER_PERIOD = 7.0  # the models work in weeks, as Fader & Hardie did

Ints = NDArray[np.int64]


@dataclass(frozen=True)
class Days:
    """Every customer's distinct purchase days as one array, so the per-customer figures of 100,000
    customers are a few array operations instead of a Python loop each.

    ``days`` holds day ordinals sorted by (customer, day) without repeats; ``owner`` the position
    in ``ids`` of each day's customer. Every customer in ``ids`` has at least one day.
    """

    ids: tuple[str, ...]
    owner: Ints
    days: Ints

    @classmethod
    def of(cls, histories: Mapping[str, Sequence[date]] | Days) -> Days:
        """The histories in this form (in their order; customers without a day left out)."""
        if isinstance(histories, Days):
            return histories
        names = tuple(histories)
        lengths = np.fromiter(map(len, histories.values()), np.int64, count=len(names))
        days = np.fromiter(map(date.toordinal, chain.from_iterable(histories.values())), np.int64,
                           count=int(lengths.sum()))
        owner = np.repeat(np.arange(len(names), dtype=np.int64), lengths)
        step_owner, step_day = np.diff(owner), np.diff(days)
        if np.any(step_day[step_owner == 0] <= 0):  # not already ascending and distinct per customer
            order = np.lexsort((days, owner))
            owner, days = owner[order], days[order]
            fresh = np.ones(len(days), bool)
            fresh[1:] = (owner[1:] != owner[:-1]) | (days[1:] != days[:-1])
            owner, days = owner[fresh], days[fresh]
        return cls._kept(names, owner, days)[0]

    @classmethod
    def _kept(cls, names: tuple[str, ...], owner: Ints, days: Ints) -> tuple[Days, Ints]:
        """Drop the customers that own no day; also the kept customers' positions in ``names``."""
        present = np.flatnonzero(np.bincount(owner, minlength=len(names)))
        if len(present) == len(names):
            return cls(names, owner, days), present
        remap = np.zeros(len(names), np.int64)
        remap[present] = np.arange(len(present))
        return cls(tuple(names[i] for i in present.tolist()), remap[owner], days), present

    def up_to(self, last_day: int) -> tuple[Days, Ints]:
        """The days on or before ``last_day`` (an ordinal), and the kept customers' positions."""
        keep = self.days <= last_day
        return self._kept(self.ids, self.owner[keep], self.days[keep])

    def select(self, mask: NDArray[np.bool_]) -> Days:
        """The customers where ``mask`` (aligned on ``ids``) is true."""
        keep = mask[self.owner]
        return self._kept(self.ids, self.owner[keep], self.days[keep])[0]

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def counts(self) -> Ints:
        return np.bincount(self.owner, minlength=len(self.ids))

    @property
    def first(self) -> Ints:
        return self.days[self._starts()]

    @property
    def last(self) -> Ints:
        return self.days[np.cumsum(self.counts) - 1]

    def _starts(self) -> Ints:
        counts = self.counts
        return np.cumsum(counts) - counts


@dataclass(frozen=True)
class Summary:
    """Arrays aligned on ``ids``: x repeat purchases, t_x time of the last purchase and T age, in weeks."""

    ids: tuple[str, ...]
    x: NDArray[np.float64]
    t_x: NDArray[np.float64]
    T: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.ids)


def summarize(histories: Mapping[str, Sequence[date]] | Days, as_of: date) -> Summary:
    """Summaries of customers with at least one purchase on or before ``as_of`` (later ones ignored).

    Purchases are distinct days; the first purchase starts the customer's clock, so x counts repeats.
    """
    seen, _ = Days.of(histories).up_to(as_of.toordinal())
    first, last = seen.first, seen.last
    return Summary(seen.ids, (seen.counts - 1).astype(float), (last - first) / DAYS_PER_PERIOD,
                   (as_of.toordinal() - first) / DAYS_PER_PERIOD)
