"""BG/NBD and Pareto/NBD fits reproduce the published CDNOW parameters; the scores behave sensibly."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from qbsync.rules.disappearing import paretonbd
from qbsync.rules.disappearing.bgnbd import BgNbd
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
