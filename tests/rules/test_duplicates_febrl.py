"""Accuracy on the FEBRL sets with names and address only (no date of birth, no social security id)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qbsync.rules.duplicates.detect import blocking_recall, detect_duplicates, evaluate_pairs, score_pairs
from qbsync.rules.duplicates.sources import load_febrl

DATASETS = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"


def _load(name: str) -> tuple[list, dict[str, str]]:
    path = DATASETS / f"{name}.csv"
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared datasets directory sits beside the repository")
    return load_febrl(path)


def test_febrl_loader_maps_names_and_address_only() -> None:
    records, truth = _load("febrl1")
    assert len(records) == 1000
    rec = next(r for r in records if r.customer_id == "rec-122-org")
    assert (rec.given_name, rec.family_name, rec.display_name) == ("lachlan", "berry", "lachlan berry")
    assert (rec.bill_line1, rec.bill_line2, rec.bill_city, rec.bill_postal_code, rec.bill_region) == (
        "69 giblin street", "killarney", "bittern", "4814", "qld")
    assert truth["rec-122-org"] == truth["rec-122-dup-0"] == "rec-122"


def test_febrl1_f1_and_blocking_recall() -> None:
    records, truth = _load("febrl1")
    report = detect_duplicates(records)
    ev = evaluate_pairs([[m.customer_id for m in c.members] for c in report.clusters], truth)
    assert ev["f1"] >= 0.97, ev
    assert blocking_recall(score_pairs(records), truth) >= 0.99
    assert report.model.converged


def test_febrl2_f1() -> None:
    records, truth = _load("febrl2")
    report = detect_duplicates(records)
    ev = evaluate_pairs([[m.customer_id for m in c.members] for c in report.clusters], truth)
    assert ev["f1"] >= 0.97, ev


def test_a_stricter_threshold_trades_recall_for_precision() -> None:
    records, _ = _load("febrl1")
    loose = detect_duplicates(records, threshold=0.5)
    strict = detect_duplicates(records, threshold=1 - 1e-12)
    n_loose = sum(len(c.members) for c in loose.clusters)
    n_strict = sum(len(c.members) for c in strict.clusters)
    assert n_strict < n_loose
