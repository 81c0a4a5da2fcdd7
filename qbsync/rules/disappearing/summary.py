"""Purchase histories as the models see them: repeat count, recency and age, in weeks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from numpy.typing import NDArray

DAYS_PER_PERIOD = 7.0  # the models work in weeks, as Fader & Hardie did


@dataclass(frozen=True)
class Summary:
    """Arrays aligned on ``ids``: x repeat purchases, t_x time of the last purchase and T age, in weeks."""

    ids: tuple[str, ...]
    x: NDArray[np.float64]
    t_x: NDArray[np.float64]
    T: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.ids)


def summarize(histories: Mapping[str, Sequence[date]], as_of: date) -> Summary:
    """Summaries of customers with at least one purchase on or before ``as_of`` (later ones ignored).

    Purchases are distinct days; the first purchase starts the customer's clock, so x counts repeats.
    """
    ids: list[str] = []
    x: list[float] = []
    t_x: list[float] = []
    age: list[float] = []
    for cid, dates in histories.items():
        seen = [d for d in dates if d <= as_of]
        if not seen:
            continue
        first, last = min(seen), max(seen)
        ids.append(cid)
        x.append(len(set(seen)) - 1)
        t_x.append((last - first).days / DAYS_PER_PERIOD)
        age.append((as_of - first).days / DAYS_PER_PERIOD)
    return Summary(tuple(ids), np.asarray(x, float), np.asarray(t_x, float), np.asarray(age, float))
