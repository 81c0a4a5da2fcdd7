"""Candidate pairs from several blocking keys, so that no single missing or mistyped field hides a pair.

Every key is applied the same vectorised way: records are sorted by (key, a secondary order) and each
record is paired with the next ``window - 1`` records that share its key. A small block is thus
compared in full, and a big one ("smith") degrades into a sorted neighbourhood inside the block
instead of a quadratic blow-up: block sizes are capped by construction. Plain sorted-neighbourhood
keys pair neighbours whatever their key (an adjacent typo still sorts close).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import jellyfish
import numpy as np

from qbsync.rules.duplicates.records import Prepared


@dataclass(frozen=True)
class BlockingKey:
    """One way of proposing pairs: entries (record index, key) and how far to look in sorted order."""

    name: str
    entries: Callable[[Prepared], Iterable[tuple[int, str]]]
    #: a record is paired with the next ``window - 1`` records in sorted order: a block of up to 20
    #: records sharing a key (one household's email or phone) is compared in full
    window: int = 20
    neighbourhood: bool = False  # True: sorted neighbourhood (pair neighbours even if keys differ)


def _phon(word: str) -> str:
    return jellyfish.metaphone(word) if word else ""


def _each(prep: Prepared, fn: Callable[[int], Iterable[str]]) -> Iterable[tuple[int, str]]:
    for i in range(len(prep)):
        for key in fn(i):
            if key:
                yield i, key


def _email(p: Prepared) -> Iterable[tuple[int, str]]:
    col = p.col("email")
    return _each(p, lambda i: (col[i],))


def _phone(p: Prepared) -> Iterable[tuple[int, str]]:
    # The last 9 digits: the same number written with and without its country code.
    a, b = p.col("phone1"), p.col("phone2")
    return _each(p, lambda i: (a[i][-9:], b[i][-9:]))


def _name_pair(p: Prepared) -> Iterable[tuple[int, str]]:
    # Order-free so that swapped given/family names block together.
    g, f = p.col("given"), p.col("family")
    return _each(p, lambda i: ("|".join(sorted((g[i], f[i]))) if g[i] and f[i] else "",))


def _phonetic_pair(p: Prepared) -> Iterable[tuple[int, str]]:
    g, f = p.col("given"), p.col("family")
    return _each(p, lambda i: ("|".join(sorted((_phon(g[i]), _phon(f[i])))) if g[i] and f[i] else "",))


def _family_initial(p: Prepared) -> Iterable[tuple[int, str]]:
    g, f = p.col("given"), p.col("family")
    return _each(p, lambda i: (f"{f[i]}|{g[i][:1]}" if f[i] else "", f"{g[i]}|{f[i][:1]}" if g[i] else ""))


def _name_tokens_phonetic(p: Prepared) -> Iterable[tuple[int, str]]:
    g, f, c = p.col("given"), p.col("family"), p.col("company")
    return _each(p, lambda i: {_phon(t) for t in f"{g[i]} {f[i]} {c[i]}".split() if len(t) > 1})


def _company(p: Prepared) -> Iterable[tuple[int, str]]:
    c = p.col("company")
    return _each(p, lambda i: (c[i].replace(" ", ""),))


def _postcode_number(p: Prepared) -> Iterable[tuple[int, str]]:
    pc, no = p.col("postcode"), p.col("street_no")
    return _each(p, lambda i: (f"{pc[i]}|{no[i]}" if pc[i] and no[i] else "",))


def _street_number(p: Prepared) -> Iterable[tuple[int, str]]:
    st, no = p.col("street"), p.col("street_no")
    return _each(p, lambda i: (f"{st[i]}|{no[i]}" if st[i] and no[i] else "",))


def _street_postcode(p: Prepared) -> Iterable[tuple[int, str]]:
    st, pc = p.col("street"), p.col("postcode")
    return _each(p, lambda i: (f"{st[i]}|{pc[i]}" if st[i] and pc[i] else "",))


def _postcode_phonetic(p: Prepared) -> Iterable[tuple[int, str]]:
    pc, g, f = p.col("postcode"), p.col("given"), p.col("family")
    return _each(p, lambda i: (f"{pc[i]}|{_phon(g[i])}" if pc[i] and g[i] else "",
                               f"{pc[i]}|{_phon(f[i])}" if pc[i] and f[i] else ""))


def _locality_address_token(p: Prepared) -> Iterable[tuple[int, str]]:
    # Street and second line pooled: a street written on the other line still meets its twin.
    pc, city, st, l2 = p.col("postcode"), p.col("city"), p.col("street"), p.col("line2")
    return _each(p, lambda i: {f"{loc}|{t}" for t in f"{st[i]} {l2[i]}".split() if len(t) > 3
                               for loc in (pc[i], city[i].replace(" ", "")) if loc})


def _sn_name(p: Prepared) -> Iterable[tuple[int, str]]:
    g, f, c = p.col("given"), p.col("family"), p.col("company")
    return _each(p, lambda i: (f"{f[i]} {g[i]} {c[i]}".strip(), f"{g[i]} {f[i]} {c[i]}".strip()))


def _sn_name_reversed(p: Prepared) -> Iterable[tuple[int, str]]:
    # Reversed strings sort by their ends, so a typo in the first letters still lands nearby.
    g, f, c = p.col("given"), p.col("family"), p.col("company")
    return _each(p, lambda i: (f"{f[i]}{g[i]}{c[i]}"[::-1], f"{g[i]}{f[i]}"[::-1]))


def _sn_address(p: Prepared) -> Iterable[tuple[int, str]]:
    st, no, city = p.col("street"), p.col("street_no"), p.col("city")
    return _each(p, lambda i: (f"{st[i]} {no[i]} {city[i]}".strip() if st[i] else "",))


#: The default keys: a narrower window where a key's blocks run large (a family name and initial, a
#: street and postcode) and for the sorted neighbourhoods, which pair neighbours across keys.
DEFAULT_KEYS: tuple[BlockingKey, ...] = (
    BlockingKey("email", _email),
    BlockingKey("phone", _phone),
    BlockingKey("name pair", _name_pair),
    BlockingKey("name phonetics", _phonetic_pair),
    BlockingKey("family + given initial", _family_initial, window=5),
    BlockingKey("name token phonetics", _name_tokens_phonetic, window=3),
    BlockingKey("company", _company),
    BlockingKey("postcode + street number", _postcode_number),
    BlockingKey("street + number", _street_number),
    BlockingKey("street + postcode", _street_postcode, window=10),
    BlockingKey("postcode + name phonetics", _postcode_phonetic, window=10),
    BlockingKey("locality + address word", _locality_address_token, window=6),
    BlockingKey("sorted name", _sn_name, window=4, neighbourhood=True),
    BlockingKey("sorted reversed name", _sn_name_reversed, window=3, neighbourhood=True),
    BlockingKey("sorted address", _sn_address, window=4, neighbourhood=True),
)


def sorted_codes(keys: list[str]) -> np.ndarray:
    """Each key's rank among the distinct keys in string order (Python's sort beats numpy's on str)."""
    rank = {k: r for r, k in enumerate(sorted(set(keys)))}
    return np.fromiter((rank[k] for k in keys), np.int64, len(keys))


