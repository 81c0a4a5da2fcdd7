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
#: Newton polish: finite-difference step in log-parameters; a step gaining less than _POLISH_GAIN
#: (summed log-likelihood) ends it.
_H = 1e-4
_POLISH_GAIN = 1e-6
_POLISH_STEPS = 10


def compress(summary: Summary, max_customers: int = MAX_FIT_CUSTOMERS,
             seed: int = 20240613) -> tuple[Array, Array, Array, Array]:
    """Unique (x, t_x, T) rows with their counts as weights, from at most ``max_customers`` customers.

    The sample is drawn from the customers sorted by (x, t_x, T), so it depends on the histories
    only, not on the order they came in (PostgreSQL without ORDER BY and SQLite differ).
    """
    x, t_x, T = summary.x, summary.t_x, summary.T
    if len(x) > max_customers:
        order = np.lexsort((T, t_x, x))
        pick = order[np.random.default_rng(seed).choice(len(x), size=max_customers, replace=False)]
        x, t_x, T = x[pick], t_x[pick], T[pick]
    rows, counts = np.unique(np.column_stack([x, t_x, T]), axis=0, return_counts=True)
    return rows[:, 0], rows[:, 1], rows[:, 2], counts.astype(float)


def _newton_polish(f: Callable[[Array], float], theta: Array) -> Array:
    """Newton steps on ``f`` (the negative summed log-likelihood) with finite-difference derivatives.

    L-BFGS-B stops on the flat ridges of these likelihoods (BG/NBD's a and b, Pareto/NBD's s and
    beta) wherever its tolerance is met, so the fit depended on where it started. Newton with the
    local curvature walks along the ridge to the maximum, usually in one step of 15 evaluations
    (four parameters: central gradient and curvature, forward cross terms), and a second to see that
    less than _POLISH_GAIN is left. A step that needed damping (curvature not positive definite,
    or the full step went downhill) is the last one: that is a likelihood with no maximum in reach,
    such as Pareto/NBD's s and beta growing together without end when dropout looks homogeneous,
    where more steps cost seconds and change nothing the scores would show. Coordinates at a bound
    stay there.
    """
    n = len(theta)
    f0 = f(theta)
    for _ in range(_POLISH_STEPS):
        free = np.flatnonzero(np.abs(theta) < LOG_BOUND - 2 * _H)
        if len(free) == 0:
            break
        eye = np.eye(n)[free] * _H
        plus = np.array([f(theta + e) for e in eye])
        minus = np.array([f(theta - e) for e in eye])
        grad = (plus - minus) / (2 * _H)
        hess = np.diag((plus - 2 * f0 + minus) / _H**2)
        for i in range(len(free)):
            for j in range(i + 1, len(free)):
                hess[i, j] = hess[j, i] = (f(theta + eye[i] + eye[j]) - plus[i] - plus[j] + f0) / _H**2
        if not (np.all(np.isfinite(grad)) and np.all(np.isfinite(hess))):
            break
        scale = 1e-3 * float(np.abs(np.diag(hess)).max()) + 1e-12
        damping = 0.0
        again = False
        for _attempt in range(12):
            try:
                chol = np.linalg.cholesky(hess + damping * np.eye(len(free)))
            except np.linalg.LinAlgError:
                damping = max(10 * damping, scale)
                continue
            direction = np.linalg.solve(chol.T, np.linalg.solve(chol, grad))
            if damping == 0.0 and 0.5 * float(grad @ direction) < _POLISH_GAIN:
                break  # the quadratic model says less than that is left
            step = np.zeros(n)
            step[free] = -direction
            candidate = np.clip(theta + step, -LOG_BOUND, LOG_BOUND)
            value = f(candidate)
            if value < f0:
                again = damping == 0.0 and f0 - value > _POLISH_GAIN
                theta, f0 = candidate, value
                break
            damping = max(10 * damping, scale)
        if not again:
            break
    return theta


#: Quick fits keep the parameters named by a model's ``RIDGE`` below e^6 (403): Pareto/NBD's s and
#: beta grow together along a flat ridge when dropout looks alike for everyone, where each
#: evaluation costs 7x more (hypergeometric series near 1) for log-likelihood gains of about 2 in
#: 1,000 customers, which change no ranking.
QUICK_RIDGE_BOUND = 6.0


def fit_mle(loglik: LogLik, summary: Summary, start: Array,
            max_customers: int = MAX_FIT_CUSTOMERS, *, quick: bool = False,
            ridge: tuple[int, ...] = ()) -> tuple[Array, float]:
    """Parameters maximising the summed log-likelihood, and that maximum (over the fitted rows).

    ``quick``: ``start`` is already near the maximum (a neighbouring day's fit): no warm-up sample,
    no Newton polish, and the parameters at positions ``ridge`` kept under ``QUICK_RIDGE_BOUND``;
    for the backtest's many fits, whose rankings do not need the last digits.
    """
    upper = np.full(len(start), LOG_BOUND)
    if quick:
        upper[list(ridge)] = QUICK_RIDGE_BOUND
    return _fit(loglik, summary, start, max_customers, polish=not quick, warm=not quick, upper=upper)


def _fit(loglik: LogLik, summary: Summary, start: Array, max_customers: int,
         polish: bool, warm: bool = True, upper: Array | None = None) -> tuple[Array, float]:
    hi = np.full(len(start), LOG_BOUND) if upper is None else upper
    if len(summary) == 0:
        raise ValueError("no customer with a purchase to fit the model on")
    if warm and min(len(summary), max_customers) > 2 * WARM_START_CUSTOMERS:
        # a small sample finds the neighbourhood cheaply (no polish: the full fit moves anyway)
        start, _ = _fit(loglik, summary, start, WARM_START_CUSTOMERS, polish=False)
    x, t_x, T, w = compress(summary, max_customers)
    total = w.sum()

    def objective(log_params: Array) -> float:
        with np.errstate(all="ignore"):
            ll = loglik(np.exp(log_params), x, t_x, T)
        value = -float(np.dot(w, ll)) / total
        return value if np.isfinite(value) else 1e12

    bounds = [(-LOG_BOUND, float(h)) for h in hi]
    res = optimize.minimize(objective, np.clip(np.log(start), -LOG_BOUND, hi), method="L-BFGS-B",
                            bounds=bounds, options={"maxiter": 1000})
    if not res.success or not np.isfinite(res.fun):  # flat or rugged surface: derivative-free retry
        retry = optimize.minimize(objective, res.x if np.all(np.isfinite(res.x)) else np.log(start),
                                  method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-6,
                                                                 "fatol": 1e-10})
        res = retry if retry.fun < res.fun else res
    theta = np.clip(res.x, -LOG_BOUND, hi)
    if polish:
        theta = _newton_polish(lambda p: objective(p) * total, theta)
    return np.exp(theta), -objective(theta) * total
