"""Dunning list for a mail merge: invoices falling due within N days (reminder) or overdue (by aging bucket).

One row per open invoice, with the customer's name and email, invoice number, amount, open
balance and due date, and the stage: ``reminder`` (due in the next ``within_days`` days) or the
aging bucket of an overdue invoice (``1-30`` ... ``over 90``). Balances are as of ``as_of``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from qbsync.cache.models import Customer
from qbsync.reports.aging import bucket_of
from qbsync.reports.source import invoice_states, plain_name
from qbsync.reports.table import Column, Table

STAGES = ("reminder", "1-30", "31-60", "61-90", "over 90")


@dataclass
class DunningRow:
    customer_id: str
    name: str
    email: str | None
    invoice_id: str
    doc_number: str | None
    txn_date: date
    due_date: date
    amount: Decimal
    balance: Decimal
    days: int  # negative: days until due; positive: days overdue
    stage: str


def dunning(engine: sa.Engine, realm_id: str, as_of: date, *, within_days: int = 7,
            stages: tuple[str, ...] = STAGES) -> list[DunningRow]:
    with engine.connect() as conn:
        invoices = invoice_states(conn, realm_id, as_of, open_only=True)
        people = {cid: (plain_name(name), email) for cid, name, email in conn.execute(
            sa.select(Customer.id, Customer.display_name, Customer.email)
            .where(Customer.realm_id == realm_id))}
    rows: list[DunningRow] = []
    for inv in invoices:
        if inv.balance <= 0:
            continue
        days = (as_of - inv.due_date).days
        if days <= 0:
            if -days > within_days:
                continue
            stage = "reminder"
        else:
            stage = bucket_of(days)
        if stage not in stages:
            continue
        name, email = people.get(inv.customer_id, (inv.customer_id, None))
        rows.append(DunningRow(inv.customer_id, name, email, inv.invoice_id, inv.doc_number, inv.txn_date,
                               inv.due_date, inv.total, inv.balance, days, stage))
    rows.sort(key=lambda r: (STAGES.index(r.stage), r.name.casefold(), r.due_date, r.invoice_id))
    return rows


def table(rows: list[DunningRow], as_of: date) -> Table:
    cols = [Column("stage", "Stage"), Column("customer_id", "Customer Id"), Column("name", "Name"),
            Column("email", "Email"), Column("doc_number", "Invoice No"),
            Column("txn_date", "Invoice Date", "date"),
            Column("due_date", "Due Date", "date"), Column("amount", "Amount", "money"),
            Column("balance", "Balance Due", "money"), Column("days", "Days Overdue", "int")]
    return Table(f"Dunning list as of {as_of.isoformat()}", cols, [vars(r).copy() for r in rows], None,
                 ["Days Overdue is negative for invoices not yet due"],
                 {"as_of": as_of, "invoices": len(rows)})