def _secondary_order(prep: Prepared) -> np.ndarray:
    """A rank per record by its whole normalised content: inside a big block, neighbours look alike."""
    cols = [prep.col(c) for c in ("family", "given", "company", "street", "city")]
    return sorted_codes([" ".join(vals) for vals in zip(*cols, strict=True)])


def key_pairs(prep: Prepared, key: BlockingKey, secondary: np.ndarray) -> np.ndarray:
    """Pair codes ``i * n + j`` (i < j) proposed by one key."""
    n = len(prep)
    entries = list(key.entries(prep))
    if not entries:
        return np.empty(0, dtype=np.int64)
    rec = np.fromiter((e[0] for e in entries), dtype=np.int64, count=len(entries))
    codes = sorted_codes([e[1] for e in entries])
    order = np.lexsort((secondary[rec], codes))
    rec, codes = rec[order], codes[order]
    found: list[np.ndarray] = []
    for k in range(1, key.window):
        if k >= len(rec):
            break
        a, b = rec[:-k], rec[k:]
        keep = a != b
        if not key.neighbourhood:
            keep &= codes[:-k] == codes[k:]
        if keep.any():
            lo, hi = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
            found.append(lo * n + hi)
    return np.unique(np.concatenate(found)) if found else np.empty(0, dtype=np.int64)


@dataclass
class Candidates:
    """The candidate pairs (left index < right index) and how many each key proposed."""

    left: np.ndarray
    right: np.ndarray
    per_key: dict[str, int]

    def __len__(self) -> int:
        return len(self.left)


def candidate_pairs(prep: Prepared, keys: Iterable[BlockingKey] = DEFAULT_KEYS) -> Candidates:
    """The union of every key's pairs."""
    n = len(prep)
    secondary = _secondary_order(prep)
    parts: list[np.ndarray] = []
    per_key: dict[str, int] = {}
    for key in keys:
        codes = key_pairs(prep, key, secondary)
        per_key[key.name] = len(codes)
        parts.append(codes)
    union = np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)
    return Candidates(left=union // max(n, 1), right=union % max(n, 1), per_key=per_key)
