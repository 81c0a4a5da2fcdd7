"""Transactions a real company has: refunds, A/R journal entries, discounts with tax, unapplied payments
and credits, jobs; each moves (or does not move) the customer's Balance/BalanceWithJobs as QBO does."""

from __future__ import annotations

from typing import Any

import pytest

from qbsync.sandbox.server import SandboxServer

from .conftest import REALM, Raw

AR = {"value": "84", "name": "Accounts Receivable (A/R)"}
BAD_DEBT = {"value": "90", "name": "Bad Debts"}


def _ok(resp: Any) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _customer(raw: Raw, cid: str) -> dict[str, Any]:
    return _ok(raw.get(f"customer/{cid}"))["Customer"]


def _sale(raw: Raw, kind: str, customer: str, amount: float, **extra: Any) -> dict[str, Any]:
    line = {
        "Amount": amount,
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
    }
    body = {"CustomerRef": {"value": customer}, "Line": [line], **extra}
    return _ok(raw.post(kind.lower(), body))[kind]


def _je(lines: list[tuple[str, float, dict[str, str], str | None]]) -> dict[str, Any]:
    out = []
    for posting, amount, account, customer in lines:
        detail: dict[str, Any] = {"PostingType": posting, "AccountRef": account}
        if customer:
            detail["Entity"] = {"Type": "Customer", "EntityRef": {"value": customer}}
        out.append(
            {"Amount": amount, "DetailType": "JournalEntryLineDetail", "JournalEntryLineDetail": detail}
        )
    return {"TxnDate": "2024-02-20", "Line": out}


def test_ar_journal_entry_moves_the_customer_balance_and_its_parent(raw: Raw) -> None:
    job = _ok(raw.post("customer", {"DisplayName": "Amy Job", "ParentRef": {"value": "1"}}))["Customer"]
    _sale(raw, "Invoice", job["Id"], 500)
    je = _ok(raw.post("journalentry", _je([("Credit", 200, AR, job["Id"]), ("Debit", 200, BAD_DEBT, None)])))
    entry = je["JournalEntry"]
    assert (
        entry["TotalAmt"] == 200
        and entry["Line"][0]["JournalEntryLineDetail"]["Entity"]["EntityRef"]["name"] == "Amy Job"
    )
    assert _customer(raw, job["Id"])["Balance"] == 300
    assert _customer(raw, "1")["BalanceWithJobs"] == 300
    # A debit to A/R (a finance charge) for another customer in the same entry.
    more = _je([("Debit", 40, AR, "2"), ("Credit", 40, BAD_DEBT, None)])["Line"]
    upd = {**entry, "Line": entry["Line"] + more}
    entry = _ok(raw.post("journalentry", upd))["JournalEntry"]
    assert _customer(raw, "2")["Balance"] == 40
    _ok(raw.post("journalentry", {"Id": entry["Id"], "SyncToken": entry["SyncToken"]}, operation="delete"))
    assert _customer(raw, job["Id"])["Balance"] == 500 and _customer(raw, "2")["Balance"] == 0
    assert raw.query("SELECT COUNT(*) FROM JournalEntry").json()["QueryResponse"] == {"totalCount": 0}


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([("Credit", 10, AR, None), ("Debit", 10, BAD_DEBT, None)], "choose a customer"),
        ([("Credit", 10, AR, "1"), ("Debit", 9, BAD_DEBT, None)], "out of balance"),
    ],
)
def test_journal_entry_faults(raw: Raw, lines: Any, message: str) -> None:
    resp = raw.post("journalentry", _je(lines))
    assert resp.status_code == 400 and message in resp.json()["Fault"]["Error"][0]["Detail"]


def test_journal_entry_on_a_company_account_of_type_ar(raw: Raw, server: SandboxServer) -> None:
    server.store.put(
        REALM, "Account", {"Id": "7", "Name": "Debtors", "AccountType": "Accounts Receivable", "Active": True}
    )
    _ok(raw.post("journalentry", _je([("Debit", 25, {"value": "7"}, "3"), ("Credit", 25, BAD_DEBT, None)])))
    assert _customer(raw, "3")["Balance"] == 25


