"""Time forward: contacted and other customers come back at the rates asked, and the data shows it."""

from __future__ import annotations

import json
from datetime import date

import pytest

from qbsync.sandbox.generator import CompanySpec, seed_realm
from qbsync.sandbox.generator.timeforward import advance
from qbsync.sandbox.store import Store

REALM = "9130000000000002"
START = date(2025, 7, 1)


@pytest.fixture(scope="module")
def company() -> tuple[Store, dict]:
    store = Store()
    truth = seed_realm(
        store, REALM, CompanySpec(seed=11, customers=1500, years=2, end_date=date(2025, 6, 30))
    )
    return store, truth


def _purchasers_since(store: Store, day: date) -> set[str]:
    out = set()
    for entity in ("Invoice", "SalesReceipt"):
        rows = store._read(
            "SELECT data FROM objects WHERE realm = ? AND entity = ? AND txn_date >= ?",
            (REALM, entity, day.isoformat()),
        )
        out |= {json.loads(r[0])["CustomerRef"]["value"] for r in rows}
    return out


def test_return_shares_follow_the_rates(company: tuple[Store, dict]) -> None:
    store, truth = company
    lapsed = set(truth["no_activity_365"]) - set(truth["inactive_in_qbo"])
    contacted = set(sorted(lapsed, key=int)[: len(lapsed) // 2]) | set(truth["churned"][:150])
    result = advance(
        store, REALM, 30, start=START, contacted_ids=contacted, contacted_rate=0.4, other_rate=0.1, seed=3
    )
    c, o = result["contacted"], result["others"]
    assert c["population"] == len(contacted)
    assert abs(c["share"] - 0.4) < 0.08 and abs(o["share"] - 0.1) < 0.03
    returned = set(c["returned"]) | set(o["returned"])
    assert _purchasers_since(store, START) == returned
    assert set(c["returned"]) <= contacted and not set(o["returned"]) & contacted
    for cid in list(returned)[:50]:
        assert store.get(REALM, "Customer", cid) is not None


def test_paid_invoices_leave_balances_alone_and_same_seed_repeats() -> None:
    runs = []
    for _ in range(2):
        store = Store()
        seed_realm(store, REALM, CompanySpec(seed=5, customers=120, years=1, end_date=date(2025, 6, 30)))
        before = store.open_balance(REALM, 1)
        runs.append(
            advance(
                store,
                REALM,
                10,
                start=START,
                contacted_ids={"1", "2"},
                contacted_rate=1.0,
                other_rate=0.5,
                seed=9,
            )
        )
        assert store.open_balance(REALM, 1) == before
        rows = store._read(
            "SELECT data FROM objects WHERE realm = ? AND entity = 'Invoice' AND txn_date >= ?",
            (REALM, START.isoformat()),
        )
        assert all(json.loads(r[0])["Balance"] == 0 for r in rows)
    assert runs[0] == runs[1]
    assert {"1", "2"} <= set(runs[0]["contacted"]["returned"])


def test_unknown_contacted_id_is_an_error() -> None:
    store = Store()
    seed_realm(store, REALM, CompanySpec(seed=5, customers=30, years=1, end_date=date(2025, 6, 30)))
    with pytest.raises(ValueError, match="99999"):
        advance(
            store, REALM, 5, start=START, contacted_ids={"99999"}, contacted_rate=0.5, other_rate=0.1, seed=1
        )
