"""Accounts receivable on a date, as QuickBooks keeps it: every customer's open A/R transactions.

QuickBooks' A/R Aging Summary and Detail and its Customer Balance Summary and Detail all read the
same thing: each transaction posted to Accounts Receivable with what is still open of it. Charges
(invoices) are positive; credits (unapplied credit memos and unapplied payments) are negative, so a
customer's items add up to its QuickBooks ``Balance`` and every customer's to the A/R account.

Two ways to see a past date, QuickBooks' two *aging methods*:

- ``report_date``: transactions dated up to the date, with what payments dated up to that date had
  applied. A payment dated later is added back to what it paid; a payment dated on or before the
  date that was applied to a transaction dated after it was, on the date, still unapplied. The
  items then add up to the A/R balance on that date.
- ``current``: transactions dated up to the date, with what is open of them today (every payment
  counts, whenever it is dated).

Journal-entry lines posted to A/R with a customer (``cache.ledger``) are open items too: per entry
and customer, debits less credits, less what payments applied to the entry.

Queries that read most of a table scan it in storage order (``source.whole_realm``); everything
driven by "what happened after the date" is read through indexes, since it is little.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa

from qbsync.cache import ledger
from qbsync.cache.models import CreditMemo, Invoice, Payment, PaymentLink
from qbsync.cache.read import Raw
from qbsync.errors import InputError
from qbsync.reports.source import ZERO, chunked, later_applied, money_sum, whole_realm

AgingMethod = Literal["report_date", "current"]
AGING_METHODS: tuple[AgingMethod, ...] = ("report_date", "current")

#: QuickBooks' name of each kind, as its reports print it in the "Transaction Type" column
KIND_TITLES = {"Invoice": "Invoice", "CreditMemo": "Credit Memo", "Payment": "Payment",
               "JournalEntry": "Journal Entry"}
#: kinds whose open amount is a charge (positive); the others are credits (negative); a journal
#: entry's A/R lines are either, by their sign
CHARGES = frozenset({"Invoice"})


def aging_method(value: str) -> AgingMethod:
    """``report_date``/``report-date``/``Report_Date`` or ``current`` as the method."""
    key = value.strip().lower().replace("-", "_")
    if key not in AGING_METHODS:
        raise InputError(f"unknown aging method {value!r}", hint="use report-date or current")
    return key


@dataclass(frozen=True, slots=True)
class OpenItem:
    """One transaction posted to A/R with what was open of it on the date (signed: credits negative)."""

    kind: str  # "Invoice", "CreditMemo", "Payment", "JournalEntry"
    txn_id: str
    customer_id: str
    doc_number: str | None
    txn_date: date
    due_date: date  # invoices: their due date (the invoice date when none); credits: their own date
    amount: Decimal  # the transaction's A/R amount, signed
    open: Decimal  # open on the date, signed

    @property
    def is_charge(self) -> bool:
        return self.open > 0

    def days_past_due(self, on: date) -> int:
        return (on - self.due_date).days


@dataclass
class _Adjust:
    """What payments moved across the report date, per (txn type, txn id)."""

    later: dict[tuple[str, str], Decimal]  # applied to it by payments dated after the date
    early: dict[str, Decimal]  # per payment dated up to the date: its applications to later transactions


@dataclass(frozen=True)
class _Journal:
    """A journal entry's A/R lines of one customer, netted (debits +), and who paid on them when."""

    txn_id: str
    customer_id: str
    doc_number: str | None
    txn_date: date
    net: Decimal
    applied: tuple[tuple[date, Decimal], ...]  # (payment date, amount) of payments applied to it


def _journals(conn: sa.Connection, realm_id: str, customer_ids: Sequence[str] | None) -> list[_Journal]:
    """Every journal entry's A/R lines, per (entry, customer). Journal entries are few (adjustments,
    write-offs, finance charges): read whole."""
    lines = ledger.ar_journal_lines(realm_id).subquery()
    q = sa.select(lines.c.txn_id, lines.c.customer_id, lines.c.doc_number, lines.c.txn_date,
                  money_sum(lines.c.amount)).group_by(lines.c.txn_id, lines.c.customer_id, lines.c.doc_number,
                                                      lines.c.txn_date)
    wanted = None if customer_ids is None else set(customer_ids)
    applied: dict[tuple[str, str], list[tuple[date, Decimal]]] = defaultdict(list)
    for _pid, day, cid, txn_id, amount in conn.execute(ledger.journal_applications(realm_id)).all():
        applied[(txn_id, cid)].append((day, amount or ZERO))
    return [_Journal(txn_id, cid, doc, day, net or ZERO, tuple(applied.get((txn_id, cid), ())))
            for txn_id, cid, doc, day, net in conn.execute(q).all()
            if net and (wanted is None or cid in wanted)]


