"""qbsync's figures against QuickBooks' own reports, customer by customer and to the cent.

Each check asks QuickBooks (its Reports API) for the report that mirrors one of qbsync's, with the
same date and parameters, computes qbsync's from the cache, and lists every difference with both
figures:

    aging           A/R Aging Summary (``AgedReceivables``): per customer, every aging column and
                    the total
    aging-detail    A/R Aging Detail (``AgedReceivableDetail``): per open transaction, its open
                    balance and its aging column
    balance         Customer Balance Summary (``CustomerBalance``): per customer, the balance
    balance-detail  Customer Balance Detail (``CustomerBalanceDetail``): per open transaction
    sales           Sales by Customer Summary (``CustomerSales``, accrual): per customer, the sales
                    of the period
    statement       each statement's balance against ``CustomerBalance`` for its customer and the
                    jobs rolled up into it

A job's figures are its own in both (QuickBooks nests jobs under their parent; a parent's own
figures are read from its row, or from its section's total less its jobs when it has no row).
Against a real company the checks are the proof that a report can be trusted; against the sandbox
they compare two computations that share no code. A check that finds nothing still records what
it compared; the last check of each report shows in ``qbsync report health``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from qbsync.cache.report_models import ReportCheck
from qbsync.errors import InputError, ReconcileError, ServerError
from qbsync.qbo.reportdoc import ReportDoc, Row, Section, parse
from qbsync.reports import aging as aging_mod
from qbsync.reports import receivables, sales
from qbsync.reports.receivables import KIND_TITLES
from qbsync.reports.source import ZERO, Period, customer_names
from qbsync.reports.table import Column, Table

#: fetch(report name, query parameters) -> the report's JSON (``QboClient.report``)
Fetch = Callable[[str, Mapping[str, str]], Mapping[str, Any]]

CHECKS: tuple[str, ...] = ("aging", "aging-detail", "balance", "balance-detail", "sales")
QBO_NAMES = {"aging": "AgedReceivables", "aging-detail": "AgedReceivableDetail", "balance": "CustomerBalance",
             "balance-detail": "CustomerBalanceDetail", "sales": "CustomerSales",
             "statement": "CustomerBalance"}
KEEP_DETAIL = 200  # differences kept in the cache per check
_TYPE_KIND = {title: kind for kind, title in KIND_TITLES.items()}


@dataclass(frozen=True)
class Difference:
    report: str
    customer_id: str
    name: str
    what: str  # the column or the transaction
    ours: Decimal | None  # None: not in qbsync's report
    theirs: Decimal | None  # None: not in QuickBooks'


@dataclass
class Check:
    report: str
    qbo_report: str
    as_of: date
    params: dict[str, str]
    compared: int = 0
    differences: list[Difference] = field(default_factory=list)
    ours_total: Decimal = ZERO
    theirs_total: Decimal = ZERO

    @property
    def ok(self) -> bool:
        return not self.differences


# ---- reading QuickBooks' reports ----------------------------------------------------------------------


def _values(cells: Sequence[Any], columns: Sequence[int]) -> list[Decimal]:
    return [cells[i].money() if i < len(cells) else ZERO for i in columns]


def per_customer(doc: ReportDoc, columns: Sequence[int]) -> dict[str, list[Decimal]]:
    """Each customer's own figures in ``columns`` of a summary report (customers as rows, jobs nested
    in their parent's section)."""
    out: dict[str, list[Decimal]] = {}

    def total(item: Row | Section) -> list[Decimal]:
        if isinstance(item, Row):
            return _values(item.cells, columns)
        if item.summary:
            return _values(item.summary, columns)
        sums = [ZERO] * len(columns)
        for sub in item.rows:
            sums = [a + b for a, b in zip(sums, total(sub), strict=True)]
        return sums

    def walk(section: Section) -> None:
        for item in section.rows:
            if isinstance(item, Row):
                if item.id is not None:
                    out[item.id] = [a + b for a, b in zip(out.get(item.id, [ZERO] * len(columns)),
                                                          total(item), strict=True)]
            else:
                walk(item)
                own = item.id
                if own is not None and not any(isinstance(r, Row) and r.id == own for r in item.rows):
                    rest = [ZERO] * len(columns)
                    for sub in item.rows:
                        rest = [a + b for a, b in zip(rest, total(sub), strict=True)]
                    left = [a - b for a, b in zip(total(item), rest, strict=True)]
                    if any(left) or own not in out:
                        out[own] = left

    walk(doc.body)
    return out


