"""Derived random streams: one independent, reproducible ``random.Random`` per (seed, purpose, key)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

_PURPOSES = {
    "pools": 1,
    "plan": 2,
    "identity": 3,
    "history": 4,
    "dup": 5,
    "company": 6,
    "advance": 7,
    "jobs": 8,
    "status": 9,
    "edits": 10,
}


def sub_rng(seed: int, purpose: str, key: int = 0) -> random.Random:
    # Integer seeding is stable across Python versions and processes (no hash randomisation), so
    # one customer's data never depends on how many others were generated before it.
    mixed = ((seed & 0xFFFFFFFF) * 1_000_003 + _PURPOSES[purpose]) * 2_147_483_659 + key
    return random.Random(mixed)


def weighted(rng: random.Random, weights: dict[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def pick(rng: random.Random, seq: Sequence[T]) -> T:
    return seq[int(rng.random() * len(seq))]
