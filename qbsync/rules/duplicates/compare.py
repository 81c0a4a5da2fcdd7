"""Field comparisons of candidate pairs: each field's agreement as a discrete level, like splink's.

A comparison turns a pair's two values into a level index, 0 = "different" up to the last level =
"exact"; ``NULL`` (-1) when either value is missing, which then weighs nothing either way. String
similarity is rapidfuzz's Jaro-Winkler, computed once per distinct pair of values (blocked pairs
repeat the same postcodes and streets a lot), in rapidfuzz's own threads. Names and company names
also have a "one typo" level (one insertion, deletion, substitution or two letters swapped: the
optimal string alignment distance is 1), which Jaro-Winkler blurs: "ford"/"furd" is only 0.85,
"forster"/"frrster" 0.91, yet each is one slip of the finger.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import OSA, JaroWinkler, Levenshtein
from rapidfuzz.process import cpdist

from qbsync.rules.duplicates.blocking import Candidates
from qbsync.rules.duplicates.records import Prepared

NULL = -1

#: Jaro-Winkler cut-offs of the fuzzy levels (splink's defaults for names).
CLOSE, SIMILAR = 0.92, 0.80


@dataclass(frozen=True)
class Comparison:
    """One compared field: its level labels (worst first) and the column whose value frequencies
    adjust an exact match (a match on a rare surname says more than one on "smith")."""

    name: str
    levels: tuple[str, ...]
    tf_column: str | None = None


FUZZY = ("different", f"similar (Jaro-Winkler >= {SIMILAR})", f"close (Jaro-Winkler >= {CLOSE})", "exact")
#: Names: FUZZY with a level for one typo (optimal string alignment distance 1, both >= 4 letters).
NAME = (*FUZZY[:3], "one typo", "exact")
EDIT = ("different", "one edit apart", "exact")
#: Shorter names than this are not "one typo" apart: "ann"/"anna" and "ed"/"ted" are other names.
TYPO_MIN_LEN = 4

COMPARISONS: tuple[Comparison, ...] = (
    Comparison("given name", NAME, "given"),
    Comparison("family name", NAME, "family"),
    Comparison("company", NAME, "company"),
    # No term frequencies for email: a mailbox is unique, and its frequency (2/N when a duplicate
    # shares it) would only weaken the strongest evidence there is.
    Comparison("email", ("different", "same mailbox name, other domain", "exact"), None),
    Comparison("phone", ("different", "same last 7 digits or one typo", "exact"), None),
    Comparison("street number", EDIT, "street_no"),
    Comparison("street", FUZZY, "street_ns"),
    Comparison("address line 2", FUZZY, "line2_ns"),
    # City, postcode and region are one comparison: they name the same place, and counting each
    # as independent evidence would make neighbours look like duplicates.
    Comparison("locality", ("different", "same region only", "postcode or city similar",
                            "postcode or city agrees", "postcode and city agree"), None),
    # Which kinds of contact (email, phone, address) each record has: one bare (a name and nothing
    # to reach them by), or kinds on one record only. A second record typed in a hurry often lacks
    # some; EM learns from the data how much that says, and it is one comparison, so the missing
    # fields are not each counted again (a missing field itself weighs nothing).
    Comparison("contact details", ("both have the same kinds", "one has a kind the other lacks",
                                   "they differ in two or more kinds", "one has none", "neither has any")),
    # Whether each record was used (sales-side transactions up to as_of), and which was created
    # first. The record someone typed instead of finding the existing customer is the newer one and
    # usually never carries a sale; EM learns how much each case says on the list at hand. Unknown
    # activity (a CSV) is missing and weighs nothing.
    Comparison("activity", ("both have transactions", "only the newer has none", "only the older has none",
                            "neither has any"), None),
    # A company and a person who happens to share its contact's name are most often two customers;
    # the company comparison alone cannot say so (it is missing when only one has a company).
    Comparison("kind", ("a company and a person", "both companies", "both people"), None),
)


@dataclass
class Compared:
    """Levels of every candidate pair: ``gamma[p, f]`` for pair p and comparison f, and for the exact
    and one-typo levels the relative frequency of the more common of the two values (NaN
    elsewhere) for term-frequency weights."""

    left: np.ndarray
    right: np.ndarray
    gamma: np.ndarray  # int8, NULL where missing
    tf: np.ndarray  # float64
    swapped: np.ndarray  # bool: given/family names matched crosswise
    comparisons: tuple[Comparison, ...] = COMPARISONS


Scorer = Callable[..., float]


def similarity(prep: Prepared, ca: np.ndarray, cb: np.ndarray,
                scorer: Scorer = JaroWinkler.normalized_similarity) -> np.ndarray:
    """Similarity of value codes ``ca[k]`` and ``cb[k]``: 1 when equal, NaN when either is missing."""
    out = np.full(len(ca), np.nan)
    present = (ca != 0) & (cb != 0)
    out[present & (ca == cb)] = 1.0
    todo = present & (ca != cb)
    if todo.any():
        lo, hi = np.minimum(ca[todo], cb[todo]), np.maximum(ca[todo], cb[todo])
        keys, inverse = np.unique(lo * len(prep.vocab) + hi, return_inverse=True)
        ua, ub = keys // len(prep.vocab), keys % len(prep.vocab)
        sims = cpdist(list(prep.vocab[ua]), list(prep.vocab[ub]), scorer=scorer, workers=-1)
        out[todo] = np.asarray(sims, dtype=np.float64)[inverse]
    return out


def _fuzzy_levels(sim: np.ndarray, typo: np.ndarray | None = None) -> np.ndarray:
    """FUZZY levels from similarities, or NAME levels when ``typo`` marks the one-typo pairs."""
    level = np.full(len(sim), NULL, dtype=np.int8)
    known = ~np.isnan(sim)
    level[known] = 0
    level[known & (sim >= SIMILAR)] = 1
    level[known & (sim >= CLOSE)] = 2
    if typo is None:
        level[known & (sim >= 1.0)] = 3
        return level
    level[known & typo & (sim < 1.0)] = 3
    level[known & (sim >= 1.0)] = 4
    return level


def one_typo(prep: Prepared, ca: np.ndarray, cb: np.ndarray) -> np.ndarray:
    """Values that differ by one insertion, deletion, substitution or swap of adjacent letters,
    both at least ``TYPO_MIN_LEN`` letters long."""
    out = np.zeros(len(ca), dtype=bool)
    lens = prep.lengths
    todo = (ca != 0) & (cb != 0) & (ca != cb)
    todo &= (lens[ca] >= TYPO_MIN_LEN) & (lens[cb] >= TYPO_MIN_LEN) & (np.abs(lens[ca] - lens[cb]) <= 1)
    if todo.any():
        dist = similarity(prep, ca[todo], cb[todo], scorer=OSA.distance)
        out[todo] = dist <= 1
    return out


def _edit_levels(prep: Prepared, ca: np.ndarray, cb: np.ndarray) -> np.ndarray:
    dist = similarity(prep, ca, cb, scorer=Levenshtein.distance)
    dist[ca == cb] = 0.0
    level = np.full(len(ca), NULL, dtype=np.int8)
    known = (ca != 0) & (cb != 0)
    level[known] = 0
    level[known & (dist <= 1)] = 1
    level[known & (ca == cb)] = 2
    return level


#: How much rarer (in bits of inverse document frequency) a company's own most distinctive word may
#: be than the rarest word two names share before they count as different companies.
DISTINCT_MARGIN = 1.0


def _one_slip(a: str, b: str) -> bool:
    return len(a) >= TYPO_MIN_LEN and len(b) >= TYPO_MIN_LEN and OSA.distance(a, b, score_cutoff=1) <= 1


def _distinct_words_differ(prep: Prepared, ca: np.ndarray, cb: np.ndarray) -> np.ndarray:
    """Company names that look alike only through common words: "poole auto repair" and "robinson
    auto repair" are 0.8 similar by Jaro-Winkler, yet the words they share are the trade, which many
    companies on the list have, and the words that tell them apart differ.

    A word's weight is its inverse document frequency among the list's company names (bits). A pair
    differs when the rarest word it shares (one typo apart counts as shared) is more than
    ``DISTINCT_MARGIN`` bits commoner than the rarest word of each name: "smithson intl" and
    "smithson international" share "smithson", their rarest word, and stay similar. Shared means
    equal or one typo apart, not Jaro-Winkler close: "stevens" and "stevenson" are two surnames.
    """
    out = np.zeros(len(ca), dtype=bool)
    if not len(ca):
        return out
    names = prep.vocab[prep.codes["company"][prep.codes["company"] != 0]]
    df: dict[str, int] = {}
    for name in names:
        for word in set(name.split()):
            df[word] = df.get(word, 0) + 1
    total = max(len(names), 1)

    def idf(word: str) -> float:
        return float(np.log2(total / df.get(word, 1)))

    for k, (a, b) in enumerate(zip(prep.vocab[ca], prep.vocab[cb], strict=True)):
        wa, wb = set(a.split()), set(b.split())
        if not wa or not wb:
            continue
        shared = [w for w in wa if w in wb or any(_one_slip(w, v) for v in wb)]
        best_shared = max((idf(w) for w in shared), default=0.0)
        own = min(max(idf(w) for w in wa), max(idf(w) for w in wb))
        out[k] = best_shared < own - DISTINCT_MARGIN
    return out


def _freq(prep: Prepared, column: str) -> np.ndarray:
    """Relative frequency of each vocabulary code among the column's non-missing values."""
    counts = np.bincount(prep.codes[column], minlength=len(prep.vocab)).astype(np.float64)
    counts[0] = 0.0
    total = counts.sum()
    return counts / total if total else counts


