"""Customer statement: one customer's invoices, receipts, payments and credit memos with a running balance.

Balance moves like QuickBooks' customer balance: an invoice adds its total, a payment or credit
memo takes its total off, a sales receipt is paid at sale (shown, balance unchanged). Voided
invoices are listed at zero. Lines before ``--from`` are summed into the opening balance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from qbsync.cache.models import CreditMemo, Customer, Invoice, Payment, SalesReceipt
from qbsync.errors import InputError
from qbsync.reports.source import ZERO, plain_name
from qbsync.reports.table import Column, Table

_ORDER = {"Invoice": 0, "Sales receipt": 1, "Credit memo": 2, "Payment": 3}


@dataclass
class StatementLine:
    txn_date: date
    kind: str
    txn_id: str
    number: str | None
    due_date: date | None
    charge: Decimal
    credit: Decimal
    balance: Decimal = ZERO
    open_balance: Decimal | None = None  # invoices: what is still open today (cache)


@dataclass
class Statement:
    customer_id: str
    name: str
    as_of: date
    start: date | None
    opening: Decimal
    lines: list[StatementLine]

    @property
    def closing(self) -> Decimal:
        return self.lines[-1].balance if self.lines else self.opening


def build(lines: list[StatementLine], start: date | None) -> tuple[Decimal, list[StatementLine]]:
    """Pure: sort, sum what came before ``start`` into the opening balance, run the balance."""
    lines = sorted(lines, key=lambda x: (x.txn_date, _ORDER[x.kind], x.txn_id))
    opening = ZERO
    shown: list[StatementLine] = []
    for line in lines:
        if start is not None and line.txn_date < start:
            opening += line.charge - line.credit
        else:
            shown.append(line)
    balance = opening
    for line in shown:
        if line.kind != "Sales receipt":
            balance += line.charge - line.credit
        line.balance = balance
    return opening, shown


def statement(engine: sa.Engine, realm_id: str, customer: str, as_of: date,
              start: date | None = None) -> Statement:
    """``customer`` is an Id or an exact display name."""
    with engine.connect() as conn:
        found = conn.execute(sa.select(Customer.id, Customer.display_name).where(
            Customer.realm_id == realm_id,
            sa.or_(Customer.id == customer, Customer.display_name == customer,
                   Customer.display_name == f"{customer} (deleted)"))).all()
        if not found:
            raise InputError(f"no customer with Id or name {customer!r} in the cache",
                             hint="check the Id with `qbsync report best` or run `qbsync sync` first")
        if len(found) > 1:
            raise InputError(f"{customer!r} matches {len(found)} customers",
                             hint="pass the customer's Id instead of its name")
        cid, name = found[0]
        lines: list[StatementLine] = []

        def fetch(model: Any, *extra: Any) -> Any:
            return conn.execute(sa.select(model.id, model.txn_date, model.doc_number, model.total_amt, *extra)
                                .where(model.realm_id == realm_id, model.customer_id == cid,
                                       model.txn_date <= as_of))

        for iid, day, doc, total, due, bal, voided in fetch(Invoice, Invoice.due_date, Invoice.balance,
                                                             Invoice.voided):
            amount = ZERO if voided else total
            lines.append(StatementLine(day, "Invoice", iid, doc, due, amount, ZERO, open_balance=bal))
        for sid, day, doc, total in fetch(SalesReceipt):
            lines.append(StatementLine(day, "Sales receipt", sid, doc, None, total, total))
        for mid, day, doc, total in fetch(CreditMemo):
            lines.append(StatementLine(day, "Credit memo", mid, doc, None, ZERO, total))
        for pid, day, doc, total in fetch(Payment):
            lines.append(StatementLine(day, "Payment", pid, doc, None, ZERO, total))
    opening, shown = build(lines, start)
    return Statement(cid, plain_name(name), as_of, start, opening, shown)


def table(st: Statement) -> Table:
    cols = [Column("txn_date", "Date", "date"), Column("kind", "Type"), Column("number", "No."),
            Column("txn_id", "Id"), Column("due_date", "Due", "date"), Column("charge", "Charge", "money"),
            Column("credit", "Payment/credit", "money"), Column("balance", "Balance", "money")]
    rows: list[dict[str, Any]] = []
    if st.start is not None:
        rows.append({"txn_date": st.start, "kind": "Opening balance", "balance": st.opening})
    rows += [vars(line).copy() for line in st.lines]
    totals = {"kind": "Closing balance", "charge": sum((x.charge for x in st.lines), ZERO),
              "credit": sum((x.credit for x in st.lines), ZERO), "balance": st.closing}
    span = f"{st.start.isoformat()}..{st.as_of.isoformat()}" if st.start else f"to {st.as_of.isoformat()}"
    return Table(f"Statement of {st.name} (Id {st.customer_id}) {span}", cols, rows, totals, [],
                 {"as_of": st.as_of, "customer_id": st.customer_id, "opening": str(st.opening),
                  "closing": str(st.closing)})
