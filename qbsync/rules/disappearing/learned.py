"""The learned ranker: a logistic regression (scikit-learn) on the features, trained on earlier periods.

Trained only on days whose "what happened next" window ends on or before the day it is used for,
so it never learns from the future it is judged on. Logistic regression because it is the
learner that held up across the public logs (a gradient-boosted model over-fitted one split: see
docs/rules.md), and because its contributions explain each customer exactly: a customer's reason
is a feature's weight times how far the customer sits from the typical customer on it.
scikit-learn is imported on first use, so the command line starts without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qbsync.rules.disappearing.features import Features
from qbsync.rules.disappearing.mle import Array

#: Inverse regularisation strength on standardised features: a prior of about ±0.1 per standard
#: deviation on each weight, which a large company's rows outweigh and a small one's (a few hundred
#: customers) do not (C = 1 let a small company's model chase noise: docs/rules.md).
C = 0.01
MIN_CLASS = 10  # fewer customers than this on either side: nothing to learn
#: A feature that hardly varied on the training days is left out: its weight would be noise, and
#: scaled by a tiny spread it explodes on a day where it does vary (Pareto/NBD's P(alive) is 1 for
#: everyone before anyone has been seen to drop out).
MIN_SPREAD = 1e-3
Z_LIMIT = 5.0  # standardised values are clipped here, so one odd customer cannot dominate a score


@dataclass(frozen=True)
class LearnedRanker:
    names: tuple[str, ...]  # every feature offered
    used: tuple[int, ...]  # the positions of those the model uses
    mean: Array
    scale: Array
    model: Any  # sklearn LogisticRegression on the standardised used features
    rows: int  # training rows
    base_rate: float  # share of training rows that did not buy again

    @classmethod
    def train(cls, X: Array, gone: NDArray[np.bool_], names: tuple[str, ...],
              seed: int = 0) -> LearnedRanker | None:
        """Fit on ``X`` (rows: a customer on a training day) and ``gone`` (bought nothing next);
        None when either side has fewer than ``MIN_CLASS`` rows. Deterministic: lbfgs on the same
        rows gives the same weights, and ``seed`` only names the run."""
        n_gone = int(gone.sum())
        if n_gone < MIN_CLASS or len(gone) - n_gone < MIN_CLASS:
            return None
        from sklearn.linear_model import LogisticRegression

        spread = X.std(axis=0)
        used = tuple(int(j) for j in np.flatnonzero(spread > MIN_SPREAD))
        if not used:
            return None
        mean, scale = X[:, used].mean(axis=0), spread[list(used)]
        model = LogisticRegression(C=C, max_iter=2000, random_state=seed)
        model.fit(_z(X[:, used], mean, scale), gone.astype(int))
        return cls(names, used, mean, scale, model, len(gone), n_gone / len(gone))

    def chance_of_loss(self, X: Array) -> Array:
        """P(no purchase over the horizon) for each row."""
        if len(X) == 0:
            return np.zeros(0)
        return np.asarray(self.model.predict_proba(self._z(X))[:, 1], float)

    def log_odds(self, X: Array) -> Array:
        """log(P(gone) / P(not)) for each row: the chance of loss without rounding at the ends."""
        if len(X) == 0:
            return np.zeros(0)
        return np.asarray(self.model.decision_function(self._z(X)), float)

    def _z(self, X: Array) -> Array:
        return _z(X[:, list(self.used)], self.mean, self.scale)

    @property
    def _coef(self) -> Array:
        """Weights per standard deviation of each used feature."""
        return np.asarray(self.model.coef_[0], float)

    @property
    def weights(self) -> dict[str, float]:
        """Each used feature's weight per standard deviation (positive: pushes towards 'gone')."""
        return {self.names[j]: float(w) for j, w in zip(self.used, self._coef, strict=True)}

    def contributions(self, X: Array) -> Array:
        """Each feature's share of each row's log-odds of being gone, against the average customer
        (0 for the features left out)."""
        out = np.zeros(X.shape)
        out[:, list(self.used)] = _z(X[:, list(self.used)], self.mean, self.scale) * self._coef
        return out

    def reasons(self, features: Features, i: int, k: int = 2,
                threshold: float = 0.15) -> list[dict[str, Any]]:
        """The ``k`` features pushing customer ``i`` hardest towards 'gone', in words and weight."""
        contrib = self.contributions(features.X[i:i + 1])[0]
        order = np.argsort(-contrib, kind="stable")
        out = []
        for j in order[:k]:
            if contrib[j] < threshold:
                break
            name = self.names[j]
            out.append({"feature": name, "words": features.words(name, i),
                        "weight": round(float(contrib[j]), 3)})
        return out

    def describe(self) -> dict[str, Any]:
        return {"model": "logistic regression (scikit-learn)", "C": C, "training_rows": self.rows,
                "base_rate_gone": round(self.base_rate, 4),
                "weights": {k: round(v, 4) for k, v in self.weights.items()}}


def _z(X: Array, mean: Array, scale: Array) -> Array:
    return np.clip((X - mean) / scale, -Z_LIMIT, Z_LIMIT)
