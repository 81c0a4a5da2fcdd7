"""The sandbox generator's planted duplicates (names, emails, phones, addresses) are found."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from qbsync.rules.duplicates.detect import DuplicateReport, detect_duplicates, evaluate_pairs
from qbsync.rules.duplicates.records import CustomerRecord

generator = pytest.importorskip("qbsync.sandbox.generator", reason="the sandbox generator is not installed")

#: records, transactions per customer, the generator's ground truth, and the detection report.
Company = tuple[list[CustomerRecord], dict[str, int], dict[str, Any], DuplicateReport]


def _record(o: dict[str, Any]) -> CustomerRecord:
    """A QBO Customer as the cache mirrors it (the same fields sync writes)."""
    addr = o.get("BillAddr") or {}
    return CustomerRecord(
        customer_id=o["Id"], display_name=o.get("DisplayName", ""), given_name=o.get("GivenName"),
        family_name=o.get("FamilyName"), company_name=o.get("CompanyName"),
        email=(o.get("PrimaryEmailAddr") or {}).get("Address"),
        phone=(o.get("PrimaryPhone") or {}).get("FreeFormNumber"),
        mobile=(o.get("Mobile") or {}).get("FreeFormNumber"), bill_line1=addr.get("Line1"),
        bill_line2=addr.get("Line2"), bill_city=addr.get("City"),
        bill_region=addr.get("CountrySubDivisionCode"), bill_postal_code=addr.get("PostalCode"),
        bill_country=addr.get("Country"), active=o.get("Active", True),
        balance=Decimal(str(o.get("Balance", 0))), job=bool(o.get("Job")),
        parent_id=(o.get("ParentRef") or {}).get("value"),
        created=datetime.fromisoformat(o["MetaData"]["CreateTime"]).astimezone(UTC).date())


Generated = tuple[list[CustomerRecord], dict[str, int], dict[str, Any]]


def generated(seed: int, customers: int = 2000) -> Generated:
    """A generated company's customers as the cache mirrors them, transactions per customer, and
    the generator's truth."""
    made = generator.generate_company(generator.CompanySpec(customers=customers, seed=seed), "dups")
    objects: list[dict[str, Any]] = []
    txns: dict[str, int] = {}
    for entity, batch in made.batches():
        if entity == "Customer":
            objects.extend(batch)
            continue
        for o in batch:
            ref = (o.get("CustomerRef") or {}).get("value")
            if ref:
                txns[ref] = txns.get(ref, 0) + 1
    assert made.truth is not None
    return [_record(o) for o in objects], txns, made.truth


def planted(records: list[CustomerRecord], truth_doc: dict[str, Any]) -> dict[str, str]:
    """Each top-level record's true customer: itself, or the first record of its planted cluster."""
    truth = {r.customer_id: r.customer_id for r in records if not r.job}
    for cluster in truth_doc["duplicate_clusters"]:
        for cid in cluster:
            truth[cid] = cluster[0]
    return truth


def _company(seed: int) -> Company:
    records, txns, truth = generated(seed)
    return records, txns, truth, detect_duplicates(records, activity=txns, default_country="US")


@pytest.fixture(scope="module")
def company() -> Company:
    return _company(42)


def _evaluate(company: Company) -> dict[str, float]:
    records, _, truth_doc, report = company
    return evaluate_pairs([[m.customer_id for m in c.members] for c in report.clusters],
                          planted(records, truth_doc))


def test_planted_duplicates_precision_recall_f1(company: Company) -> None:
    ev = _evaluate(company)
    # Measured 1.000 / 1.000 / 1.000 on this spec (seed 42): see docs/benchmarks.md.
    assert ev["precision"] >= 0.99, ev
    assert ev["f1"] >= 0.99, ev


#: Seeds pooled for the F1 target. One company of 2,000 customers holds ~80 true pairs, so a single
#: pair the model honestly rates ~0.2 ("Cheryl Fields" vs "Fields, Cheryl": both buying, different
#: emails, nothing else shared) moves that seed's F1 by 0.6 points; pooled, the figure is steady.
POOLED_SEEDS = range(1, 9)


def _missed_and_possible(company: Company) -> tuple[set[tuple[str, str]], set[tuple[str, str]], int]:
    """True pairs left out of every cluster, the pairs listed for review, and how many of those are true."""
    records, _, truth_doc, report = company
    entity = {r.customer_id: r.customer_id for r in records}
    for cluster in truth_doc["duplicate_clusters"]:
        for cid in cluster:
            entity[cid] = cluster[0]
    found = {(a, b) for c in report.clusters for a in (m.customer_id for m in c.members)
             for b in (m.customer_id for m in c.members) if a < b}
    groups: dict[str, list[str]] = {}
    for cid, e in entity.items():
        groups.setdefault(e, []).append(cid)
    true_pairs = {(a, b) for g in groups.values() for a in g for b in g if a < b}
    possible = {(min(p.left_id, p.right_id), max(p.left_id, p.right_id)) for p in report.possible}
    return true_pairs - found, possible, len(possible & true_pairs)


def test_planted_duplicates_pooled_over_seeds() -> None:
    companies = [_company(seed) for seed in POOLED_SEEDS]
    runs = [_evaluate(c) for c in companies]
    tp = sum(r["true_positives"] for r in runs)
    precision = tp / sum(r["predicted_pairs"] for r in runs)
    recall = tp / sum(r["true_pairs"] for r in runs)
    f1 = 2 * precision * recall / (precision + recall)
    # Measured: P 1.000, R 0.986, F1 0.993; per seed 0.975 (seed 6) to 1.000. See docs/benchmarks.md.
    assert precision >= 0.99 and f1 >= 0.99, (precision, recall, f1)
    assert min(r["f1"] for r in runs) >= 0.97, [round(r["f1"], 4) for r in runs]
    # What the clusters leave out mostly waits in the short review list (measured over seeds 1-12:
    # 9 of 12 misses, in 20 listed pairs of which 9 true).
    reviewed = [_missed_and_possible(c) for c in companies]
    missed = sum(len(m) for m, _, _ in reviewed)
    caught = sum(len(m & p) for m, p, _ in reviewed)
    listed = sum(len(p) for _, p, _ in reviewed)
    assert caught >= missed / 2, (caught, missed)
    assert listed <= 4 * len(companies), listed


def test_no_job_is_ever_proposed(company: Company) -> None:
    records, _, _, report = company
    jobs = {r.customer_id for r in records if r.job}
    assert jobs, "the generated company has jobs"
    assert not jobs & {m.customer_id for c in report.clusters for m in c.members}


def test_duplicates_with_history_go_to_manual_merge(company: Company) -> None:
    _, txns, _, report = company
    for f in report.findings:
        if f.facts["role"] == "duplicate" and txns.get(f.customer_id):
            assert f.action == "merge"
        if f.action == "deactivate":
            assert not txns.get(f.customer_id) and Decimal(f.facts["balance"]) == 0
