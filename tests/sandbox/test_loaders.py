"""Loading real-shaped data: QBO JSON, JSON Lines (wrapped, Singer, Airbyte) and plain CSV."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from qbsync.sandbox.loaders import LoadError, entity_name, load_files
from qbsync.sandbox.store import Store

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "sandbox"
REALM = "9130000000000003"


def _all(store: Store, entity: str) -> dict[str, dict]:
    rows = store._read("SELECT data FROM objects WHERE realm = ? AND entity = ?", (REALM, entity))
    return {json.loads(r[0])["Id"]: json.loads(r[0]) for r in rows}


def test_qbo_json_and_jsonl_load_with_recomputed_balances() -> None:
    store = Store()
    counts = load_files(
        store,
        REALM,
        [FIX / "Item.json", FIX / "Customer.json", FIX / "Invoice.json", FIX / "transactions.jsonl"],
    )
    assert counts == {
        "Item": 1,
        "Customer": 4,
        "Invoice": 2,
        "CreditMemo": 1,
        "SalesReceipt": 1,
        "Payment": 2,
    }
    customers = _all(store, "Customer")
    invoices = _all(store, "Invoice")
    assert invoices["10"]["TotalAmt"] == 300 and invoices["10"]["Balance"] == 100
    assert invoices["11"]["Balance"] == 0
    assert customers["1"]["Balance"] == 100, "the file's stale Balance 999 is recomputed"
    job = customers["3"]
    assert job["Job"] is True and job["Level"] == 1 and job["FullyQualifiedName"] == "Doe, Jack:Jack Doe"
    # Job 3 paid 150.00 against 125.50 owed: 24.50 unapplied; parent 2 has a 25.00 unapplied credit memo.
    payment = _all(store, "Payment")["23"]
    assert payment["UnappliedAmt"] == 24.5
    assert job["Balance"] == -24.5
    assert customers["2"]["Balance"] == -25 and customers["2"]["BalanceWithJobs"] == -49.5
    assert customers["4"]["Active"] is False
    assert store.get_text(REALM, "Invoice", "10") is not None and '"TotalAmt":300.00' in (
        store.get_text(REALM, "Invoice", "10") or ""
    )


def test_csv_customers_and_sales_become_customers_and_receipts() -> None:
    store = Store()
    counts = load_files(store, REALM, [FIX / "customers.csv", FIX / "sales.csv"])
    assert counts["Customer"] == 3 and counts["SalesReceipt"] == 3
    customers = _all(store, "Customer")
    by_name = {c["DisplayName"]: c for c in customers.values()}
    assert set(by_name) == {"Amy's Bird Sanctuary", "Jürgen Müller", "Claire Dubois"}
    amy = by_name["Amy's Bird Sanctuary"]
    assert amy["PrimaryEmailAddr"]["Address"] == "birds@example.com"
    assert amy["BillAddr"]["PostalCode"] == "94326"
    assert sorted(c["Id"] for c in customers.values()) == ["1", "2", "3"]
    receipts = list(_all(store, "SalesReceipt").values())
    amy_receipt = next(r for r in receipts if r["CustomerRef"]["value"] == amy["Id"])
    assert amy_receipt["TotalAmt"] == 1234.5 and amy_receipt["Balance"] == 0
    assert amy_receipt["TxnDate"] == "2025-01-15"
    item_id = amy_receipt["Line"][0]["SalesItemLineDetail"]["ItemRef"]["value"]
    assert store.get(REALM, "Item", item_id) is not None
    assert all(c["Balance"] == 0 for c in customers.values())


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            ["customers.csv", "sales_bad_customer.csv"],
            r"sales_bad_customer.csv line 3: customer 'Nobody Known'",
        ),
        (
            ["customers.csv", "sales_bad_date.csv"],
            r"sales_bad_date.csv line 2: date '15/01/2025' is not YYYY-MM-DD",
        ),
        (["bad.jsonl"], r"bad.jsonl line 2: not valid JSON"),
        (["overpaid.jsonl"], r"overpaid.jsonl line 3: payment applies 12.00 but|exceed"),
    ],
)
def test_bad_input_names_file_and_line_and_writes_nothing(files: list[str], message: str) -> None:
    store = Store()
    with pytest.raises(LoadError, match=message):
        load_files(store, REALM, [FIX / f for f in files])
    assert not store.has_realm(REALM)


def test_list_file_needs_entity_in_its_name(tmp_path: Path) -> None:
    odd = tmp_path / "export.json"
    shutil.copy(FIX / "Invoice.json", odd)
    with pytest.raises(LoadError, match="entity in the file name"):
        load_files(Store(), REALM, [odd])


def test_duplicate_display_names_are_refused(tmp_path: Path) -> None:
    f = tmp_path / "Customer.jsonl"
    f.write_text('{"DisplayName": "Same"}\n{"DisplayName": "same"}\n', encoding="utf-8")
    with pytest.raises(LoadError, match="line 2: DisplayName 'same' is used twice"):
        load_files(Store(), REALM, [f])


def test_stream_names_map_to_entities() -> None:
    assert entity_name("sales_receipts") == "SalesReceipt"
    assert entity_name("customers") == "Customer"
    assert entity_name("classes") == "Class"
    assert entity_name("credit-memos") == "CreditMemo"
    assert entity_name("widgets") is None