def test_refund_receipt_is_not_ar_and_voids_and_deletes(raw: Raw) -> None:
    refund = _sale(raw, "RefundReceipt", "1", 120, DepositToAccountRef={"value": "35"})
    assert refund["TotalAmt"] == 120 and refund["Balance"] == 0 and refund["DocNumber"]
    assert _customer(raw, "1")["Balance"] == 0
    voided = _ok(
        raw.post("refundreceipt", {"Id": refund["Id"], "SyncToken": refund["SyncToken"]}, operation="void")
    )["RefundReceipt"]
    assert voided["TotalAmt"] == 0 and voided["PrivateNote"] == "Voided"
    other = _sale(raw, "RefundReceipt", "1", 5)
    _ok(raw.post("refundreceipt", {"Id": other["Id"], "SyncToken": "0"}, operation="delete"))
    ids = [r["Id"] for r in raw.query("SELECT * FROM RefundReceipt").json()["QueryResponse"]["RefundReceipt"]]
    assert ids == [refund["Id"]]


def test_discount_and_tax_make_total_and_percent_discount_is_computed(raw: Raw) -> None:
    body = {
        "CustomerRef": {"value": "2"},
        "ApplyTaxAfterDiscount": True,
        "TxnTaxDetail": {"TotalTax": 72},
        "Line": [
            {
                "Amount": 1000,
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "TaxCodeRef": {"value": "TAX"}},
            },
            {
                "DetailType": "DiscountLineDetail",
                "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": 10},
            },
        ],
    }
    inv = _ok(raw.post("invoice", body))["Invoice"]
    discount = next(ln for ln in inv["Line"] if ln["DetailType"] == "DiscountLineDetail")
    assert discount["Amount"] == 100
    assert inv["TotalAmt"] == 972 and inv["Balance"] == 972 and inv["TxnTaxDetail"]["TotalTax"] == 72
    assert _customer(raw, "2")["Balance"] == 972


def test_unapplied_payment_and_credit_memo_applied_later(raw: Raw) -> None:
    inv = _sale(raw, "Invoice", "4", 300)
    pay = _ok(raw.post("payment", {"CustomerRef": {"value": "4"}, "TotalAmt": 50}))["Payment"]
    assert pay["UnappliedAmt"] == 50 and _customer(raw, "4")["Balance"] == 250
    cm = _sale(raw, "CreditMemo", "4", 80)
    assert _customer(raw, "4")["Balance"] == 170
    # Apply the credit memo to the invoice: a zero-amount payment with two lines, as QuickBooks does.
    apply = {
        "CustomerRef": {"value": "4"},
        "TotalAmt": 0,
        "Line": [
            {"Amount": 80, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]},
            {"Amount": 80, "LinkedTxn": [{"TxnId": cm["Id"], "TxnType": "CreditMemo"}]},
        ],
    }
    applied = _ok(raw.post("payment", apply))["Payment"]
    assert applied["UnappliedAmt"] == 0
    assert _ok(raw.get(f"creditmemo/{cm['Id']}"))["CreditMemo"]["RemainingCredit"] == 0
    assert _ok(raw.get(f"invoice/{inv['Id']}"))["Invoice"]["Balance"] == 220
    assert _customer(raw, "4")["Balance"] == 170
    over = {
        **apply,
        "Line": [
            {"Amount": 10, "LinkedTxn": [{"TxnId": cm["Id"], "TxnType": "CreditMemo"}]},
            {"Amount": 10, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]},
        ],
    }
    resp = raw.post("payment", over)
    assert resp.status_code == 400 and "remaining credit" in resp.json()["Fault"]["Error"][0]["Detail"]
    # Voiding the invoice releases the credit memo again.
    inv_now = _ok(raw.get(f"invoice/{inv['Id']}"))["Invoice"]
    _ok(raw.post("invoice", {"Id": inv["Id"], "SyncToken": inv_now["SyncToken"]}, operation="void"))
    assert _ok(raw.get(f"creditmemo/{cm['Id']}"))["CreditMemo"]["RemainingCredit"] == 80
    assert _customer(raw, "4")["Balance"] == -130, "in credit: 50 unapplied payment + 80 open credit memo"
