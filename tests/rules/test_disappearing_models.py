"""BG/NBD and Pareto/NBD fits reproduce the published CDNOW parameters from any start and whatever the
customer order; the scores behave sensibly."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from qbsync.rules.disappearing import bgnbd, paretonbd
from qbsync.rules.disappearing.bgnbd import BgNbd
from qbsync.rules.disappearing.gammagamma import GammaGamma
from qbsync.rules.disappearing.mle import MAX_FIT_CUSTOMERS, fit_mle
from qbsync.rules.disappearing.paretonbd import ParetoNbd
from qbsync.rules.disappearing.summary import Summary

CDNOW = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets" / "cdnow_customers_summary.csv"


@pytest.fixture(scope="module")
def cdnow() -> Summary:
    if not CDNOW.exists():
        pytest.skip(f"CDNOW summary not found at {CDNOW} (the shared datasets sit beside the repo)")
    with CDNOW.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return Summary(tuple(r["ID"] for r in rows), np.array([float(r["frequency"]) for r in rows]),
                   np.array([float(r["recency"]) for r in rows]), np.array([float(r["T"]) for r in rows]))


def _sig3(value: float) -> str:
    return f"{value:.3g}"


def test_bgnbd_reproduces_fader_hardie_lee(cdnow: Summary) -> None:
    m = BgNbd.fit(cdnow)
    assert [_sig3(v) for v in (m.r, m.alpha, m.a, m.b)] == ["0.243", "4.41", "0.793", "2.43"]
    assert m.log_likelihood == pytest.approx(-9582.4, abs=0.1)


def test_paretonbd_reproduces_published_fit(cdnow: Summary) -> None:
    m = ParetoNbd.fit(cdnow)
    assert [_sig3(v) for v in (m.r, m.alpha, m.s, m.beta)] == ["0.553", "10.6", "0.606", "11.7"]
    assert m.log_likelihood == pytest.approx(-9595.0, abs=0.1)


# The default start, one far below, one far above, one on the wrong side of the (a, b) / (s, beta) ridge.
STARTS = [(1.0, 1.0, 1.0, 1.0), (0.1, 1.0, 0.1, 1.0), (2.0, 20.0, 3.0, 10.0), (0.01, 50.0, 5.0, 0.5)]


def test_bgnbd_reaches_the_published_maximum_from_any_start(cdnow: Summary) -> None:
    fits = [fit_mle(bgnbd.log_likelihood, cdnow, np.array(start)) for start in STARTS]
    for params, ll in fits:  # published (FHL 2005): r 0.243, alpha 4.414, a 0.793, b 2.426, LL -9582.4
        assert [_sig3(v) for v in params] == ["0.243", "4.41", "0.793", "2.43"]
        assert ll == pytest.approx(-9582.43, abs=0.01)
    # one maximum, not wherever each run stopped on the (a, b) ridge (those differed by ~1e-3)
    assert np.ptp([ll for _, ll in fits]) < 1e-6


def test_paretonbd_reaches_the_published_maximum_from_any_start(cdnow: Summary) -> None:
    fits = [fit_mle(paretonbd.log_likelihood, cdnow, np.array(start)) for start in STARTS]
    for params, ll in fits:  # published: r 0.553, alpha 10.578, s 0.606, beta 11.669
        assert [_sig3(v) for v in params] == ["0.553", "10.6", "0.606", "11.7"]
        assert ll == pytest.approx(-9594.97, abs=0.01)
    assert np.ptp([ll for _, ll in fits]) < 1e-6


def _synthetic_summary(n: int, seed: int) -> Summary:
    """Pareto/NBD customers (gamma purchase rates, exponential lifetimes), ages in whole days."""
    rng = np.random.default_rng(seed)
    T = rng.integers(10 * 7, 150 * 7, n) / 7.0
    rate = rng.gamma(0.6, 1 / 8.0, n)
    alive_for = np.minimum(rng.exponential(1 / rng.gamma(0.7, 1 / 12.0, n)), T)
    x = rng.poisson(rate * alive_for).astype(float)
    t_x = np.where(x > 0, np.floor(alive_for * rng.beta(np.maximum(x, 1), 1.0) * 7) / 7.0, 0.0)
    return Summary(tuple(f"c{i}" for i in range(n)), x, t_x, T)


def test_fits_do_not_depend_on_the_order_customers_arrive_in() -> None:
    s = _synthetic_summary(MAX_FIT_CUSTOMERS + 3_000, seed=11)  # more than are fitted: a sample is drawn
    order = np.random.default_rng(5).permutation(len(s))
    shuffled = Summary(tuple(s.ids[i] for i in order), s.x[order], s.t_x[order], s.T[order])
    for model in (BgNbd, ParetoNbd):
        a, b = model.fit(s), model.fit(shuffled)
        assert np.array_equal(a.params, b.params), model.__name__
        assert a.log_likelihood == b.log_likelihood


def test_bgnbd_p_alive_is_one_without_repeats_but_pareto_is_not(cdnow: Summary) -> None:
    bg, pa = BgNbd.fit(cdnow), ParetoNbd.fit(cdnow)
    single = cdnow.x == 0
    assert np.all(bg.p_alive(cdnow)[single] == 1.0)
    p = pa.p_alive(cdnow)[single]
    assert p.min() < 0.5 and p.max() <= 1.0


def test_scores_move_the_right_way() -> None:
    m = ParetoNbd(0.553, 10.578, 0.606, 11.669)
    bg = BgNbd(0.243, 4.414, 0.793, 2.426)
    # same customer (5 repeats, 39 weeks old) whose last purchase is recent vs long ago
    s = Summary(("recent", "old"), np.array([5.0, 5.0]), np.array([38.0, 10.0]), np.array([39.0, 39.0]))
    for model in (m, bg):
        alive = model.p_alive(s)
        assert alive[0] > alive[1]
        expected = model.expected_purchases(s, 26.0)
        assert expected[0] > expected[1] > 0


def test_pareto_likelihood_stays_finite_for_heavy_buyers() -> None:
    params = np.array([0.553, 10.578, 0.606, 11.669])
    x = np.array([0.0, 50.0, 400.0, 2000.0])
    t_x = np.array([0.0, 100.0, 150.0, 155.0])
    T = np.array([160.0, 160.0, 160.0, 160.0])
    ll = paretonbd.log_likelihood(params, x, t_x, T)
    assert np.all(np.isfinite(ll))
    flipped = np.array([0.553, 20.0, 0.606, 5.0])  # the alpha > beta branch
    assert np.all(np.isfinite(paretonbd.log_likelihood(flipped, x, t_x, T)))
    alive = ParetoNbd(*params).p_alive(Summary(("a", "b", "c", "d"), x, t_x, T))
    assert np.all((alive >= 0) & (alive <= 1))


SPEND = Path(__file__).resolve().parent / "data" / "cdnow_summary_spend.csv"


def _spend_rows() -> tuple[np.ndarray, np.ndarray]:
    with SPEND.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return np.array([float(r["x"]) for r in rows]), np.array([float(r["zbar"]) for r in rows])


def test_gamma_gamma_reproduces_the_published_cdnow_fit() -> None:
    """Fader, Hardie & Lee (2005), 'RFM and CLV': p 6.25, q 3.74, v 15.44 on the 946 repeat buyers."""
    x, m = _spend_rows()
    gg = GammaGamma.fit(x, m)  # customers without a repeat purchase (x = 0) are left out by the fit
    assert gg.customers == 946
    assert [_sig3(v) for v in (gg.p, gg.q, gg.v)] == ["6.25", "3.74", "15.4"]
    assert gg.v == pytest.approx(15.44, abs=0.01)
    # the same fit in cents: the model has no unit, only v scales
    cents = GammaGamma.fit(x, m * 100)
    assert cents.p == pytest.approx(gg.p, rel=1e-4) and cents.v == pytest.approx(gg.v * 100, rel=1e-4)


def test_gamma_gamma_shrinks_few_purchases_towards_the_population() -> None:
    gg = GammaGamma(6.25, 3.74, 15.44)
    population = gg.mean_spend
    assert population == pytest.approx(6.25 * 15.44 / 2.74)
    one, many = gg.expected_spend(np.array([1.0, 20.0]), np.array([100.0, 100.0]))
    assert population < one < many < 100.0  # 20 purchases at 100 are believed more than one
    assert gg.expected_spend(np.array([0.0]), np.array([500.0]))[0] == pytest.approx(population)