@dataclass(frozen=True)
class TxnFigure:
    kind: str  # QBO entity name
    txn_id: str
    customer_id: str | None
    name: str
    open: Decimal
    section: str  # the title of the section it is listed under (aging detail: the aging column)


def per_transaction(doc: ReportDoc) -> list[TxnFigure]:
    """The transactions of a detail report (aging detail, customer balance detail) with their open
    balance, their customer (a column, or the section they are listed under) and their section."""
    type_at = doc.column("txn_type", "Transaction Type")
    open_at = doc.column("subt_open_bal", "Open Balance")
    try:
        cust_at: int | None = doc.column("cust_name", "Customer")
    except ServerError:  # customer balance detail: the customer is the section
        cust_at = None
    out = []
    for path, row in doc.data_rows():
        cells = row.cells
        if type_at >= len(cells) or cells[type_at].id is None:
            continue
        section = path[0] if path else None
        if cust_at is not None:
            cid, name = cells[cust_at].id, cells[cust_at].value
        else:
            owner = next((s for s in reversed(path) if s.id is not None), None)
            cid, name = (owner.id, owner.header[0].value) if owner else (None, "")
        kind = _TYPE_KIND.get(cells[type_at].value, cells[type_at].value.replace(" ", ""))
        out.append(TxnFigure(kind, cells[type_at].id or "", cid, name, cells[open_at].money(),
                             section.header[0].value if section is not None and section.header else ""))
    return out


# ---- comparing -------------------------------------------------------------------------------------------


def _compare(report: str, ours: Mapping[str, Sequence[Decimal]], theirs: Mapping[str, Sequence[Decimal]],
             titles: Sequence[str], names: Mapping[str, str]) -> list[Difference]:
    out = []
    for cid in sorted(set(ours) | set(theirs), key=lambda c: (names.get(c, c).casefold(), c)):
        a, b = ours.get(cid), theirs.get(cid)
        for n, title in enumerate(titles):
            x = a[n] if a is not None else None
            y = b[n] if b is not None else None
            if (x or ZERO) != (y or ZERO):
                out.append(Difference(report, cid, names.get(cid, cid), title, x, y))
    return out


def _aging_params(params: aging_mod.AgingParams, as_of: date) -> dict[str, str]:
    return {"report_date": as_of.isoformat(), "aging_period": str(params.days),
            "num_periods": str(params.periods),
            "aging_method": "Report_Date" if params.method == "report_date" else "Current"}


def check_aging(fetch: Fetch, report: aging_mod.AgingReport) -> Check:
    """qbsync's A/R aging summary against QuickBooks' AgedReceivables, column by column."""
    params = _aging_params(report.params, report.as_of)
    doc = parse(fetch("AgedReceivables", params))
    check = Check("aging", "AgedReceivables", report.as_of, params)
    money_cols = list(range(1, len(doc.columns)))
    titles = [doc.columns[i].title for i in money_cols]
    want = [*report.params.titles, "Total"]
    if titles != want:
        check.differences.append(Difference("aging", "", "(columns)", f"QuickBooks' columns {titles}, "
                                            f"qbsync's {want}", None, None))
        return check
    theirs = per_customer(doc, money_cols)
    ours = {r.customer_id: [*(r.buckets[b] for b in report.params.buckets), r.total] for r in report.rows}
    theirs = {c: v for c, v in theirs.items() if any(v)}
    check.compared = len(set(ours) | set(theirs))
    check.differences = _compare("aging", ours, theirs, want, report.names)
    check.ours_total = report.total
    check.theirs_total = sum((v[-1] for v in theirs.values()), ZERO)
    return check


