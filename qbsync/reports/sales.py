"""Sales per customer as QuickBooks' Sales by Customer Summary counts them.

QuickBooks' report adds up the sales transactions with the customer's name: invoices and sales
receipts count positive, credit memos and refund receipts negative, each at its amount after
discounts and before sales tax (a 1,000.00 invoice with a 100.00 discount and 72.00 tax is 900.00
of sales). That figure is a transaction's ``TotalAmt`` (which QuickBooks computes after discounts,
with tax) less its ``TxnTaxDetail.TotalTax``. Voided transactions count nothing; deleted ones are
gone. A journal entry's lines posted to an income account with the customer's name count too
(credits positive, debits negative), as they do in QuickBooks' report ("transactions which use an
income account" and "include a customer name").

``best``, ``cross``, the ``best`` segment, lost revenue and payment behaviour's deal size all read
sales here.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from qbsync.cache import ledger
from qbsync.cache.models import CreditMemo, Invoice, JournalEntry, RefundReceipt, SalesReceipt
from qbsync.cache.read import Raw
from qbsync.reports.source import ZERO, money_sum

#: the transactions that make sales: (model, QBO entity name as in sales_lines.txn_type, sign)
SALES_TYPES: tuple[tuple[Any, str, int], ...] = (
    (Invoice, "Invoice", 1), (SalesReceipt, "SalesReceipt", 1), (CreditMemo, "CreditMemo", -1),
    (RefundReceipt, "RefundReceipt", -1))


def amount(model: Any) -> Any:
    """A transaction's sales, unsigned: after discounts, before tax."""
    return model.total_amt - model.total_tax


def _where(model: Any, realm_id: str, start: date | None, end: date, raw: Raw | None = None,
           scan: bool = False) -> list[Any]:
    """The rows of ``model`` that make sales dated ``start..end``; with ``raw``, the dates compared
    so that SQLite does not search its date index (``Raw.not_indexed``); with ``scan`` too, nor its
    realm's indexes: it reads the table in storage order (``source.whole_realm``)."""
    day = model.txn_date if raw is None else raw.not_indexed(model.txn_date)
    bound = (lambda d: d) if raw is None else raw.raw_day
    realm = raw.not_indexed(model.realm_id) if raw is not None and scan else model.realm_id
    cond = [realm == realm_id, model.customer_id.is_not(None), day <= bound(end),
            model.voided.is_(False)]
    if start is not None:
        cond.append(day >= bound(start))
    return cond


def journal_select(realm_id: str, start: date | None, end: date) -> Any:
    """Journal-entry lines posted to income with a customer (``cache.ledger``) dated start..end."""
    q = ledger.income_journal_lines(realm_id).where(JournalEntry.txn_date <= end)
    return q if start is None else q.where(JournalEntry.txn_date >= start)


def scan_pays(conn: sa.Connection, realm_id: str, start: date | None, end: date) -> bool:
    """Whether reading the sales tables whole, in storage order, costs less than reaching the period's
    rows through the date index (a jump about the table each): when ``start..end`` covers at least a
    tenth of the span of the company's invoice dates (two probes of the date index). Measured on the
    bench caches (three years of invoices): for a year, a half and a quarter of a year, the scan took
    2.42, 1.42 and 0.90 CPU s at 2M transactions against 3.40, 1.79 and 0.88 through the index;
    0.27, 0.15 and 0.10 at 200,000 against 0.29, 0.15 and 0.08."""
    first, last = conn.execute(sa.select(sa.func.min(Invoice.txn_date), sa.func.max(Invoice.txn_date))
                               .where(Invoice.realm_id == realm_id)).one()
    if first is None or last is None:
        return True
    first, last = map(Raw(conn).day, (first, last))
    lo, hi = max(start or first, first), min(end, last)
    return (hi - lo).days * 10 >= (last - first).days


def selects(realm_id: str, start: date | None, end: date,
            raw: Raw | None = None, scan: bool = True) -> list[tuple[Any, str, sa.Select[Any]]]:
    """Per sales type: (model, entity name, select of its signed rows: customer_id, txn_date, amount,
    department_id, class_id), for callers that join more (the cross report). With ``raw`` and
    ``scan``, SQLite reads each table in storage order (``_where``'s ``scan``) rather than the
    period's rows through the date index, each a jump about the table (``scan_pays`` says when)."""
    out: list[tuple[Any, str, sa.Select[Any]]] = []
    for model, entity, sign in SALES_TYPES:
        value = amount(model) if sign > 0 else -amount(model)
        q = (sa.select(model.customer_id.label("customer_id"), model.txn_date.label("txn_date"),
                       value.label("amount"), model.department_id.label("department_id"),
                       model.class_id.label("class_id"))
             .where(*_where(model, realm_id, start, end, raw if scan else None, scan=scan)))
        out.append((model, entity, q))
    out.append((JournalEntry, "JournalEntry", journal_select(realm_id, start, end)))
    return out


