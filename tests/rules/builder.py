"""A tiny writer of crafted cache rows for the rules' tests (customers and sales-side transactions)."""

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
    Payment,
    PaymentLink,
    Realm,
    SalesReceipt,
)

REALM = "9130"


class CacheBuilder:
    """Adds rows with sensible defaults; every call commits so tests read what they wrote."""

    def __init__(self, url: str, realm_id: str = REALM) -> None:
        self.engine = make_engine(url)
        create_schema(self.engine)
        self.realm_id = realm_id
        self._ids = itertools.count(1000)
        self._insert(Realm, realm_id=realm_id, company_name="Crafted Co",
                     created_at=datetime(2020, 1, 1, tzinfo=UTC))

    def _insert(self, model: Any, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.insert(model).values(**values))

    def _mirrored(self, id_: str | None, created: date | None = None) -> dict[str, Any]:
        when = datetime(created.year, created.month, created.day, 12, tzinfo=UTC) if created else None
        return {"realm_id": self.realm_id, "id": id_ or str(next(self._ids)), "sync_token": "0",
                "created_at": when, "updated_at": when, "raw": {}}

    def customer(self, id_: str, name: str, *, active: bool = True, created: date | None = date(2020, 1, 1),
                 parent: str | None = None, type_id: str | None = None,
                 balance: Decimal | str = "0") -> str:
        self._insert(Customer, **self._mirrored(id_, created), display_name=name, active=active,
                     job=parent is not None, parent_id=parent, level=1 if parent else 0,
                     customer_type_id=type_id, balance=Decimal(balance),
                     balance_with_jobs=Decimal(balance))
        return id_

    def department(self, id_: str, name: str) -> None:
        self._insert(Department, **self._mirrored(id_), name=name, active=True)

    def invoice(self, customer: str, day: date, total: str = "100", *, balance: str = "0",
                voided: bool = False, dept: str | None = None, id_: str | None = None) -> str:
        row = self._mirrored(id_, day)
        self._insert(Invoice, **row, customer_id=customer, txn_date=day, total_amt=Decimal(total),
                     balance=Decimal(balance), voided=voided, department_id=dept)
        return str(row["id"])

    def receipt(self, customer: str, day: date, total: str = "50", dept: str | None = None) -> str:
        row = self._mirrored(None, day)
        self._insert(SalesReceipt, **row, customer_id=customer, txn_date=day, total_amt=Decimal(total),
                     department_id=dept)
        return str(row["id"])

    def credit_memo(self, customer: str, day: date, total: str = "20", *, remaining: str = "0") -> str:
        row = self._mirrored(None, day)
        self._insert(CreditMemo, **row, customer_id=customer, txn_date=day, total_amt=Decimal(total),
                     balance=Decimal(remaining))
        return str(row["id"])

    def estimate(self, customer: str, day: date, total: str = "80") -> str:
        row = self._mirrored(None, day)
        self._insert(Estimate, **row, customer_id=customer, txn_date=day, total_amt=Decimal(total))
        return str(row["id"])

    def payment(self, customer: str, day: date, total: str, *, unapplied: str = "0",
                applies: tuple[tuple[str, str, str], ...] = ()) -> str:
        """``applies``: (txn_type, txn_id, amount) lines."""
        row = self._mirrored(None, day)
        self._insert(Payment, **row, customer_id=customer, txn_date=day, total_amt=Decimal(total),
                     unapplied_amt=Decimal(unapplied))
        for n, (txn_type, txn_id, amount) in enumerate(applies):
            self._insert(PaymentLink, realm_id=self.realm_id, payment_id=row["id"], line_no=n,
                         txn_id=txn_id, txn_type=txn_type, amount=Decimal(amount))
        return str(row["id"])
