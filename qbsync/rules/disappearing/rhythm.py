"""Overdue against its own rhythm: days since the last purchase over the customer's usual gap.

The usual gap is the median gap between its purchase days, shrunk towards the company's typical
gap by one pseudo-gap, so a customer with one purchase (no gap of its own yet) is measured against
the company and a customer with twenty purchases against itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from qbsync.rules.disappearing.mle import Array

PSEUDO_GAPS = 1.0
FALLBACK_GAP_DAYS = 30.0


@dataclass(frozen=True)
class Rhythm:
    ids: tuple[str, ...]
    days_since: Array  # days since the last purchase
    usual_gap: Array  # shrunk usual gap in days
    company_gap: float  # the company's typical gap (median of customers' median gaps)

    @property
    def overdue(self) -> Array:
        """How many usual gaps have passed since the last purchase (1.0 = due today)."""
        return np.asarray(self.days_since / self.usual_gap, float)


def rhythm(histories: Mapping[str, Sequence[date]], as_of: date) -> Rhythm:
    """The rhythm of every customer with a purchase on or before ``as_of``."""
    ids: list[str] = []
    since: list[float] = []
    medians: list[float] = []
    counts: list[int] = []
    for cid, dates in histories.items():
        days = sorted({d.toordinal() for d in dates if d <= as_of})
        if not days:
            continue
        ids.append(cid)
        since.append(float(as_of.toordinal() - days[-1]))
        gaps = np.diff(days)
        counts.append(len(gaps))
        medians.append(float(np.median(gaps)) if len(gaps) else np.nan)
    med = np.asarray(medians, float)
    n = np.asarray(counts, float)
    own = med[~np.isnan(med)]
    company = float(np.median(own)) if len(own) else FALLBACK_GAP_DAYS
    company = max(company, 1.0)
    usual = (np.where(n > 0, np.nan_to_num(med) * n, 0.0) + PSEUDO_GAPS * company) / (n + PSEUDO_GAPS)
    return Rhythm(tuple(ids), np.asarray(since, float), np.maximum(usual, 1.0), company)
