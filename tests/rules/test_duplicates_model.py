"""Blocking finds pairs despite a missing or mistyped field; EM recovers known m/u; clusters do not chain."""

from __future__ import annotations

import numpy as np

from qbsync.rules.duplicates import fellegi_sunter as fs
from qbsync.rules.duplicates.blocking import DEFAULT_KEYS, candidate_pairs
from qbsync.rules.duplicates.cluster import clusters
from qbsync.rules.duplicates.compare import NULL, Compared, Comparison
from qbsync.rules.duplicates.records import CustomerRecord, prepare

_FILLER = [CustomerRecord(str(100 + i), f"{g} {f}", given_name=g, family_name=f,
                          bill_line1=f"{10 + i} {s} Street", bill_city=c, bill_postal_code=str(2000 + 37 * i))
           for i, (g, f, s, c) in enumerate(zip(
               ["Ann", "Bob", "Cy", "Dee", "Eve", "Fay", "Gus", "Hal", "Ida", "Jon"] * 3,
               ["Abbott", "Baker", "Clark", "Dunn", "Ellis", "Frost", "Grant", "Hayes", "Irwin", "Jones",
                "Kerr", "Lowe", "Marsh", "Nash", "Owen", "Price", "Quinn", "Reed", "Shaw", "Todd",
                "Underwood", "Vance", "Walsh", "Young", "Zane", "Avery", "Blake", "Cole", "Drake", "Ford"],
               ["Oak", "Elm", "Pine", "Ash", "Birch", "Cedar", "Maple", "Willow", "Alder", "Beech"] * 3,
               ["Leeds", "York", "Bath", "Ely", "Hull", "Wells", "Derby", "Truro", "Ripon", "Perth"] * 3,
               strict=True))]


def _pairs(records: list[CustomerRecord]) -> set[tuple[str, str]]:
    cand = candidate_pairs(prepare(records, "US"), DEFAULT_KEYS)
    return {tuple(sorted((records[a].customer_id, records[b].customer_id)))
            for a, b in zip(cand.left, cand.right, strict=True)}


def test_blocking_finds_twins_sharing_only_one_field() -> None:
    twins = [
        # Same email, names and address entirely different.
        (CustomerRecord("e1", "Acme Inc", email="ap@acme.com"),
         CustomerRecord("e2", "Jane Doe", email="AP@acme.com", bill_city="Nowhere")),
        # Same phone written two ways, nothing else.
        (CustomerRecord("p1", "Robert Stone", phone="(415) 555-0199"),
         CustomerRecord("p2", "Bob S.", mobile="+1 415 555 0199")),
        # Swapped given and family name, no address.
        (CustomerRecord("s1", "Wu Lan", given_name="Lan", family_name="Wu"),
         CustomerRecord("s2", "Wu Lan", given_name="Wu", family_name="Lan")),
        # Typo in the first letter of the family name: only phonetics/address can catch it.
        (CustomerRecord("t1", "Kathryn Cole", given_name="Kathryn", family_name="Knightley",
                        bill_line1="5 Harbour Road", bill_postal_code="4810"),
         CustomerRecord("t2", "Kathryn Nightley", given_name="Kathryn", family_name="Nightley",
                        bill_line1="5 Harbour Rd", bill_postal_code="4810")),
    ]
    records = list(_FILLER) + [r for pair in twins for r in pair]
    found = _pairs(records)
    for a, b in twins:
        assert tuple(sorted((a.customer_id, b.customer_id))) in found


def test_blocking_caps_pairs_for_a_huge_common_key() -> None:
    records = [CustomerRecord(str(i), f"Person{i} Smith", given_name=f"Person{i}", family_name="Smith")
               for i in range(400)]
    found = _pairs(records)
    assert len(found) < 400 * 399 // 2 / 5  # windows, not the full quadratic block


def _synthetic_gamma(rng: np.random.Generator, n: int, lam: float, m: list[np.ndarray],
                     u: list[np.ndarray], missing: float) -> tuple[np.ndarray, np.ndarray]:
    is_match = rng.random(n) < lam
    gamma = np.empty((n, len(m)), dtype=np.int8)
    for f, (mf, uf) in enumerate(zip(m, u, strict=True)):
        gamma[:, f] = np.where(is_match, rng.choice(len(mf), n, p=mf), rng.choice(len(uf), n, p=uf))
        gamma[rng.random(n) < missing, f] = NULL
    return gamma, is_match


