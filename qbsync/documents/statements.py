"""Statements as documents: `report statement`'s statements, laid out for the customer, in its language.

The statements are the statement report's own (``reports.statement``: QuickBooks' balance forward,
open item and transaction statements, jobs rolled up to the parent they are billed with, the batch
of customers with an open or overdue balance); this module lays each kind out in the four columns
QuickBooks Online prints on a statement, and hands them to ``statement.html``:

- balance forward: Date, Description, Amount (charges +, payments and credits -), Balance;
- open item: Date, Description, Amount, Open balance;
- transaction statement: Date, Description, Amount (charges), Received (payments and credits).

The description is QuickBooks' "Invoice #1001: Due 07/01/2025." (type, number, the job on a
rolled-up statement, the due date). ``report statement`` keeps type, number, job and due date in
columns of their own, for a spreadsheet. Titles and column names are English msgids the catalogues
translate like the templates' own words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from qbsync.customers.file import languages
from qbsync.documents.compose import Article, Composer, Recipient
from qbsync.reports import aging, statement

KINDS = statement.KINDS
STATUSES = statement.STATUSES


@dataclass(frozen=True)
class StatementView:
    customer_id: str
    kind: str
    title: str  # a msgid: "Balance forward statement", ...
    as_of: date
    start: date | None
    opening: Decimal | None  # the "Balance forward" row, when the statement starts at a date
    columns: list[tuple[str, str, str]]  # key, English title (a msgid), kind: date / type / text / money
    lines: list[dict[str, Any]]
    amount_due: Decimal | None  # None on a transaction statement (QuickBooks shows none)
    totals: dict[str, Decimal]
    aging: list[tuple[str, Decimal]]  # (English label, amount): the open balance by age

    @property
    def widths(self) -> list[int]:
        """Column widths in per cent (a fixed table layout is several times faster to lay out): the
        description takes what the date and the amounts leave."""
        fixed = {"date": 15, "money": 19}
        rest = 100 - sum(fixed.get(k, 0) for _, _, k in self.columns)
        flexible = [k for _, _, k in self.columns if k not in fixed]
        return [fixed.get(k, rest // max(len(flexible), 1)) for _, _, k in self.columns]

    def cells(self, line: dict[str, Any]) -> list[tuple[str, str, int]]:
        """The cells of one line as (key, kind, columns spanned). An empty cell joins a neighbour
        that can take its room without moving: a text cell before it (left-aligned) or an amount
        after it (right-aligned). The line reads and looks the same, with fewer cells to lay out:
        WeasyPrint's time goes with the cells (a payment on a transaction statement has 3, not 4)."""
        out: list[list[Any]] = []
        carry = 0  # empty amount columns waiting for the amount after them
        kinds = [kind for _, _, kind in self.columns]
        for i, (key, _, kind) in enumerate(self.columns):
            empty = line[key] is None or line[key] == ""
            if empty and kind != "money" and not carry and out and out[-1][1] != "money":
                out[-1][2] += 1
            elif empty and kind == "money" and kinds[i + 1:i + 2] == ["money"]:
                carry += 1
            else:
                out.append([key, kind, 1 + carry])
                carry = 0
        return [(key, kind, span) for key, kind, span in out]


@dataclass(frozen=True)
class Activity:
    """A line's description, as QuickBooks prints it: "Invoice #1001 (job): Due 07/01/2025."."""

    kind: str  # QuickBooks' type name (a msgid)
    number: str | None  # the document's number; none when it has none (never the internal Id)
    job: str | None  # on a statement that rolls jobs up
    due: date | None

    def __str__(self) -> str:
        """In English with ISO dates: what a template that prints the value as it is shows (one
        copied before the description existed prints ``line.activity`` through its last branch)."""
        number = f" #{self.number}" if self.number else ""
        job = f" ({self.job})" if self.job else ""
        due = f": Due {self.due.isoformat()}" if self.due else ""
        return f"{self.kind}{number}{job}{due}"


def view(st: statement.Statement) -> StatementView:
    """The layout of one statement: QuickBooks' four columns for its kind."""
    head = [("txn_date", "Date", "date"), ("activity", "Description", "activity")]
    if st.kind == "balance-forward":
        cols = [*head, ("amount", "Amount", "money"), ("balance", "Balance", "money")]
    elif st.kind == "open-item":
        cols = [*head, ("amount", "Amount", "money"), ("open", "Open balance", "money")]
    else:
        cols = [*head, ("charge", "Amount", "money"), ("received", "Received", "money")]
    jobs = len(st.members) > 1
    # "kind", "number", "customer" and "due_date" too: the keys of the columns before the description,
    # which templates copied then (``documents templates --copy``) still read
    lines = [{"txn_date": x.txn_date,
              "activity": Activity(x.kind, x.number, x.customer if jobs else None, x.due_date),
              "kind": x.kind, "number": x.number or x.txn_id, "customer": x.customer, "due_date": x.due_date,
              "amount": x.amount, "charge": x.charge or None, "received": x.credit or None,
              "balance": x.balance, "open": x.open} for x in st.lines]
    totals = {"charge": sum((x.charge for x in st.lines), Decimal("0.00")),
              "received": sum((x.credit for x in st.lines), Decimal("0.00"))}
    ages = list(zip(aging.DEFAULT.titles, st.aging.values(), strict=True)) if st.kind != "transaction" else []
    return StatementView(st.customer_id, st.kind, statement.KIND_NAMES[st.kind], st.as_of, st.start,
                         st.opening if st.kind == "balance-forward" and st.start is not None else None, cols,
                         lines, None if st.kind == "transaction" else st.amount_due, totals, ages)


def recipient(st: statement.Statement, language: str | None) -> Recipient:
    """Who the statement goes to: its bill-to customer and billing address, as the statement has them."""
    lines = tuple(st.address.lines)
    if lines and lines[0] == st.name:
        lines = lines[1:]
    return Recipient(st.customer_id, st.name, lines, st.email, language)


def statements(engine: sa.Engine, realm_id: str, customers: Sequence[str], as_of: date, start: date | None,
               composer: Composer, *, kind: str = "balance-forward", balance: str = "open",
               open_item_days: int = statement.OPEN_ITEM_DAYS) -> list[tuple[StatementView, Article]]:
    """One statement per customer named (Id or exact name; a job billed with its parent gives the
    parent's), or the batch of ``balance`` (open, overdue, all) when none is named."""
    if customers:  # read once for all of them, not once per customer
        sts = statement.named(engine, realm_id, customers, as_of, start, kind, open_item_days)
    else:
        sts = statement.statements(engine, realm_id, as_of, start, kind, balance, open_item_days)
    with engine.connect() as conn:
        langs = languages(conn, realm_id)
    out = []
    for st in sts:
        v = view(st)
        out.append((v, composer.article("statement.html", recipient(st, langs.get(st.customer_id)), st=v)))
    return out
