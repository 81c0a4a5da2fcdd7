"""Grouping matched pairs into clusters: union-find over the strongest links first, with a chaining guard.

Plain connected components chain: A~B and B~C put A and C together even when A and C are plainly
different people (a shared family address, a common name). Links are therefore merged strongest
first, and two groups join only if (a) the result stays within ``max_size`` and (b) no pair across
them that was compared is a confident non-match (posterior below ``veto``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.members: dict[int, list[int]] = {}

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def group(self, root: int) -> list[int]:
        return self.members.get(root, [root])

    def union(self, a: int, b: int) -> None:
        ga, gb = self.group(a), self.group(b)
        if len(ga) < len(gb):
            a, b, ga, gb = b, a, gb, ga
        self.parent[b] = a
        self.members[a] = ga + gb
        self.members.pop(b, None)


def clusters(n: int, left: np.ndarray, right: np.ndarray, probability: np.ndarray, threshold: float = 0.5,
             veto: float = 0.01, max_size: int = 20) -> list[list[int]]:
    """Groups of record indices (two or more each) joined by pairs with probability >= ``threshold``."""
    strong = np.nonzero(probability >= threshold)[0]
    # Only confident non-matches between records that have some strong link can veto a merge.
    linked = np.zeros(n, dtype=bool)
    linked[left[strong]] = True
    linked[right[strong]] = True
    vetoes = np.nonzero(linked[left] & linked[right] & (probability < veto))[0]
    scored: Mapping[tuple[int, int], float] = {
        (int(left[k]), int(right[k])): float(probability[k]) for k in vetoes}
    uf = _UnionFind(n)
    for k in strong[np.argsort(-probability[strong], kind="stable")]:
        ra, rb = uf.find(int(left[k])), uf.find(int(right[k]))
        if ra == rb:
            continue
        ga, gb = uf.group(ra), uf.group(rb)
        if len(ga) + len(gb) > max_size:
            continue
        vetoed = any(scored.get((min(x, y), max(x, y)), 1.0) < veto for x in ga for y in gb)
        if not vetoed:
            uf.union(ra, rb)
    out = [sorted(g) for g in uf.members.values() if len(g) > 1]
    return sorted(out, key=lambda g: g[0])