def test_em_recovers_known_m_u_and_match_rate() -> None:
    rng = np.random.default_rng(3)
    comps = tuple(Comparison(f"f{k}", ("different", "similar", "exact")) for k in range(5))
    true_m = [np.array([0.05, 0.15, 0.80]), np.array([0.10, 0.10, 0.80]), np.array([0.02, 0.08, 0.90]),
              np.array([0.20, 0.10, 0.70]), np.array([0.05, 0.05, 0.90])]
    true_u = [np.array([0.90, 0.07, 0.03]), np.array([0.80, 0.15, 0.05]), np.array([0.95, 0.04, 0.01]),
              np.array([0.70, 0.20, 0.10]), np.array([0.97, 0.02, 0.01])]
    gamma, _ = _synthetic_gamma(rng, 60_000, 0.08, true_m, true_u, missing=0.1)
    n = len(gamma)
    compared = Compared(np.zeros(n, np.int64), np.ones(n, np.int64), gamma, np.full(gamma.shape, np.nan),
                        np.zeros(n, bool), comps)
    rough_u = [np.array([0.6, 0.3, 0.1])] * 5  # a poor start: EM must find its way
    model = fs.fit(compared, rough_u, n_records=1000)
    assert model.converged
    assert abs(model.match_rate - 0.08) < 0.01
    for got, want in zip(model.m, true_m, strict=True):
        np.testing.assert_allclose(got, want, atol=0.03)
    for got, want in zip(model.u, true_u, strict=True):
        np.testing.assert_allclose(got, want, atol=0.02)


def test_posterior_separates_the_synthetic_classes() -> None:
    rng = np.random.default_rng(5)
    comps = tuple(Comparison(f"f{k}", ("different", "exact")) for k in range(4))
    m = [np.array([0.1, 0.9])] * 4
    u = [np.array([0.9, 0.1])] * 4
    gamma, is_match = _synthetic_gamma(rng, 20_000, 0.2, m, u, missing=0.0)
    n = len(gamma)
    compared = Compared(np.zeros(n, np.int64), np.ones(n, np.int64), gamma, np.full(gamma.shape, np.nan),
                        np.zeros(n, bool), comps)
    # Weighed against the candidates themselves: this synthetic set is not a sample of record pairs.
    model = fs.fit(compared, [np.array([0.5, 0.5])] * 4, n_records=1000, reference="candidates")
    scores = fs.score(model, compared, n_records=1000)
    predicted = scores.probability >= 0.5
    accuracy = float((predicted == is_match).mean())
    assert accuracy > 0.95
    # The weight of a pattern is the sum of its per-field bits plus the prior.
    k = 0
    assert np.isclose(scores.weight[k], model.prior_bits() + scores.bits[k].sum())


def test_clusters_do_not_chain_through_a_confident_non_match() -> None:
    # 0~1 and 1~2 are matches, but 0 and 2 were compared and are certainly different people.
    left, right = np.array([0, 1, 0]), np.array([1, 2, 2])
    prob = np.array([0.99, 0.98, 0.0001])
    assert clusters(3, left, right, prob) == [[0, 1]]
    # Without the veto evidence they chain, as they should.
    assert clusters(3, left[:2], right[:2], prob[:2]) == [[0, 1, 2]]


def test_cluster_size_is_capped() -> None:
    n = 30
    left, right = np.arange(n - 1), np.arange(1, n)
    groups = clusters(n, left, right, np.full(n - 1, 0.9), max_size=10)
    assert max(len(g) for g in groups) <= 10


def _company_levels(pairs: list[tuple[str, str]], others: list[str]) -> list[str]:
    """The company comparison's level label for each pair, on a list that also holds ``others``."""
    from qbsync.rules.duplicates.blocking import Candidates
    from qbsync.rules.duplicates.compare import COMPARISONS, compare

    names = [n for pair in pairs for n in pair] + others
    prep = prepare([CustomerRecord(str(i), n, company_name=n) for i, n in enumerate(names)], "US")
    left = np.arange(0, 2 * len(pairs), 2, dtype=np.int64)
    got = compare(prep, Candidates(left, left + 1, {}))
    f = [c.name for c in COMPARISONS].index("company")
    return [COMPARISONS[f].levels[int(g)] for g in got.gamma[:, f]]


def test_company_names_alike_only_in_their_trade_are_different() -> None:
    trade = [f"{s} Auto Repair" for s in ("Ames", "Booth", "Carver", "Dalton", "Everett", "Fisher")]
    florists = [f"{s} Florist" for s in ("Ames", "Booth", "Carver", "Dalton")]
    levels = _company_levels([("Poole Auto Repair", "Robinson Auto Repair, Ltd."),  # JW 0.8: only the trade
                              ("Stevenson Florist", "Stevens Florist"),  # two surnames, JW 0.94
                              ("Smithson Intl", "Smithson International"),  # the rare word is shared
                              ("Poole Auto Repair", "Poolle Auto Repair")],  # a typo: one typo level
                             trade + florists)
    assert levels[0] == "different"
    assert levels[1] == "different"
    assert levels[2].startswith("similar") or levels[2].startswith("close")
    assert levels[3] == "one typo"
