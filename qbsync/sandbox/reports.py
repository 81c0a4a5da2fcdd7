"""QuickBooks' Reports API for customers: A/R aging (summary and detail), customer balance (summary and
detail) and sales by customer, computed from the sandbox's own ledger in QuickBooks' response shape."""

from __future__ import annotations

import calendar
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from qbsync.sandbox import apifault, postings, wire
from qbsync.sandbox.store import Store

ZERO = Decimal(0)
REPORTS = (
    "AgedReceivables",
    "AgedReceivableDetail",
    "CustomerBalance",
    "CustomerBalanceDetail",
    "CustomerSales",
    "ProfitAndLoss",
)
AR_ENTITIES = ("Invoice", "CreditMemo", "Payment", "JournalEntry")
SALES_ENTITIES = ("Invoice", "SalesReceipt", "CreditMemo", "RefundReceipt")
# What each report accepts (QuickBooks' documented query parameters); anything else is refused, so a
# client's misspelt parameter is not silently ignored.
_COMMON = {"minorversion", "customer", "date_macro", "sort_order", "department", "qzurl", "accounting_method"}
PARAMS: dict[str, set[str]] = {
    "AgedReceivables": _COMMON
    | {"report_date", "aging_method", "aging_period", "num_periods", "start_date", "end_date"},
    "AgedReceivableDetail": _COMMON
    | {
        "report_date",
        "aging_method",
        "aging_period",
        "num_periods",
        "past_due",
        "start_duedate",
        "end_duedate",
        "term",
        "columns",
        "shipvia",
        "custom1",
        "custom2",
        "custom3",
        "start_date",
        "end_date",
    },
    "CustomerBalance": _COMMON | {"report_date", "arpaid", "summarize_column_by", "start_date", "end_date"},
    "CustomerBalanceDetail": _COMMON
    | {
        "report_date",
        "arpaid",
        "aging_method",
        "start_duedate",
        "end_duedate",
        "term",
        "columns",
        "sort_by",
        "shipvia",
        "custom1",
        "start_date",
        "end_date",
    },
    "CustomerSales": _COMMON | {"start_date", "end_date", "summarize_column_by", "class", "item"},
    "ProfitAndLoss": _COMMON
    | {
        "start_date",
        "end_date",
        "summarize_column_by",
        "class",
        "item",
        "vendor",
        "payment_method",
        "adjusted_gain_loss",
    },
}
TXN_TYPE = {
    "Invoice": "Invoice",
    "CreditMemo": "Credit Memo",
    "Payment": "Payment",
    "JournalEntry": "Journal Entry",
    "SalesReceipt": "Sales Receipt",
    "RefundReceipt": "Refund",
}
# Detail columns: ColType -> title, in the order QuickBooks lays them out.
DETAIL_COLUMNS: dict[str, str] = {
    "tx_date": "Date",
    "txn_type": "Transaction Type",
    "doc_num": "Num",
    "cust_name": "Customer",
    "due_date": "Due Date",
    "past_due": "Past Due",
    "term_name": "Terms",
    "memo": "Memo/Description",
    "dept_name": "Location",
    "subt_amount": "Amount",
    "subt_open_bal": "Open Balance",
    "rbal_open_bal": "Balance",
}
MONEY_COLUMNS = ("subt_amount", "subt_open_bal", "rbal_open_bal")
AGING_DETAIL_DEFAULT = (
    "tx_date",
    "txn_type",
    "doc_num",
    "cust_name",
    "due_date",
    "subt_amount",
    "subt_open_bal",
)
BALANCE_DETAIL_DEFAULT = (
    "tx_date",
    "txn_type",
    "doc_num",
    "due_date",
    "subt_amount",
    "subt_open_bal",
    "rbal_open_bal",
)


def money(d: Decimal) -> str:
    """Report cells are strings with two decimals (the recordings: ``"976.00"``)."""
    return f"{d.quantize(Decimal('0.01')):.2f}"


def _cell(d: Decimal) -> str:
    return money(d) if d else ""


@dataclass
class Item:
    """One transaction's part in a customer's Accounts Receivable (or sales)."""

    entity: str
    id: str
    customer: int
    txn_date: date
    due: date
    doc: str
    amount: Decimal  # signed: credits negative
    open: Decimal  # signed open balance as of the report date
    memo: str = ""
    term: str = ""
    dept: str = ""


@dataclass
class Ledger:
    """The company's customer transactions up to the report date."""

    customers: dict[int, dict[str, Any]]
    items: list[Item] = field(default_factory=list)


def _day(text: Any, what: str) -> date:
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        raise apifault.ApiFault(
            400, "2070", "Invalid Date", f"{what} {text!r} is not a date (YYYY-MM-DD)", element=what
        ) from None


