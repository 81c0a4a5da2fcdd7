"""The Pareto/NBD model (Schmittlein, Morrison & Colombo 1987) in Fader & Hardie's formulation.

The likelihood's A0 term is a difference of two Gauss hypergeometric functions that overflows for
frequent buyers; it is computed in log space after Euler's transformation,
2F1(a, b; a+1; z) = (1-z)^(1-b) 2F1(1, a+1-b; a+1; z), whose series has positive terms bounded by
1/(1-z), so nothing overflows however many purchases a customer made.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, gammaln, hyp2f1

from qbsync.rules.disappearing.mle import MAX_FIT_CUSTOMERS, Array, fit_mle
from qbsync.rules.disappearing.summary import Summary


def _log_f(params: Array, x: Array, y: Array) -> Array:
    """log of 2F1(r+s+x, b1; r+s+x+1; z(y)) / (max(α,β)+y)^(r+s+x), the two halves of A0."""
    r, alpha, s, beta = params
    rsx = r + s + x
    if alpha >= beta:
        hi, lo, b1 = alpha, beta, s + 1
    else:
        hi, lo, b1 = beta, alpha, r + x
    log_one_minus_z = np.log(lo + y) - np.log(hi + y)
    z = (hi - lo) / (hi + y)
    return np.asarray((1 - b1) * log_one_minus_z + np.log(hyp2f1(1.0, rsx + 1 - b1, rsx + 1, z))
                      - rsx * np.log(hi + y), float)


def log_a0(params: Array, x: Array, t_x: Array, T: Array) -> Array:
    """log A0 = log(F(t_x) - F(T)); -inf when the last purchase is at the end of the window."""
    f_tx = _log_f(params, x, t_x)
    f_T = _log_f(params, x, T)
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = -np.expm1(f_T - f_tx)
        out = f_tx + np.log(np.clip(diff, 0.0, None))
    return np.asarray(np.where(t_x < T, out, -np.inf), float)


def log_likelihood(params: Array, x: Array, t_x: Array, T: Array) -> Array:
    """Per-customer log-likelihood (Fader & Hardie 2005, "A note on deriving the Pareto/NBD model")."""
    r, alpha, s, beta = params
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    died = np.log(s) - np.log(r + s + x) + log_a0(params, x, t_x, T)
    return np.asarray(head + np.logaddexp(alive, died), float)


@dataclass(frozen=True)
class ParetoNbd:
    r: float
    alpha: float
    s: float
    beta: float
    log_likelihood: float = float("nan")

    @property
    def params(self) -> Array:
        return np.array([self.r, self.alpha, self.s, self.beta])

    @classmethod
    def fit(cls, summary: Summary, max_customers: int = MAX_FIT_CUSTOMERS,
            start: Array | None = None, quick: bool = False) -> ParetoNbd:
        """Maximum likelihood; ``quick`` (the backtest's fits): see ``mle.fit_mle``, started from
        ``start`` (a neighbouring day's parameters) when given."""
        params, ll = fit_mle(log_likelihood, summary, np.ones(4) if start is None else start, max_customers,
                             quick=quick, ridge=(2, 3))
        return cls(float(params[0]), float(params[1]), float(params[2]), float(params[3]), float(ll))

    def p_alive(self, sm: Summary) -> Array:
        """P(still active | x, t_x, T) = 1 / (1 + s/(r+s+x) (α+T)^(r+x) (β+T)^s A0), in log space."""
        r, alpha, s, beta = self.params
        x, T = sm.x, sm.T
        with np.errstate(divide="ignore"):
            log_odds = (np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + T)
                        + s * np.log(beta + T) + log_a0(self.params, x, sm.t_x, T))
        return np.asarray(expit(-log_odds), float)

    def expected_purchases(self, sm: Summary, t: float, p_alive: Array | None = None) -> Array:
        """E[purchases in the next ``t`` weeks | history]; ``p_alive``: ``self.p_alive(sm)`` when known."""
        r, alpha, s, beta = self.params
        x, T = sm.x, sm.T
        span = np.log1p(t / (beta + T))
        # (1 - ((β+T)/(β+T+t))^(s-1)) / (s-1), with its limit at s = 1
        factor = span if abs(s - 1) < 1e-9 else -np.expm1(-(s - 1) * span) / (s - 1)
        alive = self.p_alive(sm) if p_alive is None else p_alive
        return np.asarray((r + x) * (beta + T) / (alpha + T) * factor * alive, float)