def _txn_compare(report: str, qbo: str, as_of: date, params: dict[str, str], doc: ReportDoc,
                 items: Iterable[receivables.OpenItem], names: Mapping[str, str],
                 section_of: Callable[[receivables.OpenItem], str] | None) -> Check:
    check = Check(report, qbo, as_of, params)
    ours = {(i.kind, i.txn_id): i for i in items}
    theirs = {(t.kind, t.txn_id): t for t in per_transaction(doc)}
    check.compared = len(set(ours) | set(theirs))
    for key in sorted(set(ours) | set(theirs), key=lambda k: (k[0], len(k[1]), k[1])):
        mine, qb = ours.get(key), theirs.get(key)
        cid = mine.customer_id if mine else (qb.customer_id or "") if qb else ""
        name = names.get(cid, qb.name if qb else cid)
        label = f"{KIND_TITLES.get(key[0], key[0])} {key[1]}"
        if (mine.open if mine else None) != (qb.open if qb else None):
            check.differences.append(Difference(report, cid, name, f"{label} open balance",
                                                mine.open if mine else None, qb.open if qb else None))
        elif mine and qb and qb.customer_id is not None and mine.customer_id != qb.customer_id:
            check.differences.append(Difference(report, cid, name, f"{label} customer {qb.customer_id}",
                                                mine.open, qb.open))
        elif mine and qb and section_of is not None and section_of(mine) != qb.section:
            check.differences.append(Difference(report, cid, name, f"{label} under {qb.section!r}, qbsync "
                                                f"{section_of(mine)!r}", mine.open, qb.open))
    check.ours_total = sum((i.open for i in ours.values()), ZERO)
    check.theirs_total = sum((t.open for t in theirs.values()), ZERO)
    return check


def check_aging_detail(fetch: Fetch, report: aging_mod.AgingReport) -> Check:
    """Each open transaction against QuickBooks' AgedReceivableDetail: open balance and column."""
    params = _aging_params(report.params, report.as_of)
    doc = parse(fetch("AgedReceivableDetail", params))
    p = report.params

    def section_of(item: receivables.OpenItem) -> str:
        """QuickBooks' title of the detail's section for the item's column."""
        bucket = p.bucket(p.age(item, report.aged_on))
        n = p.buckets.index(bucket)
        if n == 0:
            return "Current"
        if n == p.periods:
            return f"{(p.periods - 1) * p.days + 1} or more days past due"
        return f"{(n - 1) * p.days + 1} - {n * p.days} days past due"

    return _txn_compare("aging-detail", "AgedReceivableDetail", report.as_of, params, doc, report.items,
                        report.names, section_of)


def check_balance(fetch: Fetch, items: list[receivables.OpenItem], names: Mapping[str, str], as_of: date,
                  only: Iterable[str] | None = None, report: str = "balance") -> Check:
    """Each customer's balance against QuickBooks' CustomerBalance on ``as_of``."""
    params = {"report_date": as_of.isoformat(), "accounting_method": "Accrual"}
    wanted = None if only is None else set(only)
    if wanted is not None:
        params["customer"] = ",".join(sorted(wanted, key=lambda c: (len(c), c)))
    doc = parse(fetch("CustomerBalance", params))
    check = Check(report, "CustomerBalance", as_of, params)
    ours = {c: [v] for c, v in receivables.balances(items).items() if v and (wanted is None or c in wanted)}
    theirs = {c: v for c, v in per_customer(doc, [len(doc.columns) - 1]).items()
              if v[0] and (wanted is None or c in wanted)}
    check.compared = len(set(ours) | set(theirs))
    check.differences = _compare(report, ours, theirs, ["Balance"], names)
    check.ours_total = sum((v[0] for v in ours.values()), ZERO)
    check.theirs_total = sum((v[0] for v in theirs.values()), ZERO)
    return check


