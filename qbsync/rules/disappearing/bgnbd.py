"""The BG/NBD model (Fader, Hardie & Lee 2005): log-likelihood, fit, P(alive) and expected purchases."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, gammaln, hyp2f1

from qbsync.rules.disappearing.mle import MAX_FIT_CUSTOMERS, Array, fit_mle
from qbsync.rules.disappearing.summary import Summary


def log_likelihood(params: Array, x: Array, t_x: Array, T: Array) -> Array:
    """Per-customer log-likelihood, in log space throughout (FHL 2005, eq. 6)."""
    r, alpha, a, b = params
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    safe = np.where(repeat, b + x - 1, 1.0)
    a4 = np.where(repeat, np.log(a) - np.log(safe) - (r + x) * np.log(alpha + t_x), -np.inf)
    return np.asarray(a1 + a2 + np.logaddexp(a3, a4), float)


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float = float("nan")

    @property
    def params(self) -> Array:
        return np.array([self.r, self.alpha, self.a, self.b])

    @classmethod
    def fit(cls, summary: Summary, max_customers: int = MAX_FIT_CUSTOMERS,
            start: Array | None = None, quick: bool = False) -> BgNbd:
        """Maximum likelihood; ``quick`` (the backtest's fits): see ``mle.fit_mle``, started from
        ``start`` (a neighbouring day's parameters) when given."""
        params, ll = fit_mle(log_likelihood, summary, np.ones(4) if start is None else start, max_customers,
                             quick=quick)
        return cls(float(params[0]), float(params[1]), float(params[2]), float(params[3]), float(ll))

    def _odds_dead(self, x: Array, t_x: Array, T: Array) -> Array:
        """log of a/(b+x-1) * ((α+T)/(α+t_x))^(r+x) — the odds of having dropped out — or -inf if x = 0."""
        repeat = x > 0
        safe = np.where(repeat, self.b + x - 1, 1.0)
        log_odds = (np.log(self.a) - np.log(safe)
                    + (self.r + x) * (np.log(self.alpha + T) - np.log(self.alpha + t_x)))
        return np.asarray(np.where(repeat, log_odds, -np.inf), float)

    def p_alive(self, s: Summary) -> Array:
        """P(still active | history). It is exactly 1 when x = 0: never rank by it alone."""
        return np.asarray(expit(-self._odds_dead(s.x, s.t_x, s.T)), float)

    def expected_purchases(self, s: Summary, t: float) -> Array:
        """E[purchases in the next ``t`` weeks | history] (FHL 2005, eq. 10)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        x, T = s.x, s.T
        z = t / (alpha + T + t)
        with np.errstate(all="ignore"):
            head = (a + b + x - 1) / (a - 1)
            tail = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
            value = head * tail * expit(-self._odds_dead(x, s.t_x, T))
        return np.asarray(np.nan_to_num(value, nan=0.0, posinf=0.0, neginf=0.0), float)