def _int(params: dict[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(Decimal(str(raw)))
    except (ArithmeticError, ValueError):
        raise _bad(name, raw, "a whole number") from None
    if value < 1 and name != "past_due":
        raise _bad(name, raw, "a number of at least 1")
    return value


def _customer_total_columns() -> list[dict[str, str]]:
    """The columns of a report with one total a customer (customer balance, sales by customer)."""
    return [{"ColTitle": "", "ColType": "Customer"}, {"ColTitle": "Total", "ColType": "Money"}]


def _bad(name: str, value: Any, want: str) -> apifault.ApiFault:
    # Code unconfirmed: QuickBooks answers an invalid report parameter with a 400 ValidationFault.
    return apifault.ApiFault(
        400,
        "2010",
        "Request has invalid or unsupported property",
        f"Report parameter {name}={value!r} is invalid: use {want}.",
        element=name,
    )


def _fy_start(today: date, month: int) -> date:
    year = today.year if today.month >= month else today.year - 1
    return date(year, month, 1)


def _month_end(d: date) -> date:
    return date(d.year, d.month, calendar.monthrange(d.year, d.month)[1])


def _add_months(d: date, n: int) -> date:
    m = d.month - 1 + n
    return date(d.year + m // 12, m % 12 + 1, 1)


def date_macro(name: str, today: date, fiscal_month: int = 1) -> tuple[date, date]:
    """QuickBooks' ``date_macro`` values as (start, end); fiscal years start in ``fiscal_month``."""
    key = " ".join(name.lower().replace("-", " - ").split()).replace(" - ", "-")
    week = today - timedelta(days=(today.weekday() + 1) % 7)  # weeks start on Sunday
    month = today.replace(day=1)
    fy = _fy_start(today, fiscal_month)
    quarter = _add_months(fy, (today.month - fy.month) % 12 // 3 * 3)
    table = {
        "today": (today, today),
        "yesterday": (today - timedelta(days=1), today - timedelta(days=1)),
        "this week": (week, week + timedelta(days=6)),
        "last week": (week - timedelta(days=7), week - timedelta(days=1)),
        "this week-to-date": (week, today),
        "last week-to-date": (week - timedelta(days=7), today - timedelta(days=7)),
        "next week": (week + timedelta(days=7), week + timedelta(days=13)),
        "next 4 weeks": (week + timedelta(days=7), week + timedelta(days=34)),
        "this month": (month, _month_end(month)),
        "last month": (_add_months(month, -1), month - timedelta(days=1)),
        "this month-to-date": (month, today),
        "last month-to-date": (
            _add_months(month, -1),
            _add_months(month, -1).replace(day=min(today.day, _month_end(_add_months(month, -1)).day)),
        ),
        "next month": (_add_months(month, 1), _month_end(_add_months(month, 1))),
        "this fiscal quarter": (quarter, _add_months(quarter, 3) - timedelta(days=1)),
        "last fiscal quarter": (_add_months(quarter, -3), quarter - timedelta(days=1)),
        "this fiscal quarter-to-date": (quarter, today),
        "last fiscal quarter-to-date": (
            _add_months(quarter, -3),
            _add_months(quarter, -3) + (today - quarter),
        ),
        "next fiscal quarter": (_add_months(quarter, 3), _add_months(quarter, 6) - timedelta(days=1)),
        "this fiscal year": (fy, _add_months(fy, 12) - timedelta(days=1)),
        "last fiscal year": (_add_months(fy, -12), fy - timedelta(days=1)),
        "this fiscal year-to-date": (fy, today),
        "last fiscal year-to-date": (_add_months(fy, -12), _add_months(fy, -12) + (today - fy)),
        "next fiscal year": (_add_months(fy, 12), _add_months(fy, 24) - timedelta(days=1)),
        "all": (date(1900, 1, 1), today),
    }
    if key not in table:
        raise _bad(
            "date_macro", name, "one of QuickBooks' macros, e.g. This Month-to-date or Last Fiscal Year"
        )
    return table[key]


class ReportsApi:
    """``run(realm, name, params)`` -> the report as QuickBooks returns it (a JSON-able dict)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ---- shared ----

    def today(self, realm: str) -> date:
        return self.store.clock.now().astimezone(self.store.tz(realm)).date()

    def _fiscal_month(self, realm: str) -> int:
        info = self.store.get(realm, "CompanyInfo", "1") or {}
        name = str(info.get("FiscalYearStartMonth") or "January")
        months = [m.lower() for m in calendar.month_name]
        return months.index(name.lower()) if name.lower() in months else 1

    def run(self, realm: str, name: str, params: dict[str, str]) -> dict[str, Any]:
        canonical = {r.lower(): r for r in REPORTS}.get(name.lower())
        if canonical is None:
            raise apifault.ApiFault(
                400,
                "500",
                "Unsupported Operation",
                f"Operation Could not find resource for relative : /reports/{name} is "
                f"not supported. The qbsync sandbox serves {', '.join(REPORTS)}.",
                element=None,
            )
        unknown = sorted(set(params) - PARAMS[canonical])
        if unknown:
            raise _bad(unknown[0], params[unknown[0]], f"a parameter {canonical} accepts")
        method = params.get("accounting_method") or "Accrual"
        if method not in ("Accrual", "Cash"):
            raise _bad("accounting_method", method, "Accrual or Cash")
        if params.get("sort_order", "ascend") not in ("ascend", "descend"):
            raise _bad("sort_order", params["sort_order"], "ascend or descend")
        build: dict[str, Callable[[str, dict[str, str]], dict[str, Any]]] = {
            "AgedReceivables": self._aged_summary,
            "AgedReceivableDetail": self._aged_detail,
            "CustomerBalance": self._balance_summary,
            "CustomerBalanceDetail": self._balance_detail,
            "CustomerSales": self._sales,
            "ProfitAndLoss": self._profit_and_loss,
        }
        return build[canonical](realm, params)

    def _header(
        self,
        realm: str,
        name: str,
        params: dict[str, str],
        options: list[tuple[str, str]],
        no_data: bool,
        default_macro: str | None = None,
        **fields: str,
    ) -> dict[str, Any]:
        header: dict[str, Any] = {
            "Time": wire.fmt_meta_time(self.store.clock.now(), self.store.tz(realm)),
            "ReportName": name,
        }
        if params.get("date_macro") or default_macro:
            header["DateMacro"] = (params.get("date_macro") or default_macro or "").lower()
        header.update(fields)
        header["Currency"] = self._currency(realm)
        if params.get("customer"):
            header["Customer"] = params["customer"]
        if params.get("department"):
            header["Department"] = params["department"]
        header["Option"] = [{"Name": k, "Value": v} for k, v in options] + [
            {"Name": "NoReportData", "Value": "true" if no_data else "false"}
        ]
        return header

    def _currency(self, realm: str) -> str:
        prefs = self.store.get(realm, "Preferences", "1") or {}
        home = (prefs.get("CurrencyPrefs") or {}).get("HomeCurrency")
        return str(home.get("value")) if isinstance(home, dict) and home.get("value") else "USD"

    def _report_date(self, realm: str, params: dict[str, str]) -> date:
        if params.get("report_date"):
            return _day(params["report_date"], "report_date")
        if params.get("end_date"):
            return _day(params["end_date"], "end_date")
        if params.get("date_macro"):
            return date_macro(params["date_macro"], self.today(realm), self._fiscal_month(realm))[1]
        return self.today(realm)

    def _customer_filter(self, params: dict[str, str]) -> set[int] | None:
        raw = params.get("customer")
        if not raw:
            return None
        ids = [p.strip() for p in raw.split(",") if p.strip()]
        if not all(i.isdigit() for i in ids):
            raise _bad("customer", raw, "comma-separated Customer Ids")
        return {int(i) for i in ids}

    def _department_filter(self, params: dict[str, str]) -> set[str] | None:
        raw = params.get("department")
        return {p.strip() for p in raw.split(",") if p.strip()} if raw else None

    def _rows(self, realm: str, entities: Iterable[str], until: date) -> Iterable[tuple[str, dict[str, Any]]]:
        ents = tuple(entities)
        marks = ", ".join("?" for _ in ents)
        for entity, text in self.store._read(
            f"SELECT entity, data FROM objects WHERE realm = ? AND entity IN ({marks}) "
            f"AND txn_date <= ? ORDER BY txn_date, entity, id",
            (realm, *ents, until.isoformat()),
        ):
            yield entity, json.loads(text)

    def _customers(self, realm: str) -> dict[int, dict[str, Any]]:
        return {
            int(r[0]): json.loads(r[1])
            for r in self.store._read(
                "SELECT id, data FROM objects WHERE realm = ? AND entity = 'Customer'", (realm,)
            )
        }

    # ---- the ledger as of a date ----

    def ar_ledger(self, realm: str, as_of: date, departments: set[str] | None = None) -> Ledger:
        """Every A/R transaction dated on or before ``as_of`` with its open balance on that date: payments
        and credits dated later do not count, as in QuickBooks' reports for a past date."""
        ar_ids = self.store.ar_account_ids(realm)
        rows = list(self._rows(realm, AR_ENTITIES, as_of))
        paid: dict[str, Decimal] = defaultdict(Decimal)  # invoice Id -> paid by payments dated <= as_of
        used: dict[str, Decimal] = defaultdict(Decimal)  # credit memo Id -> applied by such payments
        for entity, obj in rows:
            if entity != "Payment":
                continue
            for line in obj.get("Line", []) or []:
                for lt in line.get("LinkedTxn", []) or []:
                    target = (
                        paid
                        if lt.get("TxnType") == "Invoice"
                        else used
                        if lt.get("TxnType") == "CreditMemo"
                        else None
                    )
                    if target is not None:
                        target[str(lt.get("TxnId"))] += wire.to_decimal(line.get("Amount"))
        ledger = Ledger(self._customers(realm))
        for entity, obj in rows:
            dept = str((obj.get("DepartmentRef") or {}).get("value", ""))
            if departments is not None and dept not in departments:
                continue
            day = _day(obj.get("TxnDate"), "TxnDate")
            common = {
                "id": obj["Id"],
                "txn_date": day,
                "doc": str(obj.get("DocNumber", "")),
                "memo": str(obj.get("PrivateNote", "")),
                "dept": str((obj.get("DepartmentRef") or {}).get("name", "")),
            }
            total = wire.to_decimal(obj.get("TotalAmt"))
            cid = int((obj.get("CustomerRef") or {}).get("value", 0) or 0)
            if entity == "JournalEntry":
                for jcid, amount in postings.journal_ar(obj, ar_ids).items():
                    ledger.items.append(
                        Item("JournalEntry", customer=jcid, due=day, amount=amount, open=amount, **common)
                    )
                continue
            if entity == "Invoice":
                due = _day(obj.get("DueDate") or obj.get("TxnDate"), "DueDate")
                term = str((obj.get("SalesTermRef") or {}).get("name", ""))
                ledger.items.append(
                    Item(
                        entity,
                        customer=cid,
                        due=due,
                        amount=total,
                        open=total - paid[obj["Id"]],
                        term=term,
                        **common,
                    )
                )
            elif entity == "CreditMemo":
                ledger.items.append(
                    Item(
                        entity,
                        customer=cid,
                        due=day,
                        amount=-total,
                        open=-(total - used[obj["Id"]]),
                        **common,
                    )
                )
            elif entity == "Payment":
                applied = ZERO
                for line in obj.get("Line", []) or []:
                    kinds = {lt.get("TxnType") for lt in line.get("LinkedTxn", []) or []}
                    amount = wire.to_decimal(line.get("Amount"))
                    applied += -amount if "CreditMemo" in kinds else amount if "Invoice" in kinds else ZERO
                ledger.items.append(
                    Item(entity, customer=cid, due=day, amount=-total, open=-(total - applied), **common)
                )
        return ledger

    # ---- shaping rows ----

    def _names(self, ledger: Ledger, cid: int) -> tuple[str, str]:
        """(DisplayName, FullyQualifiedName) of a customer, QuickBooks' ``(deleted)`` suffix included."""
        c = ledger.customers.get(cid, {})
        name = str(c.get("DisplayName", f"Customer {cid}"))
        return name, str(c.get("FullyQualifiedName") or name)

    def _nested(
        self, ledger: Ledger, amounts: dict[int, list[Decimal]], width: int, descending: bool
    ) -> tuple[list[dict[str, Any]], list[Decimal]]:
        """One Data row per customer with amounts; a parent whose jobs have amounts becomes a Section
        (Header: the parent, Rows: its own row and its jobs', Summary: "Total <parent>"), as QuickBooks
        nests sub-customers. Returns the rows and the column totals."""
        children: dict[int, list[int]] = defaultdict(list)
        for cid, c in ledger.customers.items():
            parent = str((c.get("ParentRef") or {}).get("value", ""))
            if parent.isdigit():
                children[int(parent)].append(cid)
        memo: dict[int, bool] = {}

        def has(cid: int) -> bool:
            if cid not in memo:
                memo[cid] = any(amounts.get(cid, [])) or any(has(j) for j in children.get(cid, []))
            return memo[cid]

        def order(ids: Iterable[int]) -> list[int]:
            return sorted(ids, key=lambda i: (self._names(ledger, i)[0].lower(), i), reverse=descending)

        def build(cid: int) -> tuple[dict[str, Any], list[Decimal]]:
            name = self._names(ledger, cid)[0]
            own = amounts.get(cid, [ZERO] * width)
            jobs = [j for j in order(children.get(cid, [])) if has(j)]
            if not jobs:
                return (
                    {
                        "ColData": [{"value": name, "id": str(cid)}, *({"value": _cell(a)} for a in own)],
                        "type": "Data",
                    },
                    list(own),
                )
            rows, totals = [], list(own)
            if any(own):
                rows.append(
                    {
                        "ColData": [{"value": name, "id": str(cid)}, *({"value": _cell(a)} for a in own)],
                        "type": "Data",
                    }
                )
            for j in jobs:
                row, sums = build(j)
                rows.append(row)
                totals = [a + b for a, b in zip(totals, sums, strict=True)]
            return (
                {
                    "Header": {"ColData": [{"value": name, "id": str(cid)}, *({"value": ""} for _ in own)]},
                    "Rows": {"Row": rows},
                    "Summary": {
                        "ColData": [{"value": f"Total {name}"}, *({"value": money(a)} for a in totals)]
                    },
                    "type": "Section",
                },
                totals,
            )

        def parent_of(c: dict[str, Any]) -> int | None:
            value = str((c.get("ParentRef") or {}).get("value", ""))
            return int(value) if value.isdigit() and int(value) in ledger.customers else None

        tops = [cid for cid, c in ledger.customers.items() if parent_of(c) is None]
        out: list[dict[str, Any]] = []
        grand = [ZERO] * width
        for cid in order(tops):
            if not has(cid):
                continue
            row, sums = build(cid)
            out.append(row)
            grand = [a + b for a, b in zip(grand, sums, strict=True)]
        return out, grand

    @staticmethod
    def _grand_total(totals: list[Decimal]) -> dict[str, Any]:
        return {
            "Summary": {"ColData": [{"value": "TOTAL"}, *({"value": money(a)} for a in totals)]},
            "type": "Section",
            "group": "GrandTotal",
        }

    # ---- aging ----

    def _aging(self, realm: str, params: dict[str, str]) -> tuple[date, date, int, int, str]:
        report_date = self._report_date(realm, params)
        method = params.get("aging_method") or "Report_Date"
        if method not in ("Report_Date", "Current"):
            raise _bad("aging_method", method, "Report_Date or Current")
        period = _int(params, "aging_period", 30)
        periods = _int(params, "num_periods", 4)
        age_on = report_date if method == "Report_Date" else self.today(realm)
        return report_date, age_on, period, periods, method

    @staticmethod
    def _bucket(item: Item, age_on: date, period: int, periods: int) -> int:
        """0 = Current (not yet past due); k = (k-1)*period+1 .. k*period days past due; the last bucket
        is open-ended. Credits and payments age from their own date, invoices from their due date."""
        late = (age_on - item.due).days
        if late <= 0:
            return 0
        return min(periods, (late - 1) // period + 1)

    @staticmethod
    def _bucket_titles(period: int, periods: int, detail: bool) -> list[str]:
        titles = ["Current"]
        for k in range(1, periods + 1):
            lo = (k - 1) * period + 1
            if k < periods:
                titles.append(f"{lo} - {k * period}" + (" days past due" if detail else ""))
            else:
                titles.append(f"{lo} or more days past due" if detail else f"{lo} and over")
        return titles

    def _open_items(self, realm: str, params: dict[str, str], report_date: date) -> tuple[Ledger, list[Item]]:
        """What is open of the transactions dated up to ``report_date``: after the payments dated up to
        it (``aging_method=Report_Date``), or after every payment received (``Current``: "to calculate
        each customer's open balance based on all payments received", Intuit's help)."""
        current = params.get("aging_method") == "Current"
        on = max(report_date, self.today(realm)) if current else report_date
        ledger = self.ar_ledger(realm, on, self._department_filter(params))
        wanted = self._customer_filter(params)
        items = [i for i in ledger.items if i.open and i.txn_date <= report_date
                 and (wanted is None or i.customer in wanted)]
        return ledger, items

    def _aged_summary(self, realm: str, params: dict[str, str]) -> dict[str, Any]:
        report_date, age_on, period, periods, _ = self._aging(realm, params)
        ledger, items = self._open_items(realm, params, report_date)
        width = periods + 2
        amounts: dict[int, list[Decimal]] = {}
        for item in items:
            row = amounts.setdefault(item.customer, [ZERO] * width)
            row[self._bucket(item, age_on, period, periods)] += item.open
            row[-1] += item.open
        rows, totals = self._nested(ledger, amounts, width, params.get("sort_order") == "descend")
        columns = (
            [{"ColTitle": "", "ColType": "Customer"}]
            + [{"ColTitle": t, "ColType": "Money"} for t in self._bucket_titles(period, periods, False)]
            + [{"ColTitle": "Total", "ColType": "Money"}]
        )
        return self._as_of_report(realm, "AgedReceivables", params, report_date, columns, rows,
                                  self._grand_total(totals))

    def _as_of_report(self, realm: str, name: str, params: dict[str, str], report_date: date,
                      columns: list[dict[str, str]], rows: list[dict[str, Any]],
                      grand: dict[str, Any]) -> dict[str, Any]:
        """A report as of ``report_date`` (A/R aging, customer balance): ``rows`` then ``grand``.

        As Intuit's documented examples show: the customer balance reports say ``DateMacro: all``
        when no macro was asked for, and the A/R aging detail carries the report date as its
        ``EndPeriod``."""
        period = self._period_fields(realm, params)
        if name == "AgedReceivableDetail" and not period:
            period = {"EndPeriod": report_date.isoformat()}
        return {
            "Header": self._header(
                realm,
                name,
                params,
                [("report_date", report_date.isoformat())],
                not rows,
                "all" if name in ("CustomerBalance", "CustomerBalanceDetail") else None,
                **period,
            ),
            "Columns": {"Column": columns},
            "Rows": {"Row": [*rows, grand]},
        }

    def _detail_report(self, realm: str, name: str, params: dict[str, str], report_date: date,
                       columns: list[str], sections: list[dict[str, Any]],
                       items: list[Item]) -> dict[str, Any]:
        """A detail report as of ``report_date``: its ``sections``, then the grand total of ``items``."""
        grand = {
            "Summary": {"ColData": self._sum_cells("TOTAL", columns, items)},
            "type": "Section",
            "group": "GrandTotal",
        }
        titles = [{"ColTitle": DETAIL_COLUMNS[c], "ColType": c} for c in columns]
        return self._as_of_report(realm, name, params, report_date, titles, sections, grand)

    def _period_fields(self, realm: str, params: dict[str, str]) -> dict[str, str]:
        if params.get("start_date") or params.get("end_date"):
            return {
                k: _day(params[p], p).isoformat()
                for k, p in (("StartPeriod", "start_date"), ("EndPeriod", "end_date"))
                if params.get(p)
            }
        if params.get("date_macro"):
            start, end = date_macro(params["date_macro"], self.today(realm), self._fiscal_month(realm))
            return {"StartPeriod": start.isoformat(), "EndPeriod": end.isoformat()}
        return {}

    def _detail_columns(self, params: dict[str, str], default: tuple[str, ...]) -> list[str]:
        raw = params.get("columns")
        if not raw:
            return list(default)
        cols = [c.strip() for c in raw.split(",") if c.strip()]
        bad = [c for c in cols if c not in DETAIL_COLUMNS]
        if bad:
            raise _bad("columns", bad[0], "column types among " + ", ".join(DETAIL_COLUMNS))
        # in QuickBooks' own order, whatever order they were asked in (Intuit's examples ask for
        # "due_date,cust_name" and get Customer, Due Date; "subt_amount,tx_date" gives Date, Amount)
        order = list(DETAIL_COLUMNS)
        return sorted(dict.fromkeys(cols), key=order.index)

    def _detail_cells(
        self, ledger: Ledger, item: Item, columns: list[str], age_on: date, running: Decimal
    ) -> list[dict[str, str]]:
        cells: list[dict[str, str]] = []
        for col in columns:
            if col == "tx_date":
                cells.append({"value": item.txn_date.isoformat()})
            elif col == "txn_type":
                cells.append({"value": TXN_TYPE[item.entity], "id": item.id})
            elif col == "doc_num":
                cells.append({"value": item.doc})
            elif col == "cust_name":
                cells.append({"value": self._names(ledger, item.customer)[1], "id": str(item.customer)})
            elif col == "due_date":
                cells.append({"value": item.due.isoformat()})
            elif col == "past_due":
                cells.append({"value": str(max(0, (age_on - item.due).days))})
            elif col == "term_name":
                cells.append({"value": item.term})
            elif col == "memo":
                cells.append({"value": item.memo})
            elif col == "dept_name":
                cells.append({"value": item.dept})
            elif col == "subt_amount":
                cells.append({"value": money(item.amount)})
            elif col == "subt_open_bal":
                cells.append({"value": money(item.open)})
            else:  # rbal_open_bal: the running open balance within the section
                cells.append({"value": money(running)})
        return cells

    @staticmethod
    def _sum_cells(label: str, columns: list[str], items: list[Item]) -> list[dict[str, str]]:
        sums = {
            "subt_amount": sum((i.amount for i in items), ZERO),
            "subt_open_bal": sum((i.open for i in items), ZERO),
        }
        out = [{"value": label}]
        for col in columns[1:]:
            out.append({"value": money(sums[col]) if col in sums else ""})
        return out

    def _section(
        self,
        title: dict[str, str],
        label: str,
        columns: list[str],
        rows: list[dict[str, Any]],
        items: list[Item],
    ) -> dict[str, Any]:
        return {
            "Header": {"ColData": [title, *({"value": ""} for _ in columns[1:])]},
            "Rows": {"Row": rows},
            "Summary": {"ColData": self._sum_cells(label, columns, items)},
            "type": "Section",
        }

    def _aged_detail(self, realm: str, params: dict[str, str]) -> dict[str, Any]:
        report_date, age_on, period, periods, _ = self._aging(realm, params)
        ledger, items = self._open_items(realm, params, report_date)
        min_late = _int(params, "past_due", 0) if params.get("past_due") else None
        lo = _day(params["start_duedate"], "start_duedate") if params.get("start_duedate") else None
        hi = _day(params["end_duedate"], "end_duedate") if params.get("end_duedate") else None
        terms = {t.strip() for t in params["term"].split(",")} if params.get("term") else None
        columns = self._detail_columns(params, AGING_DETAIL_DEFAULT)
        buckets: dict[int, list[Item]] = defaultdict(list)
        for item in items:
            if min_late is not None and (age_on - item.due).days < min_late:
                continue
            if (lo and item.due < lo) or (hi and item.due > hi):
                continue
            if terms is not None and item.term not in terms and self._term_id(realm, item) not in terms:
                continue
            buckets[self._bucket(item, age_on, period, periods)].append(item)
        titles = self._bucket_titles(period, periods, True)
        out, everything = [], []
        for k in range(periods + 1):
            group = sorted(
                buckets.get(k, []),
                key=lambda i: (i.txn_date, i.entity, int(i.id)),
                reverse=params.get("sort_order") == "descend",
            )
            if not group:
                continue
            everything.extend(group)
            rows = [
                {"ColData": self._detail_cells(ledger, i, columns, age_on, ZERO), "type": "Data"}
                for i in group
            ]
            out.append(self._section({"value": titles[k]}, f"Total for {titles[k]}", columns, rows, group))
        return self._detail_report(realm, "AgedReceivableDetail", params, report_date, columns, out,
                                   everything)

    def _term_id(self, realm: str, item: Item) -> str:
        if item.entity != "Invoice":
            return ""
        inv = self.store.get(realm, "Invoice", item.id) or {}
        return str((inv.get("SalesTermRef") or {}).get("value", ""))

    # ---- customer balance ----

    def _arpaid(self, params: dict[str, str]) -> str:
        value = params.get("arpaid") or "Unpaid"
        if value not in ("All", "Paid", "Unpaid"):
            raise _bad("arpaid", value, "All, Paid or Unpaid")
        return value

    def _balance_summary(self, realm: str, params: dict[str, str]) -> dict[str, Any]:
        report_date = self._report_date(realm, params)
        self._arpaid(params)
        ledger, items = self._open_items(realm, params, report_date)
        amounts: dict[int, list[Decimal]] = {}
        for item in items:
            amounts.setdefault(item.customer, [ZERO])[0] += item.open
        rows, totals = self._nested(ledger, amounts, 1, params.get("sort_order") == "descend")
        return self._as_of_report(realm, "CustomerBalance", params, report_date, _customer_total_columns(),
                                  rows, self._grand_total(totals))

    def _balance_detail(self, realm: str, params: dict[str, str]) -> dict[str, Any]:
        report_date = self._report_date(realm, params)
        arpaid = self._arpaid(params)
        age_on = (
            report_date
            if (params.get("aging_method") or "Report_Date") == "Report_Date"
            else self.today(realm)
        )
        if (params.get("aging_method") or "Report_Date") not in ("Report_Date", "Current"):
            raise _bad("aging_method", params["aging_method"], "Report_Date or Current")
        ledger = self.ar_ledger(realm, report_date, self._department_filter(params))
        wanted = self._customer_filter(params)
        lo = _day(params["start_duedate"], "start_duedate") if params.get("start_duedate") else None
        hi = _day(params["end_duedate"], "end_duedate") if params.get("end_duedate") else None
        columns = self._detail_columns(params, BALANCE_DETAIL_DEFAULT)
        by_customer: dict[int, list[Item]] = defaultdict(list)
        for item in ledger.items:
            if wanted is not None and item.customer not in wanted:
                continue
            if not item.amount:  # voided
                continue
            if (arpaid == "Unpaid" and not item.open) or (arpaid == "Paid" and item.open):
                continue
            if (lo and item.due < lo) or (hi and item.due > hi):
                continue
            by_customer[item.customer].append(item)
        order = sorted(
            by_customer,
            key=lambda c: (self._names(ledger, c)[1].lower(), c),
            reverse=params.get("sort_order") == "descend",
        )
        out, everything = [], []
        for cid in order:
            group = sorted(by_customer[cid], key=lambda i: (i.txn_date, i.entity, int(i.id)))
            running, rows = ZERO, []
            for i in group:
                running += i.open
                rows.append(
                    {"ColData": self._detail_cells(ledger, i, columns, age_on, running), "type": "Data"}
                )
            everything.extend(group)
            fqn = self._names(ledger, cid)[1]
            out.append(
                self._section({"value": fqn, "id": str(cid)}, f"Total for {fqn}", columns, rows, group)
            )
        return self._detail_report(realm, "CustomerBalanceDetail", params, report_date, columns, out,
                                   everything)

    # ---- sales by customer ----

    @staticmethod
    def net_sales(obj: dict[str, Any]) -> Decimal:
        """Sales of one form as QuickBooks' Sales by Customer counts them: item lines less discounts,
        before tax (a sub-total line is not a sale)."""
        total = ZERO
        for line in obj.get("Line", []) or []:
            kind = line.get("DetailType")
            if kind in ("SalesItemLineDetail", "GroupLineDetail"):
                total += wire.to_decimal(line.get("Amount"))
            elif kind == "DiscountLineDetail":
                total -= wire.to_decimal(line.get("Amount"))
        return total

    def sales(
        self, realm: str, start: date, end: date, method: str = "Accrual", departments: set[str] | None = None
    ) -> dict[int, Decimal]:
        """Net sales per customer between ``start`` and ``end`` (inclusive)."""
        out: dict[int, Decimal] = defaultdict(Decimal)
        sign = {"Invoice": 1, "SalesReceipt": 1, "CreditMemo": -1, "RefundReceipt": -1}
        forms: dict[tuple[str, str], dict[str, Any]] = {}
        for entity, obj in self._rows(realm, (*SALES_ENTITIES, "Payment"), end):
            dept = str((obj.get("DepartmentRef") or {}).get("value", ""))
            if entity != "Payment" and departments is not None and dept not in departments:
                continue
            cid = int((obj.get("CustomerRef") or {}).get("value", 0) or 0)
            day = _day(obj.get("TxnDate"), "TxnDate")
            if entity != "Payment":
                forms[(entity, obj["Id"])] = obj
            cash_form = entity in ("SalesReceipt", "RefundReceipt")
            if entity != "Payment" and (method == "Accrual" or cash_form):
                if day >= start:
                    out[cid] += sign[entity] * self.net_sales(obj)
                continue
            if entity == "Payment" and method == "Cash" and day >= start:
                # Cash basis: an invoice's sales count as it is paid (a credit memo's as it is used), in
                # proportion to the part of its total paid on this payment's date.
                for line in obj.get("Line", []) or []:
                    for lt in line.get("LinkedTxn", []) or []:
                        form = forms.get((str(lt.get("TxnType")), str(lt.get("TxnId"))))
                        total = wire.to_decimal((form or {}).get("TotalAmt"))
                        if form is None or not total:
                            continue
                        share = wire.to_decimal(
                            self.net_sales(form) * wire.to_decimal(line.get("Amount")) / total
                        )
                        out[cid] += sign[str(lt.get("TxnType"))] * share
        return {c: v for c, v in out.items() if v}

    def _period(self, realm: str, params: dict[str, str]) -> tuple[date, date]:
        if params.get("start_date") or params.get("end_date"):
            today = self.today(realm)
            start = _day(params["start_date"], "start_date") if params.get("start_date") else date(1900, 1, 1)
            end = _day(params["end_date"], "end_date") if params.get("end_date") else today
        else:
            start, end = date_macro(
                params.get("date_macro") or "This Fiscal Year-to-date",
                self.today(realm),
                self._fiscal_month(realm),
            )
        if start > end:
            raise _bad("start_date", start.isoformat(), "a date before end_date")
        return start, end

    def _sales(self, realm: str, params: dict[str, str]) -> dict[str, Any]:
        summarize = params.get("summarize_column_by") or "Total"
        if summarize != "Total":
            raise _bad(
                "summarize_column_by", summarize, "Total (the sandbox serves no other column grouping)"
            )
        start, end = self._period(realm, params)
        method = params.get("accounting_method") or "Accrual"
        sales = self.sales(realm, start, end, method, self._department_filter(params))
        wanted = self._customer_filter(params)
        ledger = Ledger(self._customers(realm))
        amounts = {c: [v] for c, v in sales.items() if wanted is None or c in wanted}
        rows, totals = self._nested(ledger, amounts, 1, params.get("sort_order") == "descend")
        return {
            "Header": self._header(
                realm,
                "CustomerSales",
                params,
                [],
                not rows,
                ReportBasis=method,
                StartPeriod=start.isoformat(),
                EndPeriod=end.isoformat(),
                SummarizeColumnsBy=summarize,
            ),
            "Columns": {"Column": _customer_total_columns()},
            "Rows": {"Row": [*rows, self._grand_total(totals)]},
        }

    # ---- profit and loss (what the sandbox holds: sales forms and journal entries) ----

    def _accounts(self, realm: str) -> dict[str, dict[str, Any]]:
        return {
            str(r[0]): json.loads(r[1])
            for r in self.store._read(
                "SELECT id, data FROM objects WHERE realm = ? AND entity = 'Account'", (realm,)
            )
        }

    def _postings(
        self, realm: str, start: date, end: date, wanted: set[int] | None, departments: set[str] | None
    ) -> Iterable[tuple[date, dict[str, Any], Decimal]]:
        """(date, account ref, amount) of every income and expense posting, accrual basis: item lines to
        the item's income account, discount lines to the discount account (negative), both reversed for
        credit memos and refund receipts; journal-entry lines on income and expense accounts."""
        items = {
            str(r[0]): json.loads(r[1])
            for r in self.store._read(
                "SELECT id, data FROM objects WHERE realm = ? AND entity = 'Item'", (realm,)
            )
        }
        accounts = self._accounts(realm)
        sign = {"Invoice": 1, "SalesReceipt": 1, "CreditMemo": -1, "RefundReceipt": -1}
        for entity, obj in self._rows(realm, (*SALES_ENTITIES, "JournalEntry"), end):
            day = _day(obj.get("TxnDate"), "TxnDate")
            dept = str((obj.get("DepartmentRef") or {}).get("value", ""))
            if day < start or (departments is not None and dept not in departments):
                continue
            if entity == "JournalEntry":
                for line in postings.journal_lines(obj):
                    detail = line["JournalEntryLineDetail"]
                    if wanted is not None and postings.line_customer(detail) not in wanted:
                        continue
                    ref = detail.get("AccountRef") or {}
                    kind = _PL_SECTION.get(str(accounts.get(str(ref.get("value")), {}).get("AccountType")))
                    if kind is None:
                        continue  # balance-sheet accounts (and accounts the sandbox does not hold)
                    debit = str(detail.get("PostingType")) == "Debit"
                    amount = wire.to_decimal(line.get("Amount"))
                    income = kind in ("Income", "OtherIncome")
                    yield day, ref, amount if debit != income else -amount
                continue
            cid = int((obj.get("CustomerRef") or {}).get("value", 0) or 0)
            if wanted is not None and cid not in wanted:
                continue
            for line in obj.get("Line", []) or []:
                kind = line.get("DetailType")
                amount = wire.to_decimal(line.get("Amount"))
                if not amount:
                    continue
                if kind == "SalesItemLineDetail":
                    item = items.get(str(((line.get(kind) or {}).get("ItemRef") or {}).get("value")), {})
                    ref = item.get("IncomeAccountRef") or {"value": "", "name": "Sales"}
                    yield day, ref, sign[entity] * amount
                elif kind == "DiscountLineDetail":
                    ref = (line.get(kind) or {}).get("DiscountAccountRef") or {
                        "value": "",
                        "name": "Discounts given",
                    }
                    yield day, ref, -sign[entity] * amount

    def _profit_and_loss(self, realm: str, params: dict[str, str]) -> dict[str, Any]:
        if (params.get("accounting_method") or "Accrual") != "Accrual":
            raise _bad(
                "accounting_method",
                params["accounting_method"],
                "Accrual (the sandbox's ProfitAndLoss is accrual only)",
            )
        start, end = self._period(realm, params)
        summarize = params.get("summarize_column_by") or "Total"
        if summarize not in ("Total", "Days", "Month"):
            raise _bad("summarize_column_by", summarize, "Total, Days or Month")
        spans: list[tuple[date, date, str]] = []
        if summarize == "Days":
            spans = [
                (d, d, f"{d:%b} {d.day}, {d.year}")
                for d in (start + timedelta(days=i) for i in range((end - start).days + 1))
            ]
        elif summarize == "Month":
            m = start.replace(day=1)
            while m <= end:
                spans.append((max(m, start), min(_month_end(m), end), f"{m:%b} {m.year}"))
                m = _add_months(m, 1)
        accounts = self._accounts(realm)
        width = len(spans) + 1
        by_account: dict[tuple[str, str], list[Decimal]] = {}
        for day, ref, amount in self._postings(
            realm, start, end, self._customer_filter(params), self._department_filter(params)
        ):
            key = (str(ref.get("value", "")), str(ref.get("name", "")))
            row = by_account.setdefault(key, [ZERO] * width)
            for i, (lo, hi, _) in enumerate(spans):
                if lo <= day <= hi:
                    row[i] += amount
            row[-1] += amount
        sections: dict[str, list[tuple[tuple[str, str], list[Decimal]]]] = defaultdict(list)
        for key, values in sorted(by_account.items(), key=lambda kv: kv[0][1].lower()):
            kind = _PL_SECTION.get(str(accounts.get(key[0], {}).get("AccountType")), "Income")
            sections[kind].append((key, values))

        def total(kind: str) -> list[Decimal]:
            out = [ZERO] * width
            for _, values in sections.get(kind, []):
                out = [a + b for a, b in zip(out, values, strict=True)]
            return out

        def cells(label: str, values: list[Decimal]) -> list[dict[str, str]]:
            # As recorded: a report with no data leaves its summary cells empty.
            return [{"value": label}, *({"value": money(v) if by_account else ""} for v in values)]

        def section(kind: str, title: str) -> dict[str, Any]:
            rows = [
                {
                    "ColData": [
                        {"value": name, **({"id": aid} if aid else {})},
                        *({"value": money(v)} for v in values),
                    ],
                    "type": "Data",
                }
                for (aid, name), values in sections.get(kind, [])
            ]
            out: dict[str, Any] = {
                "Header": {"ColData": [{"value": title}, *({"value": ""} for _ in range(width))]}
            }
            if rows:
                out["Rows"] = {"Row": rows}
            out.update(
                {
                    "Summary": {"ColData": cells(f"Total {title}", total(kind))},
                    "type": "Section",
                    "group": kind,
                }
            )
            return out

        def summary(group: str, label: str, values: list[Decimal]) -> dict[str, Any]:
            return {"Summary": {"ColData": cells(label, values)}, "type": "Section", "group": group}

        def minus(a: list[Decimal], b: list[Decimal]) -> list[Decimal]:
            return [x - y for x, y in zip(a, b, strict=True)]

        gross = minus(total("Income"), total("COGS"))
        operating = minus(gross, total("Expenses"))
        other = minus(total("OtherIncome"), total("OtherExpenses"))
        rows = [section("Income", "Income")]
        if sections.get("COGS"):
            rows.append(section("COGS", "Cost of Goods Sold"))
        rows += [
            summary("GrossProfit", "Gross Profit", gross),
            section("Expenses", "Expenses"),
            summary("NetOperatingIncome", "Net Operating Income", operating),
        ]
        if sections.get("OtherIncome") or sections.get("OtherExpenses"):
            rows += [
                section("OtherIncome", "Other Income"),
                section("OtherExpenses", "Other Expenses"),
                summary("NetOtherIncome", "Net Other Income", other),
            ]
        rows.append(
            summary("NetIncome", "Net Income", [a + b for a, b in zip(operating, other, strict=True)])
        )
        columns: list[dict[str, Any]] = [
            {"ColTitle": "", "ColType": "Account", "MetaData": [{"Name": "ColKey", "Value": "account"}]}
        ]
        for lo, hi, title in spans:
            columns.append(
                {
                    "ColTitle": title,
                    "ColType": "Money",
                    "MetaData": [
                        {"Name": "StartDate", "Value": lo.isoformat()},
                        {"Name": "EndDate", "Value": hi.isoformat()},
                        {"Name": "ColKey", "Value": title},
                    ],
                }
            )
        columns.append(
            {"ColTitle": "TOTAL", "ColType": "Money", "MetaData": [{"Name": "ColKey", "Value": "total"}]}
        )
        header = self._header(
            realm,
            "ProfitAndLoss",
            params,
            [("AccountingStandard", "GAAP")],
            not by_account,
            ReportBasis="Accrual",
            StartPeriod=start.isoformat(),
            EndPeriod=end.isoformat(),
            SummarizeColumnsBy=summarize,
        )
        return {"Header": header, "Columns": {"Column": columns}, "Rows": {"Row": rows}}


# Account types that appear on a profit and loss statement, by section.
_PL_SECTION = {
    "Income": "Income",
    "Other Income": "OtherIncome",
    "Cost of Goods Sold": "COGS",
    "Expense": "Expenses",
    "Other Expense": "OtherExpenses",
}
