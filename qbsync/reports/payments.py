"""Payment behaviour: days to pay, days late, share paid late, a class per customer, large vs small accounts.

Which invoices count: those issued in the period and due by ``as_of``, and every invoice still open
and past due on ``as_of`` whatever its issue date (an old unpaid debt is the most telling of all);
not voided, amount above zero. An invoice is *paid* on the date of the last payment applied to it
once nothing is left open (``PaymentLink`` dates each payment line). It is *late* when paid more
than ``grace_days`` after its due date, or still open past its due date + ``grace_days``.

Classes (thresholds in ``PaymentRules``, all configurable), the first that applies:
- ``long-term debtor``: owes on an invoice more than ``long_term_days`` (180) past due;
- ``non-payer``: paid less than ``nonpayer_paid_share`` (25 %) of the amount due, and something
  has been overdue for more than ``nonpayer_overdue_days`` (60);
- ``chronically late``: at least ``chronic_share`` (50 %) of due invoices late;
- ``sometimes late``: more than ``on_time_max_share`` (10 %) but less than ``chronic_share`` late;
- ``on time``: at most ``on_time_max_share`` late;
- ``paid at sale``: bought in the period by sales receipt only (nothing to be late with);
- ``no history``: invoiced, but nothing due yet (not listed).

Deal size, for every customer who bought in the period (sales receipts too): ``large`` for the top
``large_share`` (20 %) of buyers by their sales in the period (QuickBooks' Sales by Customer
figure, ``reports.sales``), ``small`` for the others; a customer listed only for an old debt has none.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from qbsync.cache.read import bulk
from qbsync.reports import sales
from qbsync.reports.source import ZERO, InvoiceState, Period, customer_names, invoice_states
from qbsync.reports.table import Column, Table

CLASSES: tuple[str, ...] = ("on time", "sometimes late", "chronically late", "non-payer", "long-term debtor",
                            "paid at sale", "no history")
SEVERITY: tuple[str, ...] = ("long-term debtor", "non-payer", "chronically late", "sometimes late", "on time",
                             "paid at sale", "no history")


@dataclass(frozen=True)
class PaymentRules:
    grace_days: int = 5
    on_time_max_share: Decimal = Decimal("0.10")
    chronic_share: Decimal = Decimal("0.50")
    nonpayer_paid_share: Decimal = Decimal("0.25")
    nonpayer_overdue_days: int = 60
    large_share: Decimal = Decimal("0.20")
    long_term_days: int = 180


@dataclass
class PayerRow:
    customer_id: str
    name: str
    invoiced: Decimal = ZERO  # total of the invoices counted
    due_invoices: int = 0
    not_due: int = 0  # invoices issued in the period, not due yet
    paid_invoices: int = 0
    late_invoices: int = 0
    open_overdue: int = 0
    paid_amount: Decimal = ZERO  # applied to the counted invoices by as_of
    # over the paid invoices (``paid_invoices`` of them): days from invoice to last payment, and days
    # past due (0 when on time); sums, not lists: only their means are shown
    days_to_pay_total: int = 0
    days_late_total: int = 0
    max_overdue_days: int = 0  # oldest still-open invoice's days past due
    open_amount: Decimal = ZERO  # still open on the counted invoices
    sales: Decimal = ZERO  # net sales in the period (Sales by Customer)
    payment_class: str = "no history"
    size: str | None = None  # "large" / "small" for buyers in the period

    @property
    def avg_days_to_pay(self) -> Decimal | None:
        return _mean(self.days_to_pay_total, self.paid_invoices)

    @property
    def avg_days_late(self) -> Decimal | None:
        return _mean(self.days_late_total, self.paid_invoices)

    @property
    def late_share(self) -> Decimal | None:
        return Decimal(self.late_invoices) / self.due_invoices if self.due_invoices else None

    @property
    def paid_share(self) -> Decimal | None:
        return self.paid_amount / self.invoiced if self.invoiced > 0 else None


def _mean(total: int, count: int) -> Decimal | None:
    return Decimal(total) / count if count else None


def classify(row: PayerRow, rules: PaymentRules) -> str:
    if row.due_invoices == 0:
        return "paid at sale" if row.sales > 0 and not row.not_due else "no history"
    if row.max_overdue_days > rules.long_term_days:
        return "long-term debtor"
    paid_share = row.paid_share or ZERO
    if paid_share < rules.nonpayer_paid_share and row.max_overdue_days > rules.nonpayer_overdue_days:
        return "non-payer"
    late = row.late_share or ZERO
    if late >= rules.chronic_share:
        return "chronically late"
    if late > rules.on_time_max_share:
        return "sometimes late"
    return "on time"


@dataclass
class PaymentsReport:
    as_of: date
    period: Period
    rules: PaymentRules
    rows: list[PayerRow]

    def by_class(self) -> Counter[str]:
        return Counter(r.payment_class for r in self.rows)


def compute(invoices: Iterable[InvoiceState], names: dict[str, str], as_of: date, period: Period,
            rules: PaymentRules = PaymentRules(), sales_in_period: dict[str, Decimal] | None = None
            ) -> PaymentsReport:
    """Pure: invoice states and sales in, one row per customer who was invoiced or bought."""
    rows: dict[str, PayerRow] = {}

    def row_of(cid: str) -> PayerRow:
        row = rows.get(cid)
        if row is None:
            row = rows[cid] = PayerRow(cid, names.get(cid, cid))
        return row

    for inv in invoices:
        if inv.total <= 0 or inv.txn_date > as_of:
            continue
        issued_in = period.start <= inv.txn_date <= period.end
        if inv.due_date > as_of:
            if issued_in:
                row_of(inv.customer_id).not_due += 1
            continue
        if not issued_in and not inv.balance > 0:
            continue  # an older invoice counts only while it is still owed
        row = row_of(inv.customer_id)
        row.invoiced += inv.total
        row.due_invoices += 1
        row.paid_amount += inv.paid_amount
        if inv.balance == 0 and inv.last_paid is not None:
            row.paid_invoices += 1
            late_by = (inv.last_paid - inv.due_date).days
            row.days_to_pay_total += max(0, (inv.last_paid - inv.txn_date).days)
            row.days_late_total += max(0, late_by)
            if late_by > rules.grace_days:
                row.late_invoices += 1
        elif inv.balance > 0:
            overdue = (as_of - inv.due_date).days
            row.open_amount += inv.balance
            if overdue > rules.grace_days:
                row.late_invoices += 1
                row.open_overdue += 1
            row.max_overdue_days = max(row.max_overdue_days, overdue)
    buyers = {cid: amount for cid, amount in (sales_in_period or {}).items() if amount > 0}
    for cid, amount in buyers.items():
        row_of(cid).sales = amount
    out = list(rows.values())
    for row in out:
        row.payment_class = classify(row, rules)
    by_size = sorted((r for r in out if r.customer_id in buyers), key=lambda r: (-r.sales, r.customer_id))
    n_large = int((Decimal(len(by_size)) * rules.large_share).to_integral_value(rounding="ROUND_CEILING"))
    for n, row in enumerate(by_size):
        row.size = "large" if n < n_large else "small"
    out = [r for r in out if r.payment_class != "no history" or r.size is not None]
    out.sort(key=lambda r: (SEVERITY.index(r.payment_class), -(r.late_share or 0), r.name, r.customer_id))
    return PaymentsReport(as_of, period, rules, out)


@bulk()
def payments(engine: sa.Engine, realm_id: str, as_of: date, period: Period,
             rules: PaymentRules = PaymentRules()) -> PaymentsReport:
    with engine.connect() as conn:
        bought = sales.by_customer(conn, realm_id, period.start, period.end)
        names = customer_names(conn, realm_id)
        invoices = invoice_states(conn, realm_id, as_of, issued_from=period.start)
    # the states are made one at a time as compute folds them per customer: 100,000s of them never
    # live together (their making, freeing and the collector's walk over them grew x14 for x10 data)
    return compute(invoices, names, as_of, period, rules, bought)


@dataclass
class GroupSummary:
    group: str
    customers: int
    invoices: int
    invoiced: Decimal
    avg_days_to_pay: Decimal | None
    avg_days_late: Decimal | None
    late_share: Decimal | None
    classes: Counter[str]


def summarise(rows: list[PayerRow], group: str) -> GroupSummary:
    paid = sum(r.paid_invoices for r in rows)
    due = sum(r.due_invoices for r in rows)
    return GroupSummary(group, len(rows), due, sum((r.invoiced for r in rows), ZERO),
                        _mean(sum(r.days_to_pay_total for r in rows), paid),
                        _mean(sum(r.days_late_total for r in rows), paid),
                        Decimal(sum(r.late_invoices for r in rows)) / due if due else None,
                        Counter(r.payment_class for r in rows))


def size_split(report: PaymentsReport) -> list[GroupSummary]:
    return [summarise([r for r in report.rows if r.size == size], f"{size} accounts")
            for size in ("large", "small")] + [summarise(report.rows, "all accounts")]


def table(report: PaymentsReport, limit: int | None = None) -> Table:
    cols = [Column("customer_id", "Id"), Column("name", "Customer"), Column("payment_class", "Class"),
            Column("size", "Size"), Column("due_invoices", "Invoices", "int"),
            Column("late_invoices", "Late", "int"), Column("late_share", "Late %", "share"),
            Column("avg_days_to_pay", "Avg days to pay", "number"),
            Column("avg_days_late", "Avg days late", "number"), Column("open_overdue", "Open overdue", "int"),
            Column("invoiced", "Invoiced", "money"), Column("paid_share", "Paid %", "share"),
            Column("open_amount", "Open", "money"),
            Column("max_overdue_days", "Oldest overdue (days)", "int"),
            Column("sales", "Sales", "money")]
    rows = [{c.key: getattr(r, c.key) for c in cols} for r in report.rows]
    notes = []
    if limit is not None and len(rows) > limit:
        notes.append(f"showing {limit} of {len(rows)} customers")
        rows = rows[:limit]
    for g in size_split(report):
        classes = ", ".join(f"{c} {g.classes[c]}" for c in CLASSES if g.classes[c]) or "no customers"
        avg = "-" if g.avg_days_to_pay is None else f"{g.avg_days_to_pay:.1f}"
        late = "-" if g.late_share is None else f"{g.late_share * 100:.1f}%"
        notes.append(f"{g.group}: {g.customers} customers, {g.invoices} invoices, avg {avg} days to pay, "
                     f"{late} late; {classes}")
    meta = {"as_of": report.as_of, "period": str(report.period), "grace_days": report.rules.grace_days,
            **{f"class:{k}": v for k, v in report.by_class().items()}}
    return Table(f"Payment behaviour of invoices issued {report.period} or still open, due by {report.as_of}",
                 cols, rows,
                 None, notes, meta)
