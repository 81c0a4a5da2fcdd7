"""Inactive and reactivate findings against a generated sandbox company's planted truth."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from qbsync.cache.db import create_schema, make_engine
from qbsync.cache.models import Realm
from qbsync.cache.upsert import write_objects
from qbsync.rules.activity import load_activity
from qbsync.rules.inactive import find_inactive, find_reactivate
from qbsync.rules.policy import InactivePolicy

generator = pytest.importorskip("qbsync.sandbox.generator")

REALM = "4620816365"


def generated_cache(url: str, spec: Any, realm_id: str = REALM) -> tuple[sa.Engine, dict[str, Any]]:
    """A generated company written into a fresh cache at ``url`` as sync writes it, and its truth."""
    gen = generator.generate_company(spec, realm_id)
    engine = make_engine(url)
    create_schema(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(Realm).values(realm_id=realm_id, company_name="Generated",
                                             created_at=datetime(2020, 1, 1, tzinfo=UTC)))
        for entity, objects in gen.batches():
            write_objects(conn, entity, realm_id, objects, None)
    assert gen.truth is not None
    return engine, gen.truth


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> tuple[sa.Engine, dict[str, Any]]:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('truth')) / 'cache.sqlite3'}"
    return generated_cache(url, generator.CompanySpec(customers=600, seed=11))


def _score(found: set[str], truth: set[str]) -> tuple[float, float]:
    tp = len(found & truth)
    return (tp / len(found) if found else 1.0), (tp / len(truth) if truth else 1.0)


def _holds_money(r: dict[str, Any]) -> bool:
    return Decimal(r.get("balance", "0")) != 0 or Decimal(r.get("unapplied_credit", "0")) != 0


def expected_inactive(truth: dict[str, Any], as_of: date) -> tuple[set[str], set[str]]:
    """From the planted truth alone: who the inactive rule should propose to deactivate, and who
    should go to collections instead (stale but holding money)."""
    customers = truth["customers"]

    def stale(cid: str) -> bool:
        r = customers[cid]
        if "last_activity" in r:
            return (as_of - date.fromisoformat(r["last_activity"])).days > 365
        return (as_of - date.fromisoformat(r["created"])).days > 365  # never bought, long ago

    # a family is stale only when all its members are; truth records the parent of each job
    members: dict[str, list[str]] = {}
    for cid in customers:
        root = cid
        while "parent" in customers[root]:
            root = customers[root]["parent"]
        members.setdefault(root, []).append(cid)
    expected_deact, expected_coll = set(), set()
    for fam in members.values():
        if not all(stale(c) for c in fam):
            continue
        money = [c for c in fam if _holds_money(customers[c])]
        if money:
            expected_coll |= set(money)
        else:
            expected_deact |= {c for c in fam if customers[c].get("active_in_qbo")}
    return expected_deact, expected_coll


def test_inactive_matches_planted_truth(company: tuple[sa.Engine, dict[str, Any]]) -> None:
    engine, truth = company
    as_of = date.fromisoformat(truth["as_of"])
    findings = find_inactive(load_activity(engine, REALM, as_of), InactivePolicy(), as_of)
    customers = truth["customers"]
    expected_deact, expected_coll = expected_inactive(truth, as_of)
    found_deact = {f.customer_id for f in findings if f.action == "deactivate"}
    found_coll = {f.customer_id for f in findings if f.action == "collections"}
    p, r = _score(found_deact, expected_deact)
    print(f"inactive/deactivate: {len(found_deact)} found, {len(expected_deact)} planted, "
          f"precision {p:.3f}, recall {r:.3f}")
    pc, rc = _score(found_coll, expected_coll)
    print(f"inactive/collections: precision {pc:.3f}, recall {rc:.3f}")
    assert len(expected_deact) >= 20
    assert p >= 0.95 and r >= 0.95
    # the guardrail that matters most: nothing holding money is ever proposed for deactivation
    assert not any(_holds_money(customers[c]) for c in found_deact)
    assert not {c for c in found_deact if customers[c].get("brand_new")}


def test_reactivate_matches_planted_truth(company: tuple[sa.Engine, dict[str, Any]]) -> None:
    engine, truth = company
    as_of = date.fromisoformat(truth["as_of"])
    planted = set(truth["inactive_in_qbo_but_active"])
    found = {f.customer_id for f in find_reactivate(load_activity(engine, REALM, as_of),
                                                   InactivePolicy(), as_of)}
    p, r = _score(found, planted)
    print(f"reactivate: {len(found)} found, {len(planted)} planted, precision {p:.3f}, recall {r:.3f}")
    assert planted and p >= 0.9 and r >= 0.9
