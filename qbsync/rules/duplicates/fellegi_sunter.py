"""Unsupervised Fellegi-Sunter: m and the match count by EM over candidate pairs, weighed like splink.

* EM runs over the candidate pairs' distinct comparison patterns and estimates, for each comparison
  level, m = P(level | same customer) and u = P(level | different customers) among candidates, and
  lambda, the share of matches among candidates (fields independent given match status; missing
  values skipped; a Dirichlet prior on m worth ``PRIOR_MATCHES`` matches, so no level becomes
  impossible and a short list still has sensible m).
  u is free in EM because blocking selects pairs that already agree on something: held at its
  random-pair value, EM called every candidate a match on a 100,000-customer list.
* Pairs are then weighed as splink does (``reference="random"``): against u of *random* pairs,
  measured on 200,000 random pairs (less the matches EM expects among them) and, for exact levels of
  high-cardinality fields (email, company, street), counted exactly from value frequencies; and
  against the prior that two random records match, lambda x candidates / all pairs. Blocking only
  decides which pairs are looked at; the evidence is weighed against the whole customer list, where
  the independence assumption holds far better than among blocked candidates.
* An exact match is term-frequency adjusted: its weight moves by log2(u_exact / tf(value)), so
  "Smith = Smith" says less than "Sondergeld = Sondergeld".
* Match weight = log2(prior odds) + sum of log2(m/u) in bits; P(match) = 1 / (1 + 2^-weight). A pair
  is a duplicate at P >= 0.5 by default: the Bayes decision when a missed and a false duplicate cost
  the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qbsync.rules.duplicates.blocking import Candidates
from qbsync.rules.duplicates.compare import NULL, Compared, Comparison, compare
from qbsync.rules.duplicates.records import Prepared

_FLOOR = 1e-6


@dataclass
class Model:
    """Learned probabilities per comparison level, and how the fit went."""

    comparisons: tuple[Comparison, ...]
    m: list[np.ndarray]
    u: list[np.ndarray]  # among candidate pairs
    u_random: list[np.ndarray]  # among random pairs: the baseline of term-frequency adjustments
    prior: float  # P(two records are the same customer) before looking at them (see ``reference``)
    match_rate: float  # lambda: share of matches among the candidate pairs
    #: What a pair is weighed against: "random" = u of random pairs and the prior over all pairs
    #: (splink's way); "candidates" = u among candidates and lambda as the prior.
    reference: str = "random"
    iterations: int = 0
    converged: bool = False
    history: list[float] = field(default_factory=list)  # largest parameter change per iteration

    def level_weights(self) -> list[np.ndarray]:
        """log2(m/u) of every level of every comparison, in bits."""
        return [np.log2(np.clip(m, _FLOOR, 1) / np.clip(u, _FLOOR, 1))
                for m, u in zip(self.m, self.reference_u, strict=True)]

    @property
    def reference_u(self) -> list[np.ndarray]:
        return self.u_random if self.reference == "random" else self.u

    def prior_bits(self) -> float:
        return float(np.log2(self.prior / (1 - self.prior)))

    def describe(self) -> list[dict[str, object]]:
        """The fitted table, one row per level: what a user reads to trust (or doubt) the weights."""
        rows: list[dict[str, object]] = []
        for comp, m, u, w in zip(self.comparisons, self.m, self.reference_u, self.level_weights(),
                                 strict=True):
            for k, label in enumerate(comp.levels):
                rows.append({"comparison": comp.name, "level": label, "m": float(m[k]), "u": float(u[k]),
                             "bits": round(float(w[k]), 2)})
        return rows


def _level_counts(gamma: np.ndarray, comps: tuple[Comparison, ...], weights: np.ndarray) -> list[np.ndarray]:
    out = []
    for f, comp in enumerate(comps):
        col = gamma[:, f]
        known = col != NULL
        out.append(np.bincount(col[known].astype(np.int64), weights=weights[known],
                               minlength=len(comp.levels)).astype(np.float64))
    return out


def _normalise(counts: list[np.ndarray], pseudo: float) -> list[np.ndarray]:
    out = []
    for c in counts:
        c = c + pseudo
        out.append(c / c.sum())
    return out


def estimate_u(prep: Prepared, samples: int = 200_000, seed: int = 0) -> list[np.ndarray]:
    """u probabilities from random record pairs (seeded: the same data gives the same model)."""
    n = len(prep)
    comps = compare(prep, Candidates(np.empty(0, np.int64), np.empty(0, np.int64), {})).comparisons
    if n < 2:
        return [np.full(len(c.levels), 1 / len(c.levels)) for c in comps]
    rng = np.random.default_rng(seed)
    total = n * (n - 1) // 2
    if total <= samples:
        left, right = np.triu_indices(n, k=1)
    else:
        left, right = rng.integers(0, n, samples), rng.integers(0, n, samples)
        keep = left != right
        left, right = np.minimum(left[keep], right[keep]), np.maximum(left[keep], right[keep])
    compared = compare(prep, Candidates(left.astype(np.int64), right.astype(np.int64), {}))
    # Half a pair per level: an agreement never seen at random is rare, not impossible.
    return _normalise(_level_counts(compared.gamma, comps, np.ones(len(left))), 0.5)


#: Comparisons whose levels are not ordered from "different" to "exact": no prior belief about m.
_UNORDERED = frozenset({"contact details", "activity", "kind"})

#: How many matches the prior on m is worth: it decides a short list (a few dozen candidate pairs,
#: where EM alone has nothing to learn from) and fades once there are hundreds of matches.
PRIOR_MATCHES = 10.0


def _initial_m(comps: tuple[Comparison, ...], u: list[np.ndarray] | None = None) -> list[np.ndarray]:
    """The prior mean of m: matches mostly agree exactly, some nearly, few disagree."""
    out = []
    for f, comp in enumerate(comps):
        k = len(comp.levels)
        if comp.name in _UNORDERED:
            m = u[f].copy() if u is not None else np.full(k, 1 / k)
        else:
            m = np.full(k, 0.07 / max(k - 2, 1))
            m[-1] = 0.85
            if k > 2:
                m[-2] = 0.08
        out.append(m / m.sum())
    return out


def fit(compared: Compared, u_random: list[np.ndarray], n_records: int, max_iter: int = 500,
        tol: float = 1e-6, initial_match_rate: float = 0.01, reference: str = "random",
        exact_pairs: dict[str, tuple[float, float]] | None = None) -> Model:
    """EM for m, u and the match rate over the candidate pairs' patterns.

    u starts from the random-pair estimate and is then re-estimated on the candidates: blocking
    selects pairs that already agree on something, so candidate non-matches agree far more often
    than random ones, and weighing them against random pairs would call every neighbour a match.
    """
    comps = compared.comparisons
    gamma = compared.gamma
    if len(gamma) == 0:
        return Model(comps, _initial_m(comps), u_random, u_random, prior=_FLOOR, match_rate=0.0,
                     converged=True)
    # EM only needs each distinct pattern once, with its count: thousands instead of millions of rows.
    patterns, counts = np.unique(gamma, axis=0, return_counts=True)
    counts = counts.astype(np.float64)
    m, u = _initial_m(comps, u_random), [x.copy() for x in u_random]
    prior_m = [PRIOR_MATCHES * x for x in m]
    lam = initial_match_rate
    model = Model(comps, m, u, u_random, prior=_FLOOR, match_rate=lam)
    post = np.zeros(len(patterns))
    for it in range(1, max_iter + 1):
        log_ratio = np.zeros(len(patterns))
        for f in range(len(comps)):
            col = patterns[:, f]
            known = col != NULL
            lm, lu = np.log(np.clip(m[f], _FLOOR, 1)), np.log(np.clip(u[f], _FLOOR, 1))
            log_ratio[known] += lm[col[known]] - lu[col[known]]
        logit = np.log(lam / (1 - lam)) + log_ratio
        post = 1.0 / (1.0 + np.exp(-np.clip(logit, -700, 700)))
        # A Dirichlet prior worth PRIOR_MATCHES matches (MAP estimate): a level never seen among a
        # few hundred matches is not impossible, and a list too short to learn from still has m.
        new_m = [c + a for c, a in zip(_level_counts(patterns, comps, counts * post), prior_m, strict=True)]
        new_m = [c / c.sum() for c in new_m]
        new_u = _normalise(_level_counts(patterns, comps, counts * (1 - post)), 1e-9)
        new_lam = float(np.clip((counts * post).sum() / counts.sum(), _FLOOR, 1 - _FLOOR))
        change = max([abs(new_lam - lam)]
                     + [float(np.max(np.abs(a - b))) for a, b in zip(new_m, m, strict=True)]
                     + [float(np.max(np.abs(a - b))) for a, b in zip(new_u, u, strict=True)])
        m, u, lam = new_m, new_u, new_lam
        model.history.append(change)
        model.iterations = it
        if change < tol:
            model.converged = True
            break
    model.m, model.u, model.match_rate = m, u, lam
    model.reference = reference
    if reference == "random":
        total_pairs = max(n_records * (n_records - 1) // 2, 1)
        prior = float(np.clip(lam * len(gamma) / total_pairs, _FLOOR * _FLOOR, 1 - _FLOOR))
        model.prior = prior
        # The random sample holds a few true matches too (on a small list, enough to halve the
        # weight of an exact email): take their expected share out.
        model.u_random = [np.clip((ur - prior * mf) / (1 - prior), 0.1 * ur, 1.0)
                          for ur, mf in zip(u_random, m, strict=True)]
        for name, (sharing, both) in (exact_pairs or {}).items():
            found = [k for k, c in enumerate(comps) if c.name == name]
            if not found or both < 1:
                continue
            f = found[0]
            # Pairs sharing the value, less the matches EM expects among them: the non-matches.
            expected = float((counts * post)[patterns[:, f] == len(comps[f].levels) - 1].sum())
            u_exact = max(sharing - expected, 0.5) / both
            ur = model.u_random[f].copy()
            rest = ur[:-1].sum()
            ur[:-1] = ur[:-1] / rest * (1 - u_exact) if rest > 0 else (1 - u_exact) / (len(ur) - 1)
            ur[-1] = u_exact
            model.u_random[f] = ur
    else:
        model.prior = lam
    return model


@dataclass
class Scores:
    """Per-pair evidence: bits per comparison, total match weight and posterior probability."""

    bits: np.ndarray  # (pairs, comparisons); 0 where a value is missing
    weight: np.ndarray  # prior bits + sum of bits
    probability: np.ndarray


def score(model: Model, compared: Compared, n_records: int) -> Scores:
    """Match weights with term-frequency adjusted exact matches."""
    gamma = compared.gamma
    bits = np.zeros(gamma.shape, dtype=np.float64)
    tf_floor = 1.0 / max(n_records, 1)
    for f, (comp, w) in enumerate(zip(model.comparisons, model.level_weights(), strict=True)):
        col = gamma[:, f]
        known = col != NULL
        bits[known, f] = w[col[known]]
        if comp.tf_column is not None:
            tf = compared.tf[:, f]
            has_tf = ~np.isnan(tf)
            # splink's adjustment: an exact match on value x is worth u_exact / tf(x) times the
            # average exact match, u_exact taken over random pairs where tf is measured too.
            u_exact = max(float(model.u_random[f][-1]), _FLOOR)
            bits[has_tf, f] += np.log2(u_exact / np.maximum(tf[has_tf], tf_floor))
    weight = model.prior_bits() + bits.sum(axis=1)
    probability = 1.0 / (1.0 + np.exp2(-np.clip(weight, -1000, 1000)))
    return Scores(bits=bits, weight=weight, probability=probability)
