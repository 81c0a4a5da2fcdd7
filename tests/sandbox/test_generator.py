"""The sample-company generator: books that balance, truth that matches the data, same seed same bytes."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from qbsync.sandbox.generator import CompanySpec, generate_company, payment_class, seed_realm
from qbsync.sandbox.store import Store

REALM = "9130000000000001"
SPEC = CompanySpec(seed=7, customers=600, years=3, end_date=date(2025, 6, 30))


def _all(store: Store, entity: str) -> list[dict[str, Any]]:
    rows = store._read("SELECT data FROM objects WHERE realm = ? AND entity = ? ORDER BY id", (REALM, entity))
    return [json.loads(r[0]) for r in rows]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, dict[str, Any], Path]:
    store = Store()
    path = tmp_path_factory.mktemp("truth") / "truth.json"
    truth = seed_realm(store, REALM, SPEC, truth_path=path)
    return store, truth, path


@pytest.fixture(scope="module")
def books(seeded: tuple[Store, dict[str, Any], Path]) -> dict[str, list[dict[str, Any]]]:
    store = seeded[0]
    return {e: _all(store, e) for e in ("Customer", "Invoice", "Payment", "SalesReceipt", "CreditMemo",
                                        "Estimate", "Item", "Department", "Class")}


def D(x: Any) -> Decimal:
    return Decimal(str(x)).quantize(Decimal("0.01"))


def test_company_has_every_kind_of_record(books: dict[str, list[dict[str, Any]]]) -> None:
    for entity, objs in books.items():
        assert objs, f"no {entity} generated"
    customers = books["Customer"]
    assert sum(1 for c in customers if not c["Job"]) == SPEC.customers
    assert any(c.get("CompanyName") for c in customers)
    assert any(c.get("Level") == 2 for c in customers), "no sub-job"
    countries = {c.get("BillAddr", {}).get("Country") for c in customers}
    assert {"Canada", "United Kingdom", "Australia", "Germany", "France"} <= countries


def test_ids_are_strings_and_money_has_two_decimals(seeded: tuple[Store, dict[str, Any], Path]) -> None:
    store = seeded[0]
    for entity in ("Customer", "Invoice", "Payment"):
        text = store._read("SELECT data FROM objects WHERE realm = ? AND entity = ? LIMIT 50",
                           (REALM, entity))
        for (raw,) in text:
            obj = json.loads(raw)
            assert isinstance(obj["Id"], str) and isinstance(obj["SyncToken"], str)
            for key in ("TotalAmt", "Balance"):
                if key in obj and obj[key] != 0:
                    assert f'"{key}":{D(obj[key])}' in raw, (key, raw[:200])


def test_display_names_unique_and_jobs_hang_off_existing_parents(
        books: dict[str, list[dict[str, Any]]]) -> None:
    customers = {c["Id"]: c for c in books["Customer"]}
    names = [c["DisplayName"].casefold() for c in customers.values()]
    assert len(names) == len(set(names))
    for c in customers.values():
        assert ":" not in c["DisplayName"]
        if c["Job"]:
            parent = customers[c["ParentRef"]["value"]]
            assert int(parent["Id"]) < int(c["Id"])
            assert c["Level"] == parent.get("Level", 0) + 1
            assert c["FullyQualifiedName"] == f"{parent['FullyQualifiedName']}:{c['DisplayName']}"
        else:
            assert c["FullyQualifiedName"] == c["DisplayName"]
        if not c["Active"]:
            assert c["DisplayName"].endswith(" (deleted)")
            assert D(c["BalanceWithJobs"]) == 0


def test_balances_are_consistent(books: dict[str, list[dict[str, Any]]]) -> None:
    invoices = {i["Id"]: i for i in books["Invoice"]}
    credits = {c["Id"]: c for c in books["CreditMemo"]}
    applied: dict[str, Decimal] = defaultdict(Decimal)
    credit_used: dict[str, Decimal] = defaultdict(Decimal)
    for p in books["Payment"]:
        lines = Decimal(0)
        for line in p["Line"]:
            (link,) = line["LinkedTxn"]
            if link["TxnType"] == "Invoice":
                target = invoices[link["TxnId"]]
                assert target["CustomerRef"]["value"] == p["CustomerRef"]["value"]
                applied[link["TxnId"]] += D(line["Amount"])
                lines += D(line["Amount"])
            else:
                credit_used[link["TxnId"]] += D(line["Amount"])
                lines -= D(line["Amount"])
        assert lines == D(p["TotalAmt"])
    for inv in invoices.values():
        line_sum = sum(D(x["Amount"]) for x in inv["Line"] if x["DetailType"] == "SalesItemLineDetail")
        assert line_sum == D(inv["TotalAmt"])
        assert applied[inv["Id"]] <= D(inv["TotalAmt"]), "payments exceed the invoice"
        assert D(inv["Balance"]) == D(inv["TotalAmt"]) - applied[inv["Id"]]
    for cm in credits.values():
        assert D(cm["RemainingCredit"]) == D(cm["TotalAmt"]) - credit_used[cm["Id"]]
    own: dict[str, Decimal] = defaultdict(Decimal)
    for inv in invoices.values():
        own[inv["CustomerRef"]["value"]] += D(inv["Balance"])
    for cm in credits.values():
        own[cm["CustomerRef"]["value"]] -= D(cm["RemainingCredit"])
    customers = {c["Id"]: c for c in books["Customer"]}
    with_jobs = dict(own)
    for c in sorted(customers.values(), key=lambda c: -c.get("Level", 0)):
        if c["Job"]:
            parent = c["ParentRef"]["value"]
            with_jobs[parent] = with_jobs.get(parent, Decimal(0)) + with_jobs.get(c["Id"], Decimal(0))
    for cid, c in customers.items():
        assert D(c["Balance"]) == own.get(cid, 0), cid
        assert D(c["BalanceWithJobs"]) == with_jobs.get(cid, 0), cid
    for s in books["SalesReceipt"]:
        assert D(s["Balance"]) == 0


def test_payment_dates_and_links(books: dict[str, list[dict[str, Any]]]) -> None:
    invoices = {i["Id"]: i for i in books["Invoice"]}
    for p in books["Payment"]:
        for line in p["Line"]:
            link = line["LinkedTxn"][0]
            if link["TxnType"] == "Invoice":
                inv = invoices[link["TxnId"]]
                assert inv["TxnDate"] <= p["TxnDate"] <= SPEC.end_date.isoformat()
                assert {"TxnId": p["Id"], "TxnType": "Payment"} in inv["LinkedTxn"]


def test_truth_matches_the_data(seeded: tuple[Store, dict[str, Any], Path],
                                books: dict[str, list[dict[str, Any]]]) -> None:
    truth = seeded[1]
    people = truth["customers"]
    customers = {c["Id"]: c for c in books["Customer"]}
    assert set(people) == set(customers)
    purchases: dict[str, list[str]] = defaultdict(list)
    for e in ("Invoice", "SalesReceipt"):
        for t in books[e]:
            purchases[t["CustomerRef"]["value"]].append(t["TxnDate"])
    households: dict[str, list[str]] = defaultdict(list)
    for cid in customers:
        top = cid
        while customers[top]["Job"]:
            top = customers[top]["ParentRef"]["value"]
        households[top] += purchases[cid]
    assert truth["churned"] and truth["came_back"]
    for cid in truth["churned"]:
        rec = people[cid]
        back = rec.get("came_back_on", "9999-12-31")
        assert not [d for d in households[cid] if rec["churned_on"] <= d < back], cid
        if "came_back_on" in rec:
            assert rec["came_back_on"] in households[cid]
    for cid, rec in people.items():
        assert rec["name"] in customers[cid]["DisplayName"]
        assert rec["active_in_qbo"] == customers[cid]["Active"]
        if purchases[cid]:
            assert rec["last_purchase"] == max(purchases[cid])
            assert rec["first_purchase"] == min(purchases[cid])
        else:
            assert "last_purchase" not in rec
        if rec.get("brand_new"):
            assert not purchases[cid] and rec["created"] >= "2025-05-31"
        assert D(rec["balance"]) == D(customers[cid]["Balance"])
    assert truth["inactive_in_qbo_but_active"], "no planted reactivation case"
    for cid in truth["inactive_in_qbo_but_active"]:
        assert not customers[cid]["Active"] and people[cid]["last_activity"] >= "2024-06-30"


def test_payment_class_is_what_the_invoices_say(seeded: tuple[Store, dict[str, Any], Path],
                                                books: dict[str, list[dict[str, Any]]]) -> None:
    truth = seeded[1]
    payments = {p["Id"]: p for p in books["Payment"]}
    by_customer: dict[str, list[tuple[int, int | None, int]]] = defaultdict(list)
    for inv in books["Invoice"]:
        dates = [payments[x["TxnId"]]["TxnDate"] for x in inv["LinkedTxn"] if x["TxnType"] == "Payment"]
        open_cents = int(D(inv["Balance"]) * 100)
        settled = date.fromisoformat(max(dates)).toordinal() if dates and not open_cents else None
        by_customer[inv["CustomerRef"]["value"]].append(
            (date.fromisoformat(inv["DueDate"]).toordinal(), settled, open_cents))
    seen = set()
    for cid, rec in truth["customers"].items():
        got = payment_class(by_customer.get(cid, []), SPEC.end_date.toordinal())
        assert rec.get("payment_class") == got, cid
        seen.add(got)
    assert {"on_time", "sometimes_late", "chronically_late", "non_payer"} <= seen


def test_planted_duplicates_are_in_the_data(seeded: tuple[Store, dict[str, Any], Path],
                                            books: dict[str, list[dict[str, Any]]]) -> None:
    truth = seeded[1]
    customers = {c["Id"]: c for c in books["Customer"]}
    clusters = truth["duplicate_clusters"]
    assert clusters
    kinds = set()
    with_txns = set()
    for e in ("Invoice", "SalesReceipt"):
        with_txns |= {t["CustomerRef"]["value"] for t in books[e]}
    for cluster in clusters:
        orig, *dups = cluster
        assert "duplicate_of" not in truth["customers"][orig]
        for dup in dups:
            rec = truth["customers"][dup]
            assert rec["duplicate_of"] == orig
            kinds.add(rec["duplicate_kind"])
            a, b = customers[orig], customers[dup]
            assert a["DisplayName"] != b["DisplayName"]
            assert int(dup) > int(orig)
            if rec["duplicate_kind"] == "same_email":
                assert a["PrimaryEmailAddr"] == b["PrimaryEmailAddr"]
            if rec["duplicate_kind"] == "phone_format":
                pa, pb = a["PrimaryPhone"]["FreeFormNumber"], b["PrimaryPhone"]["FreeFormNumber"]
                assert pa != pb
                assert "".join(ch for ch in pa if ch.isdigit())[-7:] == "".join(
                    ch for ch in pb if ch.isdigit())[-7:]
            if rec["duplicate_kind"] == "own_transactions":
                assert dup in with_txns
            elif rec["duplicate_kind"] != "own_transactions":
                assert dup not in with_txns
    assert kinds == {"case_punct", "legal_suffix", "typo", "swapped_names", "same_email", "phone_format",
                     "own_transactions"}


def test_same_seed_same_bytes_and_other_seed_differs(seeded: tuple[Store, dict[str, Any], Path]) -> None:
    small = CompanySpec(seed=7, customers=150, years=2, end_date=date(2025, 6, 30))

    def dump(spec: CompanySpec) -> str:
        c = generate_company(spec)
        body = json.dumps([c.company_info, list(c.batches())], sort_keys=True)
        return body + json.dumps(c.truth, sort_keys=True)

    assert dump(small) == dump(small)
    assert dump(small) != dump(CompanySpec(seed=8, customers=150, years=2, end_date=date(2025, 6, 30)))
    path = seeded[2]
    again = Path(str(path) + ".again")
    seed_realm(Store(), REALM, SPEC, truth_path=again)
    assert path.read_bytes() == again.read_bytes()
