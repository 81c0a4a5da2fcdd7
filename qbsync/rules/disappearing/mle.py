"""Maximum-likelihood fitting shared by the BG/NBD and Pareto/NBD models (positive parameters, log scale)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy import optimize

from qbsync.rules.disappearing.summary import Summary

Array = NDArray[np.float64]
LogLik = Callable[[Array, Array, Array, Array], Array]  # (params, x, t_x, T) -> per-customer LL

#: Above this many customers a fixed-seed sample is fitted: the four population parameters are
#: pinned down long before that, and every customer is still scored with them.
MAX_FIT_CUSTOMERS = 5_000
WARM_START_CUSTOMERS = 1_000
#: Parameters live in [e^-8, e^8]. Beyond it the likelihood is flat (e.g. Pareto/NBD's s and beta
#: growing together once dropout looks homogeneous) and the hypergeometric series crawl; fits that
#: touch the bound describe the same customers equally well.
LOG_BOUND = 8.0


def compress(summary: Summary, max_customers: int = MAX_FIT_CUSTOMERS,
             seed: int = 20240613) -> tuple[Array, Array, Array, Array]:
    """Unique (x, t_x, T) rows with their counts as weights, from at most ``max_customers`` customers."""
    x, t_x, T = summary.x, summary.t_x, summary.T
    if len(x) > max_customers:
        pick = np.random.default_rng(seed).choice(len(x), size=max_customers, replace=False)
        x, t_x, T = x[pick], t_x[pick], T[pick]
    rows, counts = np.unique(np.column_stack([x, t_x, T]), axis=0, return_counts=True)
    return rows[:, 0], rows[:, 1], rows[:, 2], counts.astype(float)


def fit_mle(loglik: LogLik, summary: Summary, start: Array,
            max_customers: int = MAX_FIT_CUSTOMERS) -> tuple[Array, float]:
    """Parameters maximising the summed log-likelihood, and that maximum (over the fitted rows)."""
    if len(summary) == 0:
        raise ValueError("no customer with a purchase to fit the model on")
    if min(len(summary), max_customers) > 2 * WARM_START_CUSTOMERS:
        # a small sample finds the neighbourhood cheaply; the full fit then needs few steps
        start, _ = fit_mle(loglik, summary, start, WARM_START_CUSTOMERS)
    x, t_x, T, w = compress(summary, max_customers)
    total = w.sum()

    def objective(log_params: Array) -> float:
        with np.errstate(all="ignore"):
            ll = loglik(np.exp(log_params), x, t_x, T)
        value = -float(np.dot(w, ll)) / total
        return value if np.isfinite(value) else 1e12

    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(start)
    res = optimize.minimize(objective, np.clip(np.log(start), -LOG_BOUND, LOG_BOUND), method="L-BFGS-B",
                            bounds=bounds, options={"maxiter": 1000})
    if not res.success or not np.isfinite(res.fun):  # flat or rugged surface: derivative-free retry
        retry = optimize.minimize(objective, res.x if np.all(np.isfinite(res.x)) else np.log(start),
                                  method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-6,
                                                                 "fatol": 1e-10})
        res = retry if retry.fun < res.fun else res
    best = res
    params = np.exp(best.x)
    return params, -float(best.fun) * total