def _journal_items(journals: list[_Journal], as_of: date, method: AgingMethod) -> list[OpenItem]:
    out = []
    for j in journals:
        if j.txn_date > as_of:
            continue
        paid = sum((a for day, a in j.applied if method == "current" or day <= as_of), ZERO)
        sign = 1 if j.net > 0 else -1
        left = sign * (abs(j.net) - paid)
        if left:
            out.append(OpenItem("JournalEntry", j.txn_id, j.customer_id, j.doc_number, j.txn_date, j.txn_date,
                                j.net, left))
    return out


def _early_links(conn: sa.Connection, realm_id: str, as_of: date,
                 journals: Sequence[_Journal] = ()) -> dict[str, Decimal]:
    """Per payment dated up to ``as_of``: the signed amount it applied to transactions dated after it
    (charges +, credits -), which on ``as_of`` was still unapplied money."""
    out: dict[str, Decimal] = defaultdict(lambda: ZERO)
    later_journals = {(j.txn_id, j.customer_id): j for j in journals if j.txn_date > as_of}
    if later_journals:
        for pid, day, cid, txn_id, amount in conn.execute(ledger.journal_applications(realm_id)).all():
            j = later_journals.get((txn_id, cid))
            if j is not None and day <= as_of:
                out[pid] += (1 if j.net > 0 else -1) * (amount or ZERO)
    for model, entity, sign in ((Invoice, "Invoice", 1), (CreditMemo, "CreditMemo", -1)):
        later_ids = [i for (i,) in conn.execute(sa.select(model.id).where(
            model.realm_id == realm_id, model.txn_date > as_of))]
        for part in chunked(later_ids):
            q = (sa.select(PaymentLink.payment_id, PaymentLink.amount)
                 .select_from(PaymentLink)
                 .join(Payment, sa.and_(Payment.realm_id == PaymentLink.realm_id,
                                        Payment.id == PaymentLink.payment_id))
                 .where(PaymentLink.realm_id == realm_id, PaymentLink.txn_type == entity,
                        PaymentLink.txn_id.in_(part), Payment.txn_date <= as_of))
            for payment_id, amount in conn.execute(q):
                out[payment_id] += sign * (amount or ZERO)
    return dict(out)


def _by_ids(conn: sa.Connection, cols: Sequence[Any], model: Any, realm_id: str,
            ids: Iterable[str]) -> list[Any]:
    """Rows of ``model`` by Id, through its primary key only: with a date condition beside it, SQLite
    would take the date index and read the whole range once per chunk. Callers filter the rest."""
    rows: list[Any] = []
    for part in chunked(sorted(set(ids))):
        rows += conn.execute(sa.select(*cols).where(model.realm_id == realm_id, model.id.in_(part)))
    return rows


def _documents(conn: sa.Connection, model: Any, entity: str, realm_id: str, as_of: date,
               later: dict[tuple[str, str], Decimal], customer_ids: Sequence[str] | None) -> list[OpenItem]:
    """Invoices or credit memos dated up to ``as_of`` with a non-zero open amount on it."""
    sign = 1 if entity in CHARGES else -1
    raw = Raw(conn)  # dates and money converted once per distinct value (a big customer has 10,000s)
    due = raw.col(model.due_date if model is Invoice else model.txn_date)
    voided = Invoice.voided if model is Invoice else sa.false()
    cols = (model.id, model.customer_id, model.doc_number, raw.col(model.txn_date), due,
            raw.col(model.total_amt), raw.col(model.balance), voided)
    cond = [model.txn_date <= as_of, model.customer_id.is_not(None), model.is_open()]
    if model is Invoice:
        cond.append(Invoice.voided.is_(False))
    if customer_ids is None:
        rows = list(conn.execute(sa.select(*cols).where(whole_realm(conn, model.realm_id, realm_id), *cond)))
    else:
        rows = []
        for part in chunked(list(customer_ids)):
            rows += conn.execute(sa.select(*cols).where(model.realm_id == realm_id,
                                                        model.customer_id.in_(part), *cond))
    seen = {r[0] for r in rows}
    # settled now, open on the date: paid by payments dated after it
    wanted = None if customer_ids is None else set(customer_ids)
    last_day = raw.raw_day(as_of)
    rows += [r for r in _by_ids(conn, cols, model, realm_id,
                                (i for (kind, i) in later if kind == entity and i not in seen))
             if r[3] <= last_day and r[1] is not None and not r[7] and (wanted is None or r[1] in wanted)]
    money, to_day = raw.money, raw.day
    out = []
    for txn_id, cid, doc, day, due_day, total, balance, _voided in rows:
        left = money(balance) + later.get((entity, txn_id), ZERO)
        if left:
            txn_day = to_day(day)
            due_on = txn_day if due_day is None else to_day(due_day)
            out.append(OpenItem(entity, txn_id, cid, doc, txn_day, due_on, sign * money(total), sign * left))
    return out


