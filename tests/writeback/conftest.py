"""Fixtures for write-back tests: a cache on SQLite and PostgreSQL, the sandbox in-process mirrored in it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from qbsync.cache.db import session_factory
from qbsync.cache.models import Customer, Realm
from qbsync.cache.upsert import write_objects
from qbsync.clock import FixedClock
from qbsync.rules.findings import Finding
from tests.fakeqbo import InProcessQbo

REALM = "9130"


@pytest.fixture
def session(engine: sa.Engine) -> Iterator[Session]:
    with session_factory(engine)() as s:
        yield s


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))


class Company(InProcessQbo):
    """The sandbox in-process with a company built as the tests need it: customers with given Ids and
    SyncTokens, sales through the sandbox's ledger (so balances are QuickBooks'), voids and edits."""

    def __init__(self, realm_id: str = REALM) -> None:
        super().__init__(realm_id, now=datetime(2026, 11, 20, 12, 0, tzinfo=UTC), tick=timedelta(0),
                         company={"CompanyName": "Fake", "Country": "US"})  # before the tests' plans
        stamp = self.store.stamp(realm_id)
        service = {"Id": "1", "SyncToken": "0", "Name": "Services", "Active": True, "Type": "Service",
                   "MetaData": {"CreateTime": stamp, "LastUpdatedTime": stamp}}
        self.store.bulk_load(realm_id, "Item", [service])

    @property
    def customers(self) -> dict[str, dict[str, Any]]:
        """Every customer QuickBooks holds, by Id (inactive ones too)."""
        return self.snapshot(["Customer"])["Customer"]

    def add_customer(self, id_: str, name: str, *, active: bool = True, balance: str = "0",
                     parent: str | None = None, token: str = "0") -> None:
        """A customer as QuickBooks holds it; ``balance``: what an unpaid invoice of 2020 leaves open."""
        row: dict[str, Any] = {
            "Id": id_, "SyncToken": token, "DisplayName": name if active else f"{name} (deleted)",
            "PrintOnCheckName": name, "Active": active, "Balance": 0, "BalanceWithJobs": 0,
            "Job": parent is not None}
        if parent:
            row.update(ParentRef={"value": parent}, Level=1)
        self.store.put(self.realm_id, "Customer", row)
        if Decimal(balance):
            self.add_txn("Invoice", id_, date(2020, 1, 1), balance, open_=True)

    def add_txn(self, entity: str, customer_id: str, day: date, amount: str = "100.00", *,
                open_: bool = False) -> str:
        """A sale (Invoice, SalesReceipt, Estimate) or an unapplied Payment, through the ledger; an
        invoice is paid in full the same day unless ``open_``. Returns its Id."""
        customer = self.get("Customer", customer_id)
        if not customer["Active"]:  # QuickBooks refuses sales to an inactive customer (610): it was
            # active then and deactivated since, so the SyncToken moves twice, as it would have
            self.store.put(self.realm_id, "Customer", {**customer, "Active": True,
                                                       "DisplayName": customer["PrintOnCheckName"]})
            try:
                return self.add_txn(entity, customer_id, day, amount, open_=open_)
            finally:
                self.store.put(self.realm_id, "Customer", {**self.get("Customer", customer_id),
                                                           "Active": False,
                                                           "DisplayName": customer["DisplayName"]})
        body: dict[str, Any] = {"CustomerRef": {"value": customer_id}, "TxnDate": day.isoformat()}
        if entity == "Payment":
            body["TotalAmt"] = float(amount)
        else:
            body["Line"] = [{"Amount": float(amount), "DetailType": "SalesItemLineDetail",
                             "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1,
                                                     "UnitPrice": float(amount)}}]
        made = self.write(entity, body)
        if entity == "Invoice" and not open_:
            paid = {"Amount": float(amount), "LinkedTxn": [{"TxnId": made["Id"], "TxnType": "Invoice"}]}
            self.write("Payment", {"CustomerRef": {"value": customer_id}, "TxnDate": day.isoformat(),
                                   "TotalAmt": float(amount), "Line": [paid]})
        return str(made["Id"])

    def settle(self, id_: str, **figures: float) -> None:
        """A figure QuickBooks computes moves (Balance, BalanceWithJobs): LastUpdatedTime moves, the
        SyncToken does not, as recorded."""
        self.store.save(self.realm_id, "Customer", {**self.get("Customer", id_), **figures}, bump_sync=False)

    def void(self, entity: str, id_: str) -> None:
        current = self.get(entity, id_)
        self.write(entity, {"Id": id_, "SyncToken": current["SyncToken"]}, "void")

    def edit(self, id_: str, **fields: Any) -> None:
        """Someone else edits the customer in QuickBooks: fields change and the SyncToken moves."""
        current = self.get("Customer", id_)
        self.write("Customer", {"Id": id_, "SyncToken": current["SyncToken"], "sparse": True, **fields})


@pytest.fixture
def qbo() -> Company:
    return Company()


def mirror(session: Session, qbo: Company) -> None:
    """Copy the company into the cache through the sync's own mapping, as a sync would."""
    if session.get(Realm, REALM) is None:
        session.add(Realm(realm_id=REALM, company_name="Fake", created_at=datetime(2026, 1, 1, tzinfo=UTC)))
        session.commit()
    conn = session.connection()
    for entity, objects in qbo.snapshot().items():
        write_objects(conn, entity, REALM, list(objects.values()), None)
    session.commit()


def finding(
    qbo: Company, cid: str, action: str = "deactivate", rule: str = "inactive", **facts: Any
) -> Finding:
    row = qbo.customers[cid]
    return Finding(
        realm_id=REALM,
        customer_id=cid,
        display_name=row["DisplayName"],
        rule=rule,
        action=action,  # type: ignore[arg-type]
        reason=f"test reason for {cid}",
        facts=facts,
        sync_token=row["SyncToken"],
        active=row["Active"],
    )


def cached(session: Session, cid: str) -> Customer:
    session.expire_all()
    row = session.get(Customer, (REALM, cid))
    assert row is not None
    return row
