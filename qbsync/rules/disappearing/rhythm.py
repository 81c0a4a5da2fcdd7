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
from qbsync.rules.disappearing.summary import Days

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


def rhythm(histories: Mapping[str, Sequence[date]] | Days, as_of: date) -> Rhythm:
    """The rhythm of every customer with a purchase on or before ``as_of``."""
    seen, _ = Days.of(histories).up_to(as_of.toordinal())
    since = (as_of.toordinal() - seen.last).astype(float)
    med, n = median_gaps(seen)
    own = med[~np.isnan(med)]
    company = float(np.median(own)) if len(own) else FALLBACK_GAP_DAYS
    company = max(company, 1.0)
    usual = (np.where(n > 0, np.nan_to_num(med) * n, 0.0) + PSEUDO_GAPS * company) / (n + PSEUDO_GAPS)
    return Rhythm(seen.ids, since, np.maximum(usual, 1.0), company)


def median_gaps(days: Days) -> tuple[Array, Array]:
    """Each customer's median days between purchases (NaN with a single purchase), and how many gaps
    that median is of (as floats)."""
    # gaps between consecutive days of the same customer, sorted by customer then length
    same = days.owner[1:] == days.owner[:-1]
    gap_owner = days.owner[1:][same]
    gaps = np.diff(days.days)[same]
    gaps = gaps[np.lexsort((gaps, gap_owner))]
    counts = np.bincount(gap_owner, minlength=len(days))
    start = np.cumsum(counts) - counts
    med = np.full(len(days), np.nan)
    has = counts > 0
    # the mean of the two middle gaps (the same one twice when the count is odd), as np.median gives
    lo, hi = (start + (counts - 1) // 2)[has], (start + counts // 2)[has]
    med[has] = (gaps[lo] + gaps[hi]) / 2.0
    return med, counts.astype(float)
