"""The Reports API: QuickBooks' response shapes (checked against Intuit's documented examples), its
parameters, and every figure against an independent recomputation from the sandbox's own records."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from qbsync.sandbox.server import SandboxServer

from .conftest import REALM, Raw

AR = {"value": "84", "name": "Accounts Receivable (A/R)"}
TODAY = date(2024, 3, 1)  # the conftest clock: 2024-03-01 12:00 in the company's -08:00


def _ok(resp: Any) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _line(amount: float) -> dict[str, Any]:
    return {
        "Amount": amount,
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
    }


@pytest.fixture
def company(raw: Raw) -> dict[str, str]:
    """A small company edited as a bookkeeper would: partial and unapplied payments, a credit memo, a job,
    an A/R journal entry, a voided and a deleted invoice, a refund, discounts with tax."""
    post = lambda kind, body, **p: _ok(raw.post(kind, body, **p))  # noqa: E731
    job = post("customer", {"DisplayName": "Roof Job", "ParentRef": {"value": "3"}})["Customer"]["Id"]
    inv1 = post(
        "invoice",
        {
            "CustomerRef": {"value": "1"},
            "TxnDate": "2023-11-20",
            "DueDate": "2023-12-20",
            "Line": [_line(400)],
        },
    )["Invoice"]
    post(
        "payment",
        {
            "CustomerRef": {"value": "1"},
            "TxnDate": "2024-02-20",
            "TotalAmt": 150,
            "Line": [{"Amount": 100, "LinkedTxn": [{"TxnId": inv1["Id"], "TxnType": "Invoice"}]}],
        },
    )
    post("creditmemo", {"CustomerRef": {"value": "2"}, "TxnDate": "2024-01-10", "Line": [_line(75)]})
    post(
        "invoice",
        {
            "CustomerRef": {"value": job},
            "TxnDate": "2024-02-25",
            "Line": [
                _line(1000),
                {
                    "DetailType": "DiscountLineDetail",
                    "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": 10},
                },
            ],
            "TxnTaxDetail": {"TotalTax": 72},
        },
    )
    post(
        "invoice",
        {
            "CustomerRef": {"value": "3"},
            "TxnDate": "2023-06-01",
            "DueDate": "2023-06-15",
            "Line": [_line(60)],
        },
    )
    post(
        "journalentry",
        {
            "TxnDate": "2024-01-31",
            "Line": [
                {
                    "Amount": 30,
                    "DetailType": "JournalEntryLineDetail",
                    "JournalEntryLineDetail": {
                        "PostingType": "Credit",
                        "AccountRef": AR,
                        "Entity": {"Type": "Customer", "EntityRef": {"value": "3"}},
                    },
                },
                {
                    "Amount": 30,
                    "DetailType": "JournalEntryLineDetail",
                    "JournalEntryLineDetail": {
                        "PostingType": "Debit",
                        "AccountRef": {"value": "90", "name": "Bad Debts"},
                    },
                },
            ],
        },
    )
    void = post("invoice", {"CustomerRef": {"value": "4"}, "TxnDate": "2024-01-05", "Line": [_line(55)]})[
        "Invoice"
    ]
    post("invoice", {"Id": void["Id"], "SyncToken": void["SyncToken"]}, operation="void")
    gone = post("invoice", {"CustomerRef": {"value": "4"}, "TxnDate": "2024-01-06", "Line": [_line(66)]})[
        "Invoice"
    ]
    post("invoice", {"Id": gone["Id"], "SyncToken": gone["SyncToken"]}, operation="delete")
    post("salesreceipt", {"CustomerRef": {"value": "5"}, "TxnDate": "2024-02-02", "Line": [_line(200)]})
    post("refundreceipt", {"CustomerRef": {"value": "5"}, "TxnDate": "2024-02-03", "Line": [_line(50)]})
    return {"job": job}


# ---- an independent recomputation from the company's records (read back over the API) ----


def _all(raw: Raw, entity: str) -> list[dict[str, Any]]:
    found = raw.query(f"SELECT * FROM {entity} STARTPOSITION 1 MAXRESULTS 1000").json()["QueryResponse"]
    return list(found.get(entity, []))


def _open_items(raw: Raw, as_of: date) -> list[tuple[str, date, Decimal]]:
    """(customer Id, the date it ages from, signed open amount) of every open A/R item on ``as_of``."""
    d = lambda t: date.fromisoformat(t)  # noqa: E731
    payments = [p for p in _all(raw, "Payment") if d(p["TxnDate"]) <= as_of]
    paid: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for p in payments:
        for line in p.get("Line", []):
            for lt in line["LinkedTxn"]:
                paid[(lt["TxnType"], lt["TxnId"])] += Decimal(str(line["Amount"]))
    out = []
    for inv in _all(raw, "Invoice"):
        if d(inv["TxnDate"]) <= as_of:
            out.append(
                (
                    inv["CustomerRef"]["value"],
                    d(inv["DueDate"]),
                    Decimal(str(inv["TotalAmt"])) - paid[("Invoice", inv["Id"])],
                )
            )
    for cm in _all(raw, "CreditMemo"):
        if d(cm["TxnDate"]) <= as_of:
            out.append(
                (
                    cm["CustomerRef"]["value"],
                    d(cm["TxnDate"]),
                    -(Decimal(str(cm["TotalAmt"])) - paid[("CreditMemo", cm["Id"])]),
                )
            )
    for p in payments:
        applied = sum(
            (
                Decimal(str(ln["Amount"])) * (-1 if ln["LinkedTxn"][0]["TxnType"] == "CreditMemo" else 1)
                for ln in p.get("Line", [])
            ),
            Decimal(0),
        )
        out.append((p["CustomerRef"]["value"], d(p["TxnDate"]), -(Decimal(str(p["TotalAmt"])) - applied)))
    for je in _all(raw, "JournalEntry"):
        if d(je["TxnDate"]) <= as_of:
            for ln in je["Line"]:
                det = ln["JournalEntryLineDetail"]
                if det["AccountRef"]["name"].startswith("Accounts Receivable") and "Entity" in det:
                    sign = -1 if det["PostingType"] == "Credit" else 1
                    out.append(
                        (
                            det["Entity"]["EntityRef"]["value"],
                            d(je["TxnDate"]),
                            sign * Decimal(str(ln["Amount"])),
                        )
                    )
    return [o for o in out if o[2]]


def _data_rows(rows: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for row in rows.get("Row", []):
        if row.get("type") == "Data":
            yield row
        if "Rows" in row:
            yield from _data_rows(row["Rows"])


def _by_customer(report: dict[str, Any]) -> dict[str, list[Decimal]]:
    return {
        r["ColData"][0]["id"]: [Decimal(c["value"] or "0") for c in r["ColData"][1:]]
        for r in _data_rows(report["Rows"])
    }


def _grand(report: dict[str, Any]) -> list[str]:
    last = report["Rows"]["Row"][-1]
    assert last["group"] == "GrandTotal" and last["Summary"]["ColData"][0]["value"] == "TOTAL"
    return [c["value"] for c in last["Summary"]["ColData"][1:]]


@pytest.mark.parametrize("as_of", [TODAY, date(2024, 2, 15), date(2023, 12, 31)])
@pytest.mark.parametrize(("period", "periods"), [(30, 4), (15, 3)])
def test_aging_summary_matches_an_independent_recomputation(
    raw: Raw, company: dict[str, str], as_of: date, period: int, periods: int
) -> None:
    report = _ok(
        raw.get(
            "reports/AgedReceivables",
            report_date=as_of.isoformat(),
            aging_period=str(period),
            num_periods=str(periods),
            minorversion="75",
        )
    )
    expected: dict[str, list[Decimal]] = {}
    for cid, due, amount in _open_items(raw, as_of):
        late = (as_of - due).days
        bucket = 0 if late <= 0 else min(periods, (late - 1) // period + 1)
        row = expected.setdefault(cid, [Decimal(0)] * (periods + 2))
        row[bucket] += amount
        row[-1] += amount
    assert _by_customer(report) == {c: v for c, v in expected.items() if any(v)}
    titles = [c["ColTitle"] for c in report["Columns"]["Column"]]
    assert titles[1] == "Current" and titles[-2] == f"{(periods - 1) * period + 1} and over"
    assert Decimal(_grand(report)[-1]) == sum((v[-1] for v in expected.values()), Decimal(0))


def test_aging_total_ties_to_customer_balances_and_credits_are_negative(
    raw: Raw, company: dict[str, str]
) -> None:
    report = _ok(raw.get("reports/AgedReceivables"))
    balances = {c["Id"]: Decimal(str(c["Balance"])) for c in _all(raw, "Customer") if c["Balance"]}
    assert {k: v[-1] for k, v in _by_customer(report).items()} == balances
    assert Decimal(_grand(report)[-1]) == sum(balances.values())
    assert balances["2"] == Decimal("-75"), "a customer in credit is shown, negative"
    # The job's row sits inside its parent's section, with the parent's total.
    parent = next(
        r for r in report["Rows"]["Row"] if r.get("Header", {}).get("ColData", [{}])[0].get("id") == "3"
    )
    assert parent["Summary"]["ColData"][0]["value"] == "Total Cool Cars"
    assert Decimal(parent["Summary"]["ColData"][-1]["value"]) == balances["3"] + balances[company["job"]]


def test_customer_balance_summary_and_detail(raw: Raw, company: dict[str, str]) -> None:
    summary = _ok(raw.get("reports/CustomerBalance", report_date="2024-02-15"))
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for cid, _, amount in _open_items(raw, date(2024, 2, 15)):
        expected[cid] += amount
    assert {k: v[0] for k, v in _by_customer(summary).items()} == {k: v for k, v in expected.items() if v}
    detail = _ok(raw.get("reports/CustomerBalanceDetail", report_date="2024-02-15"))
    assert [c["ColType"] for c in detail["Columns"]["Column"]] == [
        "tx_date",
        "txn_type",
        "doc_num",
        "due_date",
        "subt_amount",
        "subt_open_bal",
        "rbal_open_bal",
    ]
    sections = detail["Rows"]["Row"][:-1]
    got = {s["Header"]["ColData"][0]["id"]: Decimal(s["Summary"]["ColData"][5]["value"]) for s in sections}
    assert got == {k: v for k, v in expected.items() if v}
    amy = next(s for s in sections if s["Header"]["ColData"][0]["id"] == "1")
    assert [r["ColData"][1]["value"] for r in amy["Rows"]["Row"]] == ["Invoice"], (
        "on 2024-02-15 the payment of 2024-02-20 had not happened: the whole invoice is open"
    )
    assert amy["Rows"]["Row"][0]["ColData"][6]["value"] == "400.00"


def test_aging_detail_sections_filters_and_columns(raw: Raw, company: dict[str, str]) -> None:
    detail = _ok(raw.get("reports/AgedReceivableDetail", report_date="2024-03-01"))
    titles = [s["Header"]["ColData"][0]["value"] for s in detail["Rows"]["Row"][:-1]]
    assert titles == [
        "Current",
        "1 - 30 days past due",
        "31 - 60 days past due",
        "61 - 90 days past due",
        "91 or more days past due",
    ]
    cells = [r["ColData"] for r in _data_rows(detail["Rows"])]
    types = {c[1]["value"] for c in cells}
    assert types == {"Invoice", "Payment", "Credit Memo", "Journal Entry"}
    assert all(c[1].get("id") and c[3].get("id") for c in cells), "txn_type and cust_name cells carry ids"
    job_row = next(c for c in cells if c[3]["id"] == company["job"])
    assert job_row[3]["value"] == "Cool Cars:Roof Job" and job_row[5]["value"] == "972.00"
    total = sum(Decimal(c[6]["value"]) for c in cells)
    assert Decimal(_grand(detail)[-1]) == total
    late = _ok(raw.get("reports/AgedReceivableDetail", past_due="61", columns="cust_name,subt_open_bal"))
    assert [c["ColType"] for c in late["Columns"]["Column"]] == ["cust_name", "subt_open_bal"]
    assert {r["ColData"][0]["id"] for r in _data_rows(late["Rows"])} == {"1", "3"}
    one = _ok(raw.get("reports/AgedReceivableDetail", customer="2"))
    assert one["Header"]["Customer"] == "2"
    assert {r["ColData"][3]["id"] for r in _data_rows(one["Rows"])} == {"2"}


def test_aging_method_current_counts_every_payment_and_ages_on_today(
    raw: Raw, company: dict[str, str]
) -> None:
    """Report_Date: open after the payments dated up to the report date, aged on it. Current: open after
    every payment received ("all payments received", Intuit's help), aged on today ("the date upon
    which aging is determined", the API reference); transactions dated after the report date stay out."""
    by_report = _by_customer(_ok(raw.get("reports/AgedReceivables", report_date="2024-01-15")))
    by_today = _by_customer(
        _ok(raw.get("reports/AgedReceivables", report_date="2024-01-15", aging_method="Current"))
    )
    assert by_report["1"][-1] == Decimal(400) and by_report["1"][1] == Decimal(400), "26 days late on 01-15"
    # the 2024-02-20 payment applied 100.00; its unapplied 50.00 is dated after the report date
    assert by_today["1"][-1] == Decimal(300) and by_today["1"][3] == Decimal(300), "72 days late on 03-01"


def test_sales_by_customer_after_discounts_before_tax_refunds_negative(
    raw: Raw, company: dict[str, str]
) -> None:
    report = _ok(raw.get("reports/CustomerSales", start_date="2024-01-01", end_date="2024-03-01"))
    sales = {k: v[0] for k, v in _by_customer(report).items()}
    assert sales == {company["job"]: Decimal(900), "2": Decimal(-75), "5": Decimal(150)}
    header = report["Header"]
    assert (
        header["ReportBasis"],
        header["StartPeriod"],
        header["EndPeriod"],
        header["SummarizeColumnsBy"],
    ) == ("Accrual", "2024-01-01", "2024-03-01", "Total")
    cash = _ok(
        raw.get(
            "reports/CustomerSales", start_date="2024-02-01", end_date="2024-03-01", accounting_method="Cash"
        )
    )
    # Cash basis: Amy's 100.00 paid on 2024-02-20 counts; the job's unpaid invoice does not.
    assert {k: v[0] for k, v in _by_customer(cash).items()} == {"1": Decimal(100), "5": Decimal(150)}
    ytd = _ok(raw.get("reports/CustomerSales", date_macro="This Fiscal Year-to-date"))
    assert (ytd["Header"]["StartPeriod"], ytd["Header"]["EndPeriod"]) == ("2024-01-01", "2024-03-01")


@pytest.mark.parametrize(
    ("name", "params", "detail"),
    [
        ("AgedReceivables", {"aging_method": "Someday"}, "aging_method"),
        ("AgedReceivables", {"report_date": "03/01/2024"}, "report_date"),
        ("CustomerBalance", {"bogus": "1"}, "bogus"),
        ("CustomerSales", {"accounting_method": "Modified"}, "accounting_method"),
        ("BalanceSheet", {}, "not supported"),
    ],
)
def test_bad_report_parameters_are_400_faults(
    raw: Raw, name: str, params: dict[str, str], detail: str
) -> None:
    resp = raw.get(f"reports/{name}", **params)
    assert resp.status_code == 400
    assert detail in resp.json()["Fault"]["Error"][0]["Detail"]


# ---- shapes against Intuit's documented response examples ----

# The structure of the examples on developer.intuit.com's report pages (report-entities/aragingsummary,
# aragingdetail, customerbalance, customerbalancedetail, customersales), each asked as the page's own
# sample query does: the header's keys and options, the columns (ColType, ColTitle) in the order
# QuickBooks returns them (not the order the `columns` parameter names them in), how data rows,
# sections (Header, Rows, Summary "Total for ...") and the grand total (Summary "TOTAL", group
# GrandTotal) are built. Where the pages and the recorded wire differ (a summary report's data row has
# no "type" on the page, "type": "Data" on the wire) the recordings win (../shared/qbo/API-NOTES.md).
AGING_TITLES = ["", "Current", "1 - 30", "31 - 60", "61 - 90", "91 and over", "Total"]
DOCUMENTED: dict[str, dict[str, Any]] = {
    "AgedReceivables": {  # ?customer=4&date_macro=Last Fiscal Year
        "query": {"customer": "1", "date_macro": "Last Fiscal Year"},
        "header": {"Customer", "ReportName", "Option", "DateMacro", "StartPeriod", "Currency", "EndPeriod",
                   "Time"},
        "macro": "last fiscal year",
        "options": ["report_date", "NoReportData"],
        "columns": list(zip(["Customer"] + ["Money"] * 6, AGING_TITLES, strict=True)),
        "sections": None,
    },
    "AgedReceivableDetail": {  # ?report_date=...&start_duedate=...&end_duedate=...&columns=due_date,cust_name
        "query": {"report_date": "2024-03-01", "start_duedate": "2023-01-01", "end_duedate": "2024-03-01",
                  "columns": "due_date,cust_name"},
        "header": {"ReportName", "Currency", "EndPeriod", "Option", "Time"},
        "options": ["report_date", "NoReportData"],
        "columns": [("cust_name", "Customer"), ("due_date", "Due Date")],  # the page's company says "Client"
        "sections": "days past due",
    },
    "CustomerBalance": {  # ?customer=1
        "query": {"customer": "1"},
        "header": {"Customer", "ReportName", "Option", "DateMacro", "Currency", "Time"},
        "macro": "all",
        "options": ["report_date", "NoReportData"],
        "columns": [("Customer", ""), ("Money", "Total")],
        "sections": None,
    },
    "CustomerBalanceDetail": {  # ?customer=1&start_duedate=...&end_duedate=...&columns=subt_amount,tx_date
        "query": {"customer": "1", "start_duedate": "2023-01-01", "end_duedate": "2024-03-01",
                  "columns": "subt_amount,tx_date"},
        "header": {"Customer", "ReportName", "Option", "DateMacro", "Currency", "Time"},
        "macro": "all",
        "options": ["report_date", "NoReportData"],
        "columns": [("tx_date", "Date"), ("subt_amount", "Amount")],
        "sections": "customer",
    },
    "CustomerSales": {  # ?customer=1&start_date=...&end_date=...
        "query": {"customer": "1", "start_date": "2023-01-01", "end_date": "2024-03-01"},
        "header": {"Customer", "ReportName", "Option", "ReportBasis", "StartPeriod", "Currency", "EndPeriod",
                   "Time", "SummarizeColumnsBy"},
        "options": ["NoReportData"],
        "columns": [("Customer", ""), ("Money", "Total")],
        "sections": None,
    },
}


def _check_row(row: dict[str, Any], width: int) -> None:
    if row.get("type") == "Data":
        assert set(row) == {"ColData", "type"} and len(row["ColData"]) == width
        assert all(set(c) <= {"value", "id"} and isinstance(c["value"], str) for c in row["ColData"])
        return
    assert row["type"] == "Section" and set(row) <= {"Header", "Rows", "Summary", "type", "group"}
    for part in ("Header", "Summary"):
        if part in row:
            assert len(row[part]["ColData"]) == width
    for inner in row.get("Rows", {}).get("Row", []):
        _check_row(inner, width)


@pytest.mark.parametrize("name", list(DOCUMENTED))
def test_report_shape_matches_the_documented_example(raw: Raw, company: dict[str, str], name: str) -> None:
    doc = DOCUMENTED[name]
    report = _ok(raw.get(f"reports/{name}", **doc["query"]))
    assert list(report) == ["Header", "Columns", "Rows"]  # the recorded wire's order
    header = report["Header"]
    assert set(header) == doc["header"]
    assert header["ReportName"] == name and header["Currency"] == "USD"
    assert header.get("DateMacro") == doc.get("macro")
    if "Customer" in doc["header"]:
        assert header["Customer"] == "1"
    if name == "AgedReceivableDetail":
        assert header["EndPeriod"] == doc["query"]["report_date"]
    if name == "CustomerSales":
        assert (header["ReportBasis"], header["SummarizeColumnsBy"]) == ("Accrual", "Total")
        assert (header["StartPeriod"], header["EndPeriod"]) == ("2023-01-01", "2024-03-01")
    assert [o["Name"] for o in header["Option"]] == doc["options"]
    assert all(isinstance(o["Value"], str) for o in header["Option"])
    assert header["Time"].endswith("-08:00") and "." not in header["Time"]
    columns = report["Columns"]["Column"]
    assert [(c["ColType"], c["ColTitle"]) for c in columns] == doc["columns"]
    assert all(set(c) == {"ColTitle", "ColType"} for c in columns)
    width = len(columns)
    rows = report["Rows"]["Row"]
    for row in rows:
        _check_row(row, width)
    grand = rows[-1]
    assert grand["group"] == "GrandTotal" and grand["Summary"]["ColData"][0] == {"value": "TOTAL"}
    assert "Header" not in grand and "Rows" not in grand
    body = rows[:-1]
    assert body, name
    if doc["sections"] is None:  # one data row per customer, its Id on the first cell
        assert all(r["type"] == "Data" and r["ColData"][0]["id"] == "1" for r in body)
        return
    for section in body:
        assert section["type"] == "Section" and "group" not in section
        title = section["Header"]["ColData"][0]
        assert all(c == {"value": ""} for c in section["Header"]["ColData"][1:])
        if doc["sections"] == "customer":  # CustomerBalanceDetail: the customer (with its Id), its total
            assert title["id"] == "1"
            amount = [c["ColType"] for c in columns].index("subt_amount")
            values = [Decimal(r["ColData"][amount]["value"]) for r in section["Rows"]["Row"]]
            assert section["Summary"]["ColData"][amount]["value"] == f"{sum(values):.2f}"
            assert grand["Summary"]["ColData"][amount]["value"] == f"{sum(values):.2f}"
        else:  # AgedReceivableDetail: a bucket, rows naming their customer with its Id
            assert title["value"].endswith("days past due") and "id" not in title
            assert all(r["ColData"][0]["id"] for r in section["Rows"]["Row"])
        assert section["Summary"]["ColData"][0]["value"] == f"Total for {title['value']}"


def test_empty_company_reports_no_data(raw: Raw) -> None:
    report = _ok(raw.get("reports/AgedReceivables"))
    assert report["Header"]["Option"][-1] == {"Name": "NoReportData", "Value": "true"}
    assert report["Rows"]["Row"] == [
        {
            "Summary": {"ColData": [{"value": "TOTAL"}] + [{"value": "0.00"}] * 6},
            "type": "Section",
            "group": "GrandTotal",
        }
    ]


def test_python_quickbooks_reads_the_reports(qb: Any, server: SandboxServer, company: dict[str, str]) -> None:
    for name, doc in DOCUMENTED.items():  # python-quickbooks' own report call, the pages' sample queries
        report = qb.get_report(name, doc["query"])
        assert report["Header"]["ReportName"] == name
        assert [(c["ColType"], c["ColTitle"]) for c in report["Columns"]["Column"]] == doc["columns"]
        assert report["Rows"]["Row"][-1]["group"] == "GrandTotal"
    assert server.request_log.count_path(f"/v3/company/{REALM}/reports/", 200) == len(DOCUMENTED)


def test_report_date_in_the_past_leaves_out_later_transactions(raw: Raw, company: dict[str, str]) -> None:
    before = _by_customer(_ok(raw.get("reports/CustomerBalance", report_date="2023-12-31")))
    assert {k: v[0] for k, v in before.items()} == {"1": Decimal(400), "3": Decimal(60)}
    assert (TODAY - timedelta(days=1)).isoformat() == "2024-02-29"


# ---- ProfitAndLoss (Singer tap-quickbooks' profit_loss_report stream reads it by day) ----

RECORDED = Path(__file__).resolve().parents[2].parent / "shared" / "qbo" / "recorded" / "raw_bodies"


@pytest.mark.skipif(not RECORDED.is_dir(), reason="recordings not found")
def test_empty_profit_and_loss_is_the_recorded_one(raw: Raw) -> None:
    recorded = json.loads((RECORDED / "reports__profit_and_loss__0.response.txt").read_text())
    mine = _ok(raw.get("reports/ProfitAndLoss", customer="1", start_date="2015-01-01", end_date="2015-07-31"))
    assert mine["Rows"] == recorded["Rows"] and mine["Columns"] == recorded["Columns"]
    assert mine["Header"]["Option"] == recorded["Header"]["Option"]
    assert set(mine["Header"]) == set(recorded["Header"])


def test_profit_and_loss_income_is_sales_and_days_columns_carry_dates(
    raw: Raw, company: dict[str, str]
) -> None:
    pnl = _ok(
        raw.get(
            "reports/ProfitAndLoss",
            start_date="2024-02-01",
            end_date="2024-03-01",
            summarize_column_by="Days",
        )
    )
    columns = pnl["Columns"]["Column"]
    assert len(columns) == 1 + 30 + 1 and columns[-1]["ColTitle"] == "TOTAL"
    assert columns[1]["MetaData"][0] == {"Name": "StartDate", "Value": "2024-02-01"}
    income = next(r for r in pnl["Rows"]["Row"] if r.get("group") == "Income")
    sales = _ok(raw.get("reports/CustomerSales", start_date="2024-02-01", end_date="2024-03-01"))
    assert income["Summary"]["ColData"][-1]["value"] == _grand(sales)[-1] == "1050.00"
    by_day = {
        c["MetaData"][0]["Value"]: i for i, c in enumerate(columns) if c["ColTitle"] not in ("", "TOTAL")
    }
    cells = income["Summary"]["ColData"]
    assert cells[by_day["2024-02-25"]]["value"] == "900.00", "the job's invoice: 1,000 less the 10 % discount"
    assert cells[by_day["2024-02-03"]]["value"] == "-50.00", "the refund"
    net = next(r for r in pnl["Rows"]["Row"] if r.get("group") == "NetIncome")
    assert net["Summary"]["ColData"][-1]["value"] == "1050.00"
