"""Statements as documents: `report statement`'s statements, laid out for the customer, in its language.

The statements are the statement report's own (``reports.statement``: QuickBooks' balance forward,
open item and transaction statements, jobs rolled up to the parent they are billed with, the batch
of customers with an open or overdue balance); this module only chooses the columns each kind
shows, as ``report statement`` does, and hands them to ``statement.html``. Titles and column names
are English msgids the catalogues translate like the templates' own words.
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
        """Column widths in per cent (a fixed table layout is several times faster to lay out)."""
        fixed = {"date": 14, "type": 16, "text": 12}
        money = [k for _, _, k in self.columns if k == "money"]
        rest = 100 - sum(fixed.get(k, 0) for _, _, k in self.columns if k != "money")
        return [fixed.get(k, rest // max(len(money), 1)) for _, _, k in self.columns]

    def cells(self, line: dict[str, Any]) -> list[tuple[str, str, int]]:
        """The cells of one line as (key, kind, columns spanned). An empty cell joins a neighbour
        that can take its room without moving: a text cell before it (left-aligned) or an amount
        after it (right-aligned). The line reads and looks the same, with fewer cells to lay out:
        WeasyPrint's time goes with the cells (a balance-forward line has 5-6 instead of 7)."""
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


def view(st: statement.Statement) -> StatementView:
    """The layout of one statement, with the columns `report statement` gives its kind."""
    head = [("txn_date", "Date", "date"), ("kind", "Type", "type"), ("number", "No.", "text")]
    if len(st.members) > 1:
        head.append(("customer", "Job", "text"))
    if st.kind == "balance-forward":
        cols = [*head, ("due_date", "Due date", "date"), ("charge", "Amount", "money"),
                ("received", "Payment/credit", "money"), ("balance", "Balance", "money")]
    elif st.kind == "open-item":
        cols = [*head, ("due_date", "Due date", "date"), ("amount", "Amount", "money"),
                ("open", "Open balance", "money")]
    else:
        cols = [*head, ("charge", "Amount", "money"), ("received", "Received", "money")]
    lines = [{"txn_date": x.txn_date, "kind": x.kind, "number": x.number or x.txn_id, "customer": x.customer,
              "due_date": x.due_date, "amount": x.amount, "charge": x.charge or None,
              "received": x.credit or None, "balance": x.balance, "open": x.open} for x in st.lines]
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