def check_balance_detail(fetch: Fetch, items: list[receivables.OpenItem], names: Mapping[str, str],
                         as_of: date) -> Check:
    params = {"report_date": as_of.isoformat(), "accounting_method": "Accrual"}
    doc = parse(fetch("CustomerBalanceDetail", params))
    return _txn_compare("balance-detail", "CustomerBalanceDetail", as_of, params, doc, items, names, None)


def check_sales(fetch: Fetch, ours_by_customer: Mapping[str, Decimal], names: Mapping[str, str],
                period: Period, as_of: date) -> Check:
    """Each customer's sales in the period against QuickBooks' Sales by Customer Summary (accrual)."""
    params = {"start_date": period.start.isoformat(), "end_date": period.end.isoformat(),
              "accounting_method": "Accrual", "summarize_column_by": "Total"}
    doc = parse(fetch("CustomerSales", params))
    check = Check("sales", "CustomerSales", as_of, params)
    ours = {c: [v] for c, v in ours_by_customer.items() if v}
    theirs = {c: v for c, v in per_customer(doc, [len(doc.columns) - 1]).items() if v[0]}
    check.compared = len(set(ours) | set(theirs))
    check.differences = _compare("sales", ours, theirs, ["Sales"], names)
    check.ours_total = sum((v[0] for v in ours.values()), ZERO)
    check.theirs_total = sum((v[0] for v in theirs.values()), ZERO)
    return check


def check_statements(fetch: Fetch, statements: Sequence[Any], as_of: date) -> Check:
    """Each statement's balance (its customer with the jobs rolled up into it) against the sum of
    QuickBooks' CustomerBalance for them on the statement date."""
    members = sorted({m for st in statements for m in st.members}, key=lambda c: (len(c), c))
    params = {"report_date": as_of.isoformat(), "accounting_method": "Accrual"}
    if members and len(members) <= 100:  # QuickBooks takes a list of customers; a batch asks for all
        params["customer"] = ",".join(members)
    doc = parse(fetch("CustomerBalance", params))
    theirs = per_customer(doc, [len(doc.columns) - 1])
    check = Check("statement", "CustomerBalance", as_of, params)
    for st in statements:
        qb = sum((theirs.get(m, [ZERO])[0] for m in st.members), ZERO)
        check.compared += 1
        check.ours_total += st.balance
        check.theirs_total += qb
        if qb != st.balance:
            check.differences.append(Difference("statement", st.customer_id, st.name, "Balance",
                                                st.balance, qb))
    return check


# ---- running, recording, showing -----------------------------------------------------------------------


def run(engine: sa.Engine, realm_id: str, fetch: Fetch, as_of: date, reports: Sequence[str] = CHECKS, *,
        params: aging_mod.AgingParams = aging_mod.DEFAULT, period: Period | None = None,
        today: date | None = None) -> list[Check]:
    """The checks named in ``reports`` on ``as_of`` (sales over ``period``, default the year to as_of;
    ``today``: what the aging method ``current`` ages to)."""
    unknown = [r for r in reports if r not in CHECKS]
    if unknown:
        raise InputError(f"unknown report {', '.join(unknown)}", hint=f"use one of: {', '.join(CHECKS)}")
    out: list[Check] = []
    with engine.connect() as conn:
        names = customer_names(conn, realm_id)
        needs_items = any(r in reports for r in ("aging", "aging-detail", "balance", "balance-detail"))
        items = receivables.open_items(conn, realm_id, as_of, params.method) if needs_items else []
        report_date_items = items if params.method == "report_date" else (
            receivables.open_items(conn, realm_id, as_of) if needs_items else [])
        bought: dict[str, Decimal] = {}
        if "sales" in reports:
            span = period or Period(date.fromordinal(as_of.toordinal() - 364), as_of)
            bought = sales.by_customer(conn, realm_id, span.start, span.end)
    aged = aging_mod.compute(items, names, as_of, params, today)
    for name in reports:
        if name == "aging":
            out.append(check_aging(fetch, aged))
        elif name == "aging-detail":
            out.append(check_aging_detail(fetch, aged))
        elif name == "balance":
            out.append(check_balance(fetch, report_date_items, names, as_of))
        elif name == "balance-detail":
            out.append(check_balance_detail(fetch, report_date_items, names, as_of))
        elif name == "sales":
            out.append(check_sales(fetch, bought, names, period or Period(
                date.fromordinal(as_of.toordinal() - 364), as_of), as_of))
    return out


