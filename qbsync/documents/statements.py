"""Statements as documents: `report statement`'s data, laid out for the customer, in its language.

The figures are the statement report's own (``reports.statement``): this module only chooses the
columns a kind shows and hands them to ``statement.html``. Titles and column names are English
msgids translated by the catalogues like the templates' own words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from qbsync.documents.compose import Article, Composer, recipients
from qbsync.reports import aging, statement


@dataclass(frozen=True)
class StatementView:
    customer_id: str
    kind: str
    title: str
    as_of: date
    start: date | None
    opening: Decimal | None  # "Balance forward" row, when the statement starts at a date
    columns: list[tuple[str, str, str]]  # key, English title (a msgid), kind: date / type / text / money
    lines: list[dict[str, Any]]
    amount_due: Decimal
    aging: list[tuple[str, Decimal]]  # (English label, amount) of the open balance by age


#: the statement report's kinds (``report statement``), and the title QuickBooks gives each
KIND_TITLES = {"statement": "Statement", "balance-forward": "Balance forward statement",
               "open-item": "Open item statement", "transaction": "Transaction statement"}
KINDS = tuple(getattr(statement, "KINDS", ("statement",)))


def view(st: Any, open_by_age: Sequence[tuple[str, Decimal]] = ()) -> StatementView:
    """The layout of one statement as ``report statement`` computed it."""
    kind = getattr(st, "kind", "statement")
    if kind == "statement":
        cols = [("txn_date", "Date", "date"), ("kind", "Type", "type"), ("number", "No.", "text"),
                ("due_date", "Due date", "date"), ("charge", "Charge", "money"),
                ("credit", "Payment/credit", "money"), ("balance", "Balance", "money")]
        lines = [{"txn_date": x.txn_date, "kind": x.kind, "number": x.number or x.txn_id,
                  "due_date": x.due_date, "charge": x.charge or None, "credit": x.credit or None,
                  "balance": x.balance} for x in st.lines]
        due = st.closing
    else:  # pragma: no cover - QuickBooks' three kinds, once `report statement` offers them
        cols, lines = _kind_columns(st)
        due = st.amount_due
    return StatementView(st.customer_id, kind, KIND_TITLES.get(kind, "Statement"), st.as_of, st.start,
                         st.opening if st.start is not None else None, cols, lines, due, list(open_by_age))


def _kind_columns(st: Any) -> tuple[list[tuple[str, str, str]], list[dict[str, Any]]]:  # pragma: no cover
    base = [("txn_date", "Date", "date"), ("kind", "Type", "type"), ("number", "No.", "text")]
    if st.kind == "open-item":
        cols = [*base, ("due_date", "Due date", "date"), ("amount", "Amount", "money"),
                ("open", "Open balance", "money")]
    elif st.kind == "transaction":
        cols = [*base, ("charge", "Amount", "money"), ("received", "Received", "money")]
    else:
        cols = [*base, ("amount", "Amount", "money"), ("balance", "Balance", "money")]
    lines = [{"txn_date": x.txn_date, "kind": x.kind, "number": x.number or x.txn_id, "due_date": x.due_date,
              "amount": x.amount, "open": getattr(x, "open", None), "balance": getattr(x, "balance", None),
              "charge": x.charge or None, "received": x.received or None} for x in st.lines]
    return cols, lines


def open_customers(engine: sa.Engine, realm_id: str, as_of: date) -> list[str]:
    """Customers with an open balance on ``as_of`` (the A/R aging's rows), largest first."""
    return [r.customer_id for r in aging.aging(engine, realm_id, as_of).rows]


def statements(engine: sa.Engine, realm_id: str, customers: Sequence[str], as_of: date, start: date | None,
               composer: Composer) -> list[tuple[StatementView, Article]]:
    """One statement per customer (Id or exact name), each in its customer's language."""
    views = []
    for ref in customers:
        st = statement.statement(engine, realm_id, ref, as_of, start)
        views.append(view(st, _open_by_age(engine, realm_id, st.customer_id, as_of)))
    people = recipients(engine, realm_id, [v.customer_id for v in views])
    return [(v, composer.article("statement.html", people[v.customer_id], st=v)) for v in views]


def _open_by_age(engine: sa.Engine, realm_id: str, customer_id: str,
                 as_of: date) -> list[tuple[str, Decimal]]:
    """The customer's open balance by aging bucket, as `report aging` computes it."""
    from qbsync.reports.source import invoice_states

    with engine.connect() as conn:
        states = invoice_states(conn, realm_id, as_of, open_only=True, customer_id=customer_id)
        rep = aging.compute(states, {}, as_of)
    titles = {"current": "Current", "1-30": "1 - 30", "31-60": "31 - 60", "61-90": "61 - 90",
              "over 90": "91 and over"}
    return [(titles.get(k, k), v) for k, v in rep.totals.items()]
