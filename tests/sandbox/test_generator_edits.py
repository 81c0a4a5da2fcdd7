"""Generated companies with everyday bookkeeping (discounts, tax, refunds, voids, deletes, unapplied
payments and credits, jobs, A/R journal entries): balances, ground truth and the Reports API agree."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from qbsync.sandbox.clock import SandboxClock
from qbsync.sandbox.generator import CompanySpec, seed_realm
from qbsync.sandbox.reports import ReportsApi
from qbsync.sandbox.store import Store

REALM = "9130000000000077"
END = date(2025, 6, 30)


def _objects(store: Store, entity: str) -> list[dict[str, Any]]:
    rows = store._read("SELECT data FROM objects WHERE realm = ? AND entity = ?", (REALM, entity))
    return [json.loads(r[0]) for r in rows]


def _d(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


@pytest.fixture(scope="module", params=[5, 11])
def seeded(request: pytest.FixtureRequest) -> tuple[Store, dict[str, Any]]:
    store = Store(clock=SandboxClock(datetime(2025, 7, 1, 12, tzinfo=UTC)))
    truth = seed_realm(
        store, REALM, CompanySpec.everyday(seed=request.param, customers=250, years=2, end_date=END)
    )
    return store, truth


def test_everyday_company_has_every_kind_of_edit(seeded: tuple[Store, dict[str, Any]]) -> None:
    store, truth = seeded
    invoices = _objects(store, "Invoice") + _objects(store, "SalesReceipt")
    assert any(o.get("PrivateNote") == "Voided" and o["TotalAmt"] == 0 for o in invoices)
    discounted = [o for o in invoices if any(ln["DetailType"] == "DiscountLineDetail" for ln in o["Line"])]
    taxed = [o for o in invoices if o["TxnTaxDetail"]["TotalTax"]]
    assert discounted and taxed
    for o in invoices:
        items = sum(_d(ln["Amount"]) for ln in o["Line"] if ln["DetailType"] == "SalesItemLineDetail")
        off = sum(_d(ln["Amount"]) for ln in o["Line"] if ln["DetailType"] == "DiscountLineDetail")
        assert _d(o["TotalAmt"]) == items - off + _d(o["TxnTaxDetail"]["TotalTax"])
    assert _objects(store, "RefundReceipt")
    assert any(p["UnappliedAmt"] for p in _objects(store, "Payment"))
    assert any(c["RemainingCredit"] for c in _objects(store, "CreditMemo"))
    assert any(c.get("Job") for c in _objects(store, "Customer"))
    journals = _objects(store, "JournalEntry")
    assert journals and all(store.journal_ar(REALM, j) for j in journals)
    stubs = store._read("SELECT COUNT(*) FROM tombstones WHERE realm = ?", (REALM,))[0][0]
    assert stubs > 0, "deleted transactions leave CDC stubs"
    assert set(truth["counts"]) >= {"Account", "TaxCode", "RefundReceipt", "JournalEntry"}


def test_balances_are_what_the_ledger_and_the_truth_say(seeded: tuple[Store, dict[str, Any]]) -> None:
    store, truth = seeded
    customers = {c["Id"]: c for c in _objects(store, "Customer")}
    for cid, c in customers.items():
        assert _d(c["Balance"]) == store.open_balance(REALM, int(cid)), cid
        assert _d(c["Balance"]) == _d(truth["customers"][cid]["balance"]), cid
        assert _d(c["BalanceWithJobs"]) == _d(truth["customers"][cid]["balance_with_jobs"]), cid
    total = sum((_d(c["Balance"]) for c in customers.values()), Decimal(0))
    assert total == _d(truth["totals"]["ar_total"])
    assert any(_d(c["Balance"]) < 0 for c in customers.values()), "some customers are in credit"


def _report_totals(report: dict[str, Any]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}

    def walk(rows: dict[str, Any]) -> None:
        for row in rows.get("Row", []):
            if row.get("type") == "Data":
                out[row["ColData"][0]["id"]] = Decimal(row["ColData"][-1]["value"] or "0")
            if "Rows" in row:
                walk(row["Rows"])

    walk(report["Rows"])
    return out


def test_reports_api_agrees_with_the_truth(seeded: tuple[Store, dict[str, Any]]) -> None:
    store, truth = seeded
    api = ReportsApi(store)
    expected = {cid: _d(r["balance"]) for cid, r in truth["customers"].items() if _d(r["balance"])}
    for name in ("AgedReceivables", "CustomerBalance"):
        report = api.run(REALM, name, {"report_date": END.isoformat()})
        # A customer whose open items net to zero keeps its aging row (its buckets are not empty).
        assert {k: v for k, v in _report_totals(report).items() if v} == expected, name
        assert _d(report["Rows"]["Row"][-1]["Summary"]["ColData"][-1]["value"]) == _d(
            truth["totals"]["ar_total"]
        )
    sales = api.run(REALM, "CustomerSales", {"start_date": "2000-01-01", "end_date": END.isoformat()})
    revenue = {cid: _d(r["revenue"]) for cid, r in truth["customers"].items() if _d(r.get("revenue", 0))}
    assert _report_totals(sales) == revenue


def test_default_company_has_none_of_the_edits() -> None:
    spec = CompanySpec(seed=3, customers=60, years=1, end_date=END)
    assert not spec.edits
    store = Store()
    truth = seed_realm(store, REALM, spec)
    assert not {"JournalEntry", "RefundReceipt", "Account", "TaxCode"} & set(truth["counts"])
    totals = truth["totals"]
    assert (totals["unapplied_payments"], totals["journal_ar"]) == ("0.00", "0.00")
    assert _d(totals["ar_total"]) == _d(totals["open_invoices"]) - _d(totals["unapplied_credit"])
    assert not store._read("SELECT COUNT(*) FROM tombstones")[0][0]


def test_cli_seed_everyday(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from qbsync.cli import cli

    db = tmp_path / "s.db"
    args = [
        "sandbox",
        "seed",
        "--db",
        str(db),
        "--realm",
        REALM,
        "--customers",
        "120",
        "--years",
        "2",
        "--end-date",
        END.isoformat(),
        "--everyday",
    ]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert "RefundReceipt" in res.output and "TaxCode 1" in res.output
    truth = json.loads((tmp_path / f"s.db.{REALM}.truth.json").read_text())
    assert truth["spec"]["refund_share"] > 0
