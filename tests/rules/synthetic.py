"""Purchase histories drawn from a known buy-till-you-die process, so who churned (and when) is known."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np


def histories(n: int, start: date, days: int, seed: int = 7) -> tuple[dict[str, list[date]], dict[str, date]]:
    """``n`` customers acquired uniformly over the first half of ``days``; Poisson purchases at a
    gamma-distributed rate until an exponential lifetime ends. Returns histories and churn dates."""
    rng = np.random.default_rng(seed)
    rates = rng.gamma(shape=2.0, scale=1 / 40.0, size=n)  # purchases per day: one every ~20 days
    lifetimes = rng.exponential(scale=rng.gamma(shape=2.0, scale=200.0, size=n))  # days
    out: dict[str, list[date]] = {}
    churn: dict[str, date] = {}
    for i in range(n):
        born = int(rng.integers(0, days // 2))
        death = born + lifetimes[i]
        t = float(born)
        when = {born}
        while True:
            t += rng.exponential(1 / rates[i])
            if t >= min(death, days):
                break
            when.add(int(t))
        cid = str(i + 1)
        out[cid] = [start + timedelta(days=d) for d in sorted(when)]
        if death < days:
            churn[cid] = start + timedelta(days=int(death))
    return out, churn