def record(engine: sa.Engine, realm_id: str, checks: Iterable[Check], when: datetime) -> None:
    """Keep each check's outcome in the cache (what ``report health`` shows)."""
    with engine.begin() as conn:
        for c in checks:
            conn.execute(sa.insert(ReportCheck).values(
                realm_id=realm_id, report=c.report, qbo_report=c.qbo_report, checked_at=when, as_of=c.as_of,
                params=c.params, compared=c.compared, differences=len(c.differences),
                detail=[{"customer_id": d.customer_id, "name": d.name, "what": d.what,
                         "ours": None if d.ours is None else str(d.ours),
                         "theirs": None if d.theirs is None else str(d.theirs)}
                        for d in c.differences[:KEEP_DETAIL]], error=None))


def last_checks(conn: sa.Connection, realm_id: str) -> dict[str, ReportCheck]:
    """The latest check of each report for ``realm_id``."""
    latest = (sa.select(ReportCheck.report, sa.func.max(ReportCheck.id).label("id"))
              .where(ReportCheck.realm_id == realm_id).group_by(ReportCheck.report).subquery())
    rows = conn.execute(sa.select(ReportCheck.__table__)
                        .join(latest, latest.c.id == ReportCheck.id)).mappings()
    return {r["report"]: ReportCheck(**dict(r)) for r in rows}


def table(checks: Sequence[Check]) -> Table:
    """Every difference with both figures; an empty table (and a note per check) when all agree."""
    cols = [Column("report", "Report"), Column("qbo_report", "QuickBooks report"),
            Column("customer_id", "Customer Id"), Column("name", "Customer"), Column("what", "What"),
            Column("ours", "qbsync", "money"), Column("theirs", "QuickBooks", "money"),
            Column("difference", "Difference", "money")]
    rows: list[dict[str, Any]] = []
    for c in checks:
        for d in c.differences:
            diff = None if d.ours is None and d.theirs is None else (d.ours or ZERO) - (d.theirs or ZERO)
            rows.append({"report": d.report, "qbo_report": c.qbo_report, "customer_id": d.customer_id,
                         "name": d.name, "what": d.what, "ours": d.ours, "theirs": d.theirs,
                         "difference": diff})
    notes = []
    for c in checks:
        what = "transactions" if c.report.endswith("detail") else (
            "statements" if c.report == "statement" else "customers")
        verdict = "agree to the cent" if c.ok else f"{len(c.differences)} differences"
        asked = ", ".join(f"{k}={v}" for k, v in c.params.items())
        notes.append(f"{c.report} vs QuickBooks' {c.qbo_report} ({asked}): {c.compared} {what} compared, "
                     f"{verdict}; totals {c.ours_total:,.2f} / {c.theirs_total:,.2f}")
    differing = sum(len(c.differences) for c in checks)
    as_of = checks[0].as_of if checks else None
    return Table(f"Reconciliation with QuickBooks as of {as_of}", cols, rows, None, notes,
                 {"as_of": as_of, "checks": len(checks), "differences": differing,
                  **{f"compared:{c.report}": c.compared for c in checks}})


def outcome(checks: Sequence[Check]) -> None:
    """Raise ``ReconcileError`` (exit 7) when any check found a difference."""
    bad = [c for c in checks if not c.ok]
    if bad:
        n = sum(len(c.differences) for c in bad)
        raise ReconcileError(
            f"{n} figures differ from QuickBooks' own reports ({', '.join(c.qbo_report for c in bad)})",
            hint="run `qbsync sync` and check again; a difference that stays after a sync is worth reporting")


def by_customer(checks: Sequence[Check]) -> dict[str, list[Difference]]:
    out: dict[str, list[Difference]] = defaultdict(list)
    for c in checks:
        for d in c.differences:
            out[d.customer_id].append(d)
    return dict(out)
