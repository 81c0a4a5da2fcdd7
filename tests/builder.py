"""The one writer of crafted cache rows for tests: customers with contact details, locations, classes,
items, invoices, receipts, credit memos, estimates, and payments that pay invoices and use credits.

Balances stay as QuickBooks keeps them unless a test says otherwise: a new invoice is open for its
total, a credit memo's whole amount remains, a payment lowers what it pays, and the customer's
``balance`` moves with them (``customer(balance=...)`` starts it elsewhere, e.g. a balance the
cache holds no transaction for).
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from qbsync.cache.db import create_schema, make_engine
from qbsync.cache.models import (
    CreditMemo,
    Customer,
    Department,
    Estimate,
    Invoice,
    Item,
    Payment,
    PaymentLink,
    QboClass,
    Realm,
    SalesLine,
    SalesReceipt,
    SyncState,
)

REALM = "4620"


def D(text: str | int) -> Decimal:
    return Decimal(str(text))


class CacheBuilder:
    """Adds rows with sensible defaults; each call commits, so a test reads what it wrote."""

    def __init__(self, url: str, realm_id: str = REALM) -> None:
        self.engine = make_engine(url)
        create_schema(self.engine)
        self.realm_id = realm_id
        self._ids = itertools.count(5000)
        self._insert(Realm, realm_id=realm_id, company_name="Crafted Co",
                     created_at=datetime(2020, 1, 1, tzinfo=UTC))

    def _insert(self, model: Any, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.insert(model).values(**values))

    def _mirrored(self, id_: str | None, created: date | None = None) -> dict[str, Any]:
        when = datetime(created.year, created.month, created.day, 12, tzinfo=UTC) if created else None
        return {"realm_id": self.realm_id, "id": id_ or str(next(self._ids)), "sync_token": "0",
                "created_at": when, "updated_at": when, "raw": {}}

    def customer(self, id_: str, name: str, *, email: str | None = None, phone: str | None = None,
                 given: str | None = None, family: str | None = None, company: str | None = None,
                 active: bool = True, created: date | None = date(2020, 1, 1), type_id: str | None = None,
                 line1: str | None = None, city: str | None = None, region: str | None = None,
                 postal: str | None = None, country: str | None = None, parent: str | None = None,
                 bill_with_parent: bool = False, balance: str = "0") -> str:
        self._insert(Customer, **self._mirrored(id_, created), display_name=name, active=active,
                     bill_with_parent=bill_with_parent,
                     given_name=given, family_name=family, company_name=company, email=email, phone=phone,
                     bill_line1=line1, bill_city=city, bill_region=region, bill_postal_code=postal,
                     bill_country=country, job=parent is not None, parent_id=parent,
                     level=1 if parent else 0, customer_type_id=type_id, balance=D(balance),
                     balance_with_jobs=D(balance))
        return id_

    def department(self, id_: str, name: str) -> None:
        self._insert(Department, **self._mirrored(id_), name=name, fully_qualified_name=name, active=True)

    def qbo_class(self, id_: str, name: str) -> None:
        self._insert(QboClass, **self._mirrored(id_), name=name, fully_qualified_name=name, active=True)

    def item(self, id_: str, name: str) -> None:
        self._insert(Item, **self._mirrored(id_), name=name, fully_qualified_name=name, active=True)

    def _customer_balance(self, customer: str, delta: Decimal) -> None:
        with self.engine.begin() as conn:
            bal = conn.execute(sa.select(Customer.balance).where(
                Customer.realm_id == self.realm_id, Customer.id == customer)).scalar_one()
            conn.execute(sa.update(Customer)
                         .where(Customer.realm_id == self.realm_id, Customer.id == customer)
                         .values(balance=bal + delta, balance_with_jobs=bal + delta))

    def invoice(self, customer: str, day: date, total: str = "100", *, balance: str | None = None,
                due: date | None = None, voided: bool = False, dept: str | None = None,
                cls: str | None = None, doc: str | None = None, items: tuple[tuple[str, ...], ...] = (),
                id_: str | None = None) -> str:
        """An invoice open for ``balance`` (its whole total unless given; "0" is paid in full, by
        payments the cache does not hold). A voided one keeps nothing: QuickBooks zeroes it."""
        row = self._mirrored(id_, day)
        amount = D(0) if voided else D(total)
        open_ = D(0) if voided else D(balance) if balance is not None else amount
        self._insert(Invoice, **row, customer_id=customer, txn_date=day, due_date=due, total_amt=amount,
                     balance=open_, voided=voided, department_id=dept, class_id=cls,
                     doc_number=doc or f"INV-{row['id']}")
        self._lines("Invoice", row["id"], items)
        self._customer_balance(customer, open_)
        return str(row["id"])

    def _lines(self, txn_type: str, txn_id: str, items: tuple[tuple[str, ...], ...]) -> None:
        """Sales lines from (item, amount) or (item, amount, line class) tuples; the class is stored as
        given (the sync fills a missing line class from the header; a cache may still lack it)."""
        for n, (item_id, amount, *cls) in enumerate(items):
            self._insert(SalesLine, realm_id=self.realm_id, txn_type=txn_type, txn_id=txn_id, line_no=n,
                         item_id=item_id, class_id=cls[0] if cls else None, amount=D(amount))

    def receipt(self, customer: str, day: date, total: str = "50", *, dept: str | None = None,
                cls: str | None = None, items: tuple[tuple[str, ...], ...] = ()) -> str:
        row = self._mirrored(None, day)
        self._insert(SalesReceipt, **row, customer_id=customer, txn_date=day, total_amt=D(total),
                     department_id=dept, class_id=cls)
        self._lines("SalesReceipt", row["id"], items)
        return str(row["id"])

    def credit_memo(self, customer: str, day: date, total: str = "20", *, remaining: str | None = None,
                    dept: str | None = None, cls: str | None = None,
                    items: tuple[tuple[str, ...], ...] = ()) -> str:
        """A credit memo with ``remaining`` credit left (its whole amount unless given)."""
        row = self._mirrored(None, day)
        left = D(remaining) if remaining is not None else D(total)
        self._insert(CreditMemo, **row, customer_id=customer, txn_date=day, total_amt=D(total),
                     balance=left, department_id=dept, class_id=cls)
        self._lines("CreditMemo", row["id"], items)
        self._customer_balance(customer, -left)
        return str(row["id"])

    def estimate(self, customer: str, day: date, total: str = "80") -> str:
        row = self._mirrored(None, day)
        self._insert(Estimate, **row, customer_id=customer, txn_date=day, total_amt=D(total))
        return str(row["id"])

    def pay(self, customer: str, day: date, *applies: tuple[str, str], unapplied: str = "0",
            credits: tuple[tuple[str, str], ...] = ()) -> str:
        """A payment dated ``day`` applying (invoice_id, amount) pairs and using (credit memo id, amount)
        credits, as QuickBooks' Receive Payment does: TotalAmt = invoices - credits + unapplied.
        Invoice balances and remaining credits go down."""
        row = self._mirrored(None, day)
        total = (sum((D(a) for _, a in applies), D(0)) - sum((D(a) for _, a in credits), D(0))
                 + D(unapplied))
        self._insert(Payment, **row, customer_id=customer, txn_date=day, total_amt=total,
                     unapplied_amt=D(unapplied))
        with self.engine.begin() as conn:
            links: list[tuple[str, str, Any]] = [(inv, amount, Invoice) for inv, amount in applies]
            links += [(memo, amount, CreditMemo) for memo, amount in credits]
            for n, (txn, amount, model) in enumerate(links):
                conn.execute(sa.insert(PaymentLink).values(realm_id=self.realm_id, payment_id=row["id"],
                                                           line_no=n, txn_id=txn,
                                                           txn_type=model.__name__, amount=D(amount)))
                bal = conn.execute(sa.select(model.balance).where(
                    model.realm_id == self.realm_id, model.id == txn)).scalar_one()
                conn.execute(sa.update(model).where(model.realm_id == self.realm_id, model.id == txn)
                             .values(balance=bal - D(amount)))
        self._customer_balance(customer, -total)
        return str(row["id"])

    def sync_state(self, entity: str, **values: Any) -> None:
        self._insert(SyncState, realm_id=self.realm_id, entity=entity, **values)

    def scalar(self, stmt: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(stmt).scalar_one()