def union(realm_id: str, start: date | None, end: date) -> sa.Subquery:
    """Every sales row (customer_id, txn_date, amount, department_id, class_id) dated start..end."""
    return sa.union_all(*(q for _, _, q in selects(realm_id, start, end))).subquery("sales")


def by_customer(conn: sa.Connection, realm_id: str, start: date | None, end: date) -> dict[str, Decimal]:
    """Each customer's net sales dated ``start..end`` (None: from the beginning).

    One grouped query per type, which the database answers from the type's covering
    (realm, customer, date, amounts ...) index in customer order: no table rows, no sort.
    """
    out: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for model, _entity, sign in SALES_TYPES:
        q = (sa.select(model.customer_id, money_sum(amount(model)))
             .where(*_where(model, realm_id, start, end)).group_by(model.customer_id))
        for cid, total in conn.execute(q):
            out[cid] += sign * (total or ZERO)
    journal = journal_select(realm_id, start, end).subquery()
    for cid, total in conn.execute(sa.select(journal.c.customer_id, money_sum(journal.c.amount))
                                   .group_by(journal.c.customer_id)):
        out[cid] += total or ZERO
    return dict(out)


def two_periods(realm_id: str, start: date, split: date, end: date) -> sa.Subquery:
    """(customer_id, later, earlier): each customer's net sales dated ``split..end`` and
    ``start..split-1``, as ``by_customer`` counts them, one row per customer with sales in either;
    None for no sales row dated in that period. Raw driver values (integer cents on SQLite, NUMERIC
    on PostgreSQL: ``Raw.total``), exact.

    One read of each type's covering index for both periods, and one grouping of the types, in SQL:
    ``best`` summed each period apart and merged the types in Python (issue 15).
    """
    parts = []
    for model, _entity, sign in SALES_TYPES:
        value = amount(model) if sign > 0 else -amount(model)
        parts.append(sa.select(model.customer_id.label("customer_id"),
                               sa.func.sum(sa.case((model.txn_date >= split, value))).label("later"),
                               sa.func.sum(sa.case((model.txn_date < split, value))).label("earlier"))
                     .where(*_where(model, realm_id, start, end)).group_by(model.customer_id))
    journal = journal_select(realm_id, start, end).subquery()
    parts.append(sa.select(journal.c.customer_id,
                           sa.func.sum(sa.case((journal.c.txn_date >= split, journal.c.amount))),
                           sa.func.sum(sa.case((journal.c.txn_date < split, journal.c.amount))))
                 .group_by(journal.c.customer_id))
    both = sa.union_all(*parts).subquery()
    return (sa.select(both.c.customer_id, Raw.col(sa.func.sum(both.c.later)).label("later"),
                      Raw.col(sa.func.sum(both.c.earlier)).label("earlier"))
            .group_by(both.c.customer_id).subquery("two_periods"))


def by_customer_and(conn: sa.Connection, realm_id: str, start: date | None, end: date,
                    column: str) -> dict[str, dict[str | None, Decimal]]:
    """Net sales per customer and per value of a header column (``department_id``).

    Like ``by_customer``, read from the type's covering index in customer order whatever the period:
    grouped by a second column, SQLite took the date index instead, a probe into the table for each
    transaction of the period (1,000,000 invoices: 0.64 s for a year's third against 0.34 s from the
    index, x14 for ten times the data against x11, issue 15).
    """
    out: dict[str, dict[str | None, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    raw = Raw(conn)
    for model, _entity, sign in SALES_TYPES:
        dim = getattr(model, column)
        q = (sa.select(model.customer_id, dim, money_sum(amount(model)))
             .where(*_where(model, realm_id, start, end, raw)).group_by(model.customer_id, dim))
        for cid, key, total in conn.execute(q):
            out[cid][key] += sign * (total or ZERO)
    journal = journal_select(realm_id, start, end).subquery()
    dim = journal.c[column]
    for cid, key, total in conn.execute(sa.select(journal.c.customer_id, dim, money_sum(journal.c.amount))
                                        .group_by(journal.c.customer_id, dim)):
        out[cid][key] += total or ZERO
    return {cid: dict(v) for cid, v in out.items()}
