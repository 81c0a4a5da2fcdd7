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
Floats = NDArray[np.float64]


@dataclass(frozen=True)
class Days:
    """Every customer's distinct purchase days as one array, so the per-customer figures of 100,000
    customers are a few array operations instead of a Python loop each.

    ``days`` holds day ordinals sorted by (customer, day) without repeats; ``owner`` the position
    in ``ids`` of each day's customer. Every customer in ``ids`` has at least one day. ``spend``,
    when the source knows amounts (a purchase log), is what each of those days' purchases came to.
    """

    ids: tuple[str, ...]
    owner: Ints
    days: Ints
    spend: Floats | None = None

    @classmethod
    def of(cls, histories: Mapping[str, Sequence[date]] | Days,
           spend: Mapping[str, Sequence[float]] | None = None) -> Days:
        """The histories in this form (in their order; customers without a day left out).

        ``spend``, when given, holds each customer's amounts aligned with its dates (a day listed
        twice adds up).
        """
        if isinstance(histories, Days):
            return histories
        names = tuple(histories)
        lengths = np.fromiter(map(len, histories.values()), np.int64, count=len(names))
        days = np.fromiter(map(date.toordinal, chain.from_iterable(histories.values())), np.int64,
                           count=int(lengths.sum()))
        owner = np.repeat(np.arange(len(names), dtype=np.int64), lengths)
        amounts = None
        if spend is not None:
            amounts = np.fromiter(chain.from_iterable(spend.get(c, ()) for c in names), np.float64)
            if len(amounts) != len(days):
                raise ValueError("spend must list one amount per purchase date")
        step_owner, step_day = np.diff(owner), np.diff(days)
        if np.any(step_day[step_owner == 0] <= 0):  # not already ascending and distinct per customer
            order = np.lexsort((days, owner))
            owner, days = owner[order], days[order]
            fresh = np.ones(len(days), bool)
            fresh[1:] = (owner[1:] != owner[:-1]) | (days[1:] != days[:-1])
            if amounts is not None:
                amounts = np.asarray(np.bincount(np.cumsum(fresh) - 1, amounts[order]), np.float64)
            owner, days = owner[fresh], days[fresh]
        return cls._kept(names, owner, days, amounts)[0]

    @classmethod
    def _kept(cls, names: tuple[str, ...], owner: Ints, days: Ints,
              spend: Floats | None = None) -> tuple[Days, Ints]:
        """Drop the customers that own no day; also the kept customers' positions in ``names``."""
        present = np.flatnonzero(np.bincount(owner, minlength=len(names)))
        if len(present) == len(names):
            return cls(names, owner, days, spend), present
        remap = np.zeros(len(names), np.int64)
        remap[present] = np.arange(len(present))
        return cls(tuple(names[i] for i in present.tolist()), remap[owner], days, spend), present

    def _where(self, keep: NDArray[np.bool_]) -> tuple[Days, Ints]:
        spend = None if self.spend is None else self.spend[keep]
        return self._kept(self.ids, self.owner[keep], self.days[keep], spend)

    def up_to(self, last_day: int) -> tuple[Days, Ints]:
        """The days on or before ``last_day`` (an ordinal), and the kept customers' positions."""
        return self._where(self.days <= last_day)

    def select(self, mask: NDArray[np.bool_]) -> Days:
        """The customers where ``mask`` (aligned on ``ids``) is true."""
        return self._where(mask[self.owner])[0]

    def take(self, positions: Ints) -> Days:
        """The customers at ``positions`` (ascending), as ``select`` with a mask."""
        mask = np.zeros(len(self.ids), bool)
        mask[positions] = True
        return self.select(mask)

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