def _payments(conn: sa.Connection, realm_id: str, as_of: date, early: dict[str, Decimal],
              customer_ids: Sequence[str] | None) -> list[OpenItem]:
    """Payments dated up to ``as_of`` with money unapplied on it (negative: a credit)."""
    raw = Raw(conn)
    cols = (Payment.id, Payment.customer_id, Payment.doc_number, raw.col(Payment.txn_date),
            raw.col(Payment.total_amt), raw.col(Payment.unapplied_amt))
    cond = [Payment.txn_date <= as_of, Payment.customer_id.is_not(None), Payment.is_open()]
    rows: list[Any] = []
    if customer_ids is None:
        rows += conn.execute(sa.select(*cols).where(whole_realm(conn, Payment.realm_id, realm_id), *cond))
    else:
        for part in chunked(list(customer_ids)):
            rows += conn.execute(sa.select(*cols).where(Payment.realm_id == realm_id,
                                                        Payment.customer_id.in_(part), *cond))
    seen = {r[0] for r in rows}
    wanted = None if customer_ids is None else set(customer_ids)
    last_day = raw.raw_day(as_of)
    rows += [r for r in _by_ids(conn, cols, Payment, realm_id, (p for p in early if p not in seen))
             if r[3] <= last_day and r[1] is not None and (wanted is None or r[1] in wanted)]
    money, to_day = raw.money, raw.day
    out = []
    for pid, cid, doc, day, total, unapplied in rows:
        left = money(unapplied) + early.get(pid, ZERO)
        if left:
            txn_day = to_day(day)
            out.append(OpenItem("Payment", pid, cid, doc, txn_day, txn_day, -money(total), -left))
    return out


def open_items(conn: sa.Connection, realm_id: str, as_of: date, method: AgingMethod = "report_date",
               customer_ids: Iterable[str] | None = None) -> list[OpenItem]:
    """Every A/R transaction dated up to ``as_of`` with something open on it, as ``method`` sees it.

    ``customer_ids`` narrows it to those customers (a statement); otherwise every customer.
    The items come in no set order: each report orders what it shows (sorting every item of a
    company by customer took a fifth of a 100,000-customer aging and grew twice as fast as the data).
    """
    wanted = None if customer_ids is None else sorted(set(customer_ids))
    journals = _journals(conn, realm_id, wanted)
    if method == "report_date":
        adjust = _Adjust(later_applied(conn, realm_id, as_of), _early_links(conn, realm_id, as_of, journals))
    else:
        adjust = _Adjust({}, {})
    items = (_documents(conn, Invoice, "Invoice", realm_id, as_of, adjust.later, wanted)
             + _documents(conn, CreditMemo, "CreditMemo", realm_id, as_of, adjust.later, wanted)
             + _payments(conn, realm_id, as_of, adjust.early, wanted)
             + _journal_items(journals, as_of, method))
    return items


def open_invoices(conn: sa.Connection, realm_id: str, as_of: date) -> list[OpenItem]:
    """The invoices among ``open_items`` (report-date method: what payments dated up to ``as_of`` had
    left open), without reading the credits: what a dunning run chases."""
    return _documents(conn, Invoice, "Invoice", realm_id, as_of, later_applied(conn, realm_id, as_of), None)


def balances(items: Iterable[OpenItem]) -> dict[str, Decimal]:
    """Each customer's balance: the sum of its open items (QuickBooks' Customer Balance Summary)."""
    out: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for item in items:
        out[item.customer_id] += item.open
    return dict(out)