def _phone_levels(prep: Prepared, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    p1, p2 = prep.col("phone1"), prep.col("phone2")
    level = np.full(len(ia), NULL, dtype=np.int8)
    for x in (p1, p2):
        for y in (p1, p2):
            a, b = x[ia], y[ib]
            present = (a != "") & (b != "")
            if not present.any():
                continue
            idx = np.nonzero(present)[0]
            pa, pb = a[idx], b[idx]
            last9 = np.fromiter((u[-9:] == v[-9:] for u, v in zip(pa, pb, strict=True)), bool, len(idx))
            near = np.fromiter((u[-7:] == v[-7:] or Levenshtein.distance(u[-10:], v[-10:]) <= 1
                                for u, v in zip(pa, pb, strict=True)), bool, len(idx))
            new = np.where(last9, 2, np.where(near, 1, 0)).astype(np.int8)
            level[idx] = np.maximum(level[idx], new)
    return level


#: Comparisons whose exact level is plain equality of one column, and that column.
EXACT_COLUMNS = {"company": "company", "email": "email", "street": "street_ns", "address line 2": "line2_ns"}


def exact_pair_counts(prep: Prepared) -> dict[str, tuple[float, float]]:
    """Per comparison in ``EXACT_COLUMNS``: (pairs sharing a value, pairs where both have one),
    counted over all pairs from value frequencies. A random sample cannot resolve the chance that
    two different customers share an email (about 1 in N^2): these counts can."""
    out = {}
    for name, col in EXACT_COLUMNS.items():
        counts = np.bincount(prep.codes[col])[1:].astype(np.float64)
        present = counts.sum()
        out[name] = (float((counts * (counts - 1) / 2).sum()), float(present * (present - 1) / 2))
    return out


def _bare(prep: Prepared) -> np.ndarray:
    """Records with no email, phone, street or locality."""
    code = prep.codes
    some = np.zeros(len(prep), dtype=bool)
    for col in ("email", "phone1", "phone2", "street", "line2", "city", "postcode"):
        some |= code[col] != 0
    return ~some


def _activity_levels(prep: Prepared, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    history = prep.col("history")
    unused = np.where(history == "", NULL, history == "no transactions").astype(np.int8)
    a, b = unused[ia], unused[ib]
    a_newer = prep.age_rank[ia] > prep.age_rank[ib]
    newer_unused = np.where(a_newer, a, b) == 1
    level = np.where(a + b == 2, 3, np.where(a + b == 0, 0, np.where(newer_unused, 1, 2)))
    return np.where((a == NULL) | (b == NULL), NULL, level).astype(np.int8)


_BITS = np.array([bin(k).count("1") for k in range(8)], dtype=np.int8)


def _kinds(prep: Prepared) -> np.ndarray:
    """A bit per kind of contact a record has: 1 email, 2 phone, 4 address."""
    code = prep.codes
    address = (code["street"] != 0) | (code["line2"] != 0) | (code["city"] != 0) | (code["postcode"] != 0)
    return ((code["email"] != 0) * 1 + ((code["phone1"] != 0) | (code["phone2"] != 0)) * 2
            + address * 4).astype(np.uint8)


def _locality_levels(prep: Prepared, ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    code = prep.codes
    pa, pb = code["postcode"][ia], code["postcode"][ib]
    city = similarity(prep, code["city"][ia], code["city"][ib])
    post = _edit_levels(prep, pa, pb)  # -1 missing, 0 different, 1 one edit, 2 exact
    ra, rb = code["region"][ia], code["region"][ib]
    region_same = (ra != 0) & (ra == rb)
    known = (post != NULL) | ~np.isnan(city) | ((ra != 0) & (rb != 0))
    city_close, city_similar = np.nan_to_num(city) >= CLOSE, np.nan_to_num(city) >= SIMILAR
    post_exact = post == 2
    level = np.full(len(ia), NULL, dtype=np.int8)
    level[known] = 0
    level[known & region_same] = 1
    level[known & ((post == 1) | city_similar)] = 2
    level[known & (post_exact | city_close)] = 3
    level[known & post_exact & city_close] = 4
    return level


def compare(prep: Prepared, cand: Candidates) -> Compared:
    """Every comparison's level for every candidate pair."""
    ia, ib = cand.left, cand.right
    code = prep.codes
    gamma = np.full((len(ia), len(COMPARISONS)), NULL, dtype=np.int8)
    tf = np.full((len(ia), len(COMPARISONS)), np.nan)

    # Names: whichever orientation agrees better, so "Smith John" meets "John Smith".
    ga, gb, fa, fb = code["given"][ia], code["given"][ib], code["family"][ia], code["family"][ib]
    direct_g, direct_f = similarity(prep, ga, gb), similarity(prep, fa, fb)
    cross_g, cross_f = similarity(prep, ga, fb), similarity(prep, fa, gb)
    # "Bill" is William and "J." may be John: as good as a close spelling, not as an exact match.
    formal_a, formal_b = code["given_formal"][ia], code["given_formal"][ib]
    nick = (formal_a != 0) & (formal_a == formal_b) & (ga != gb)
    initial = np.zeros(len(ia), dtype=bool)
    maybe = np.nonzero((ga != 0) & (gb != 0) & (ga != gb) & ~nick)[0]
    if len(maybe):
        va, vb = prep.vocab[ga[maybe]], prep.vocab[gb[maybe]]
        initial[maybe] = np.fromiter(((len(a) == 1 or len(b) == 1) and a[0] == b[0]
                                      for a, b in zip(va, vb, strict=True)), bool, len(maybe))
    direct_g = np.where(nick, np.fmax(direct_g, CLOSE), direct_g)
    direct_g = np.where(initial, np.fmax(direct_g, SIMILAR), direct_g)
    direct = np.nan_to_num(direct_g) + np.nan_to_num(direct_f)
    cross = np.nan_to_num(cross_g) + np.nan_to_num(cross_f)
    swapped = cross > direct + 0.05
    sims = {"given": np.where(swapped, cross_g, direct_g), "family": np.where(swapped, cross_f, direct_f)}
    # The other record's value each name was compared with, and that value's own column.
    others = {"given": np.where(swapped, fb, gb), "family": np.where(swapped, gb, fb)}
    typos = {key: one_typo(prep, code[key][ia], others[key]) for key in ("given", "family")}
    typos["given"] &= ~nick
    freq_given, freq_family = _freq(prep, "given"), _freq(prep, "family")
    # Term frequency of the more common of the two values, each in its own column: a swapped
    # "Fields" is as common as the family name it is, not as rare as a given name "fields".
    og, of = others["given"], others["family"]
    name_tf = {"given": np.fmax(freq_given[ga], np.where(swapped, freq_family[og], freq_given[og])),
               "family": np.fmax(freq_family[fa], np.where(swapped, freq_given[of], freq_family[of]))}

    def street_sim() -> np.ndarray:
        sa, sb = code["street_ns"][ia], code["street_ns"][ib]
        la, lb = code["line2_ns"][ia], code["line2_ns"][ib]
        direct = similarity(prep, sa, sb)
        # A street written on the other line of the twin record.
        crossed = np.fmax(similarity(prep, sa, lb), similarity(prep, la, sb))
        return np.where(np.nan_to_num(direct) >= CLOSE, direct, np.fmax(direct, crossed))

    for f, comp in enumerate(COMPARISONS):
        col = comp.tf_column
        if comp.name in ("given name", "family name"):
            key = "given" if comp.name == "given name" else "family"
            gamma[:, f] = _fuzzy_levels(sims[key], typos[key])
            near = gamma[:, f] >= 3
            tf[near, f] = name_tf[key][near]
            continue
        elif comp.name == "company":
            ca, cb = code["company"][ia], code["company"][ib]
            level = _fuzzy_levels(similarity(prep, ca, cb), one_typo(prep, ca, cb))
            fuzzy = np.nonzero((level == 1) | (level == 2))[0]
            level[fuzzy[_distinct_words_differ(prep, ca[fuzzy], cb[fuzzy])]] = 0
            gamma[:, f] = level
            near = gamma[:, f] >= 3
            freq = _freq(prep, "company")
            tf[near, f] = np.fmax(freq[ca[near]], freq[cb[near]])
            continue
        elif comp.name == "activity":
            gamma[:, f] = _activity_levels(prep, ia, ib)
            continue
        elif comp.name == "kind":
            person = code["company"] == 0
            gamma[:, f] = np.where(person[ia] == person[ib], 1 + person[ia], 0).astype(np.int8)
            continue
        elif comp.name == "phone":
            gamma[:, f] = _phone_levels(prep, ia, ib)
            continue
        elif comp.name == "email":
            ca, cb = code["email"][ia], code["email"][ib]
            sim = similarity(prep, ca, cb)
            level = np.where(np.isnan(sim), NULL, np.where(sim >= 1.0, 2, 0)).astype(np.int8)
            differ = np.nonzero(level == 0)[0]
            pairs = list(zip(prep.vocab[ca[differ]], prep.vocab[cb[differ]], strict=True))
            local_same = np.fromiter((a.split("@")[0] == b.split("@")[0] for a, b in pairs), bool, len(pairs))
            # No fuzzy level: mailboxes built from names ("lucas.jones65@", "lucas.jones2@") are
            # similar for every namesake, which would count the name twice (tried: a one-typo level
            # caught a few more duplicates and as many false ones).
            level[differ[local_same]] = 1
            gamma[:, f] = level
            exact_code = ca
        elif comp.name == "contact details":
            bare = _bare(prep)
            kinds = _kinds(prep)
            gap = _BITS[kinds[ia] ^ kinds[ib]]  # how many kinds one of the two has and the other lacks
            n_bare = bare[ia].astype(np.int8) + bare[ib].astype(np.int8)
            gamma[:, f] = np.where(n_bare > 0, 2 + n_bare, np.minimum(gap, 2)).astype(np.int8)
            continue
        elif comp.name == "locality":
            gamma[:, f] = _locality_levels(prep, ia, ib)
            continue
        elif comp.name == "street":
            gamma[:, f] = _fuzzy_levels(street_sim())
            exact_code = code["street_ns"][ia]
        elif comp.levels == EDIT:
            assert col is not None
            gamma[:, f] = _edit_levels(prep, code[col][ia], code[col][ib])
            exact_code = code[col][ia]
        elif comp.name == "region":
            assert col is not None
            ca, cb = code[col][ia], code[col][ib]
            gamma[:, f] = np.where((ca == 0) | (cb == 0), NULL, (ca == cb).astype(np.int8))
            exact_code = ca
        else:
            assert col is not None
            gamma[:, f] = _fuzzy_levels(similarity(prep, code[col][ia], code[col][ib]))
            exact_code = code[col][ia]
        if col is not None:
            exact = gamma[:, f] == len(comp.levels) - 1
            tf[exact, f] = _freq(prep, col)[exact_code[exact]]
    return Compared(left=ia, right=ib, gamma=gamma, tf=tf, swapped=swapped)
