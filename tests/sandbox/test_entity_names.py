"""Every entity name real QuickBooks accepts is accepted by the sandbox, answered empty where it holds none;
the loader skips what it does not hold with one line each."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from qbsync.sandbox.clock import SandboxClock
from qbsync.sandbox.loaders import LoadError, load_files
from qbsync.sandbox.store import Store

from .conftest import Raw

# Singer tap-quickbooks' DeletedObjects stream names these 24 entities in one CDC request.
TAP_CDC_ENTITIES = [
    "Account",
    "BillPayment",
    "Bill",
    "Budget",
    "Class",
    "CreditMemo",
    "Customer",
    "Department",
    "Deposit",
    "Employee",
    "Estimate",
    "Invoice",
    "Item",
    "JournalEntry",
    "PaymentMethod",
    "Payment",
    "PurchaseOrder",
    "Purchase",
    "RefundReceipt",
    "SalesReceipt",
    "Term",
    "Transfer",
    "VendorCredit",
    "Vendor",
]
HOLDS_NONE = "the sandbox holds no {0} objects (it answers queries of them empty)"


def test_query_of_an_entity_the_sandbox_does_not_hold_is_empty(raw: Raw) -> None:
    tap_query = (
        "select * from bill where Metadata.LastUpdatedTime >= '2024-01-01T00:00:00Z' "
        "ORDER BY Metadata.LastUpdatedTime ASC STARTPOSITION 1 MAXRESULTS 1000"
    )
    for text in ("SELECT * FROM BillPayment", tap_query):
        resp = raw.query(text)
        assert resp.status_code == 200, resp.text
        assert resp.json()["QueryResponse"] == {}
    assert raw.query("SELECT COUNT(*) FROM TimeActivity").json()["QueryResponse"] == {"totalCount": 0}
    assert raw.query("SELECT * FROM BillPaymnt").status_code == 400, "a misspelt name is still 4001"


def test_cdc_naming_all_24_tap_entities_answers_one_each(raw: Raw, clock: SandboxClock) -> None:
    since = (clock.now() - timedelta(days=29)).isoformat()
    resp = raw.get("cdc", entities=",".join(TAP_CDC_ENTITIES), changedSince=since)
    assert resp.status_code == 200, resp.text
    parts = resp.json()["CDCResponse"][0]["QueryResponse"]
    assert len(parts) == len(TAP_CDC_ENTITIES)
    held = {k for p in parts for k in p if k not in ("startPosition", "maxResults")}
    assert held == {"Customer"}, "customers 2-6 of the small company changed within 29 days"
    assert parts[TAP_CDC_ENTITIES.index("BillPayment")] == {}
    assert raw.get("cdc", entities="TimeActivity", changedSince=since).status_code == 400, (
        "CDC does not cover TimeActivity (Intuit's CDC page)"
    )


def test_batch_query_of_unheld_entities_and_writes_to_them(raw: Raw) -> None:
    body = raw.post(
        "batch",
        {
            "BatchItemRequest": [
                {"bId": "Bill", "Query": "SELECT * FROM Bill STARTPOSITION 1 MAXRESULTS 1000"},
                {"bId": "Customer", "Query": "SELECT * FROM Customer WHERE Id = '1'"},
                {"bId": "w", "operation": "create", "Bill": {"VendorRef": {"value": "1"}}},
            ]
        },
    ).json()
    by_id = {item["bId"]: item for item in body["BatchItemResponse"]}
    assert by_id["Bill"]["QueryResponse"] == {}
    assert by_id["Customer"]["QueryResponse"]["Customer"][0]["Id"] == "1"
    assert "does not hold" not in json.dumps(by_id["Customer"])
    assert "not supported by the qbsync sandbox" in by_id["w"]["Fault"]["Error"][0]["Detail"]
    resp = raw.post("bill", {"VendorRef": {"value": "1"}})
    assert resp.status_code == 400 and "Bill is not supported" in resp.json()["Fault"]["Error"][0]["Detail"]
    resp = raw.get("bill/7")
    assert resp.status_code == 400 and resp.json()["Fault"]["Error"][0]["code"] == "610"


# ---- loader ----

REALM = "9130000000000009"


def _write(tmp: Path, name: str, lines: list[dict]) -> Path:
    path = tmp / name
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return path


def test_singer_output_loads_what_the_sandbox_holds_and_skips_the_rest(tmp_path: Path) -> None:
    cust = {"Id": "1", "DisplayName": "Amy's Bird Sanctuary"}
    singer = _write(
        tmp_path,
        "tap.jsonl",
        [
            {"type": "SCHEMA", "stream": "customers", "schema": {}},
            {"type": "RECORD", "stream": "customers", "record": cust},
            {"type": "RECORD", "stream": "bills", "record": {"Id": "5", "TotalAmt": 10}},
            {"type": "RECORD", "stream": "bills", "record": {"Id": "6", "TotalAmt": 12}},
            {"type": "RECORD", "stream": "bill_payments", "record": {"Id": "7"}},
            {"type": "RECORD", "stream": "deleted_objects", "record": {"Id": "9", "Type": "Invoice"}},
            {"type": "STATE", "value": {}},
        ],
    )
    bills = tmp_path / "Bill.json"
    bills.write_text(json.dumps([{"Id": "1"}, {"Id": "2"}, {"Id": "3"}]), encoding="utf-8")
    envelope = tmp_path / "dump.json"
    envelope.write_text(
        json.dumps(
            {"QueryResponse": {"Vendor": [{"Id": "1", "DisplayName": "V"}], "Purchase": [{"Id": "4"}]}}
        ),
        encoding="utf-8",
    )
    store = Store()
    result = load_files(store, REALM, [singer, bills, envelope])
    assert dict(result) == {"Customer": 1, "Vendor": 1}
    assert result.skipped == [
        "skipped 3 Bill records from Bill.json: " + HOLDS_NONE.format("Bill"),
        "skipped 2 Bill records from tap.jsonl: " + HOLDS_NONE.format("Bill"),
        "skipped 1 BillPayment record from tap.jsonl: " + HOLDS_NONE.format("BillPayment"),
        "skipped 1 Purchase record from dump.json: " + HOLDS_NONE.format("Purchase"),
        "skipped 1 deleted_objects record from tap.jsonl: not a QuickBooks entity (a report or "
        "deleted-objects stream, or a misspelt name)",
    ]
    assert store.get(REALM, "Customer", "1") is not None


def test_only_unheld_records_is_an_error_and_writes_nothing(tmp_path: Path) -> None:
    f = _write(tmp_path, "bills.jsonl", [{"Id": "1", "TotalAmt": 3}])
    store = Store()
    with pytest.raises(LoadError, match=r"nothing to load: skipped 1 Bill record from bills\.jsonl"):
        load_files(store, REALM, [f])
    assert not store.has_realm(REALM)


def test_cli_load_prints_counts_and_skip_lines(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from qbsync.cli import cli

    f = _write(
        tmp_path,
        "tap.jsonl",
        [
            {"type": "RECORD", "stream": "customers", "record": {"Id": "1", "DisplayName": "Amy"}},
            {"type": "RECORD", "stream": "purchase_orders", "record": {"Id": "1"}},
        ],
    )
    args = ["sandbox", "load", "--db", str(tmp_path / "s.db"), "--realm", REALM, str(f)]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert f"loaded into company {REALM}: Customer 1" in res.stdout
    assert "skipped 1 PurchaseOrder record from tap.jsonl: the sandbox holds no PurchaseOrder" in res.stderr


def test_loader_loads_journal_entries_into_customer_balances(tmp_path: Path) -> None:
    ar = {"value": "84", "name": "Debtors"}
    lines: list[dict[str, Any]] = [
        {"Customer": {"Id": "1", "DisplayName": "Amy"}},
        {"Account": {"Id": "84", "Name": "Debtors", "AccountType": "Accounts Receivable"}},
        {"Account": {"Id": "90", "Name": "Bad Debts", "AccountType": "Expense"}},
        {
            "JournalEntry": {
                "Id": "3",
                "TxnDate": "2025-01-31",
                "Line": [
                    {
                        "Amount": 40,
                        "DetailType": "JournalEntryLineDetail",
                        "JournalEntryLineDetail": {
                            "PostingType": "Debit",
                            "AccountRef": ar,
                            "Entity": {"Type": "Customer", "EntityRef": {"name": "Amy"}},
                        },
                    },
                    {
                        "Amount": 40,
                        "DetailType": "JournalEntryLineDetail",
                        "JournalEntryLineDetail": {"PostingType": "Credit", "AccountRef": {"value": "90"}},
                    },
                ],
            }
        },
    ]
    store = Store()
    result = load_files(store, REALM, [_write(tmp_path, "books.jsonl", lines)])
    assert dict(result) == {"Account": 2, "Customer": 1, "JournalEntry": 1}
    assert (store.get(REALM, "Customer", "1") or {})["Balance"] == 40
    assert store.open_balance(REALM, 1) == 40, "the store's own A/R lines agree with the loaded balance"
    bad = [
        lines[0],
        {"JournalEntry": {**lines[3]["JournalEntry"], "Line": lines[3]["JournalEntry"]["Line"][:1]}},
    ]
    with pytest.raises(LoadError, match=r"debits 40\.00 and credits 0 differ"):
        load_files(Store(), REALM, [_write(tmp_path, "bad.jsonl", bad)])
