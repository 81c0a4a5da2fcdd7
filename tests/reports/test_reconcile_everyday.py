"""Property test: on generated companies with a bookkeeper's everyday edits (voids, deletes, refunds,
unapplied payments and credits, discounts, tax, jobs, A/R journal entries), synced into SQLite and
PostgreSQL, then edited again through the API and synced by CDC, for every as-of date:

- the A/R aging total is the A/R balance on that date, summed independently from what was posted
  (invoices + journal debits - credit memos - payments - journal credits dated up to it), and on the
  last date the sum of the customers' QuickBooks balances;
- `report reconcile` finds nothing: every customer's aging, balance and sales, every open
  transaction, agrees to the cent with the sandbox's own Reports API.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from qbsync.cache.models import (
    Account,
    CreditMemo,
    Customer,
    Invoice,
    JournalEntry,
    JournalLine,
    Payment,
    RefundReceipt,
)
from qbsync.cache.schema import open_cache
from qbsync.qbo.client import QboClient, connect
from qbsync.reports import aging, reconcile, sales
from qbsync.reports.source import Period
from qbsync.sandbox.clock import SandboxClock
from qbsync.sandbox.generator import CompanySpec, seed_realm
from qbsync.sandbox.server import SandboxServer
from qbsync.sandbox.store import Store
from qbsync.sync.runner import run_sync
from tests.conftest import BACKENDS, pg_schema_url
from tests.sync.sandbox_env import REALM, connect_settings

END = date(2025, 6, 30)
COMPANIES = [(8, 110), (21, 140)]  # (seed, customers): each has every kind of edit


@dataclass
class World:
    seed: int
    server: SandboxServer
    client: QboClient
    engine: sa.Engine

    def sync(self) -> None:
        run_sync(self.engine, self.client, REALM, clock=self.server.clock, workers=2)


@pytest.fixture(scope="module", params=[(b, s, n) for b in BACKENDS for s, n in COMPANIES],
                ids=lambda p: f"{p[0]}-seed{p[1]}")
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    backend, seed, customers = request.param
    tmp: Path = tmp_path_factory.mktemp(f"everyday{seed}")
    clock = SandboxClock(datetime.combine(END + timedelta(days=1), time(8), UTC))
    store = Store(clock=clock)
    seed_realm(store, REALM, CompanySpec.everyday(seed=seed, customers=customers, end_date=END))

    def run(url: str) -> Iterator[World]:
        with SandboxServer(store, clock=clock) as server:
            client = connect(connect_settings(server, tmp, url).settings, REALM, clock=server.clock)
            engine = open_cache(url)
            w = World(seed, server, client, engine)
            w.sync()
            try:
                yield w
            finally:
                client.close()
                engine.dispose()

    if backend == "sqlite":
        yield from run(f"sqlite:///{tmp / 'cache.sqlite3'}")
    else:
        with pg_schema_url() as url:
            yield from run(url)


def _posted(engine: sa.Engine, as_of: date) -> Decimal:
    """The A/R balance on ``as_of`` from what was posted, without the receivables module."""
    def total(model: Any) -> Decimal:
        with engine.connect() as conn:
            return Decimal(conn.execute(sa.select(sa.func.coalesce(sa.func.sum(model.total_amt), 0)).where(
                model.realm_id == REALM, model.txn_date <= as_of,
                model.customer_id.is_not(None))).scalar_one())

    with engine.connect() as conn:
        journal = Decimal(0)
        for posting, amount in conn.execute(
                sa.select(JournalLine.posting_type, JournalLine.amount)
                .join(JournalEntry, sa.and_(JournalEntry.realm_id == JournalLine.realm_id,
                                            JournalEntry.id == JournalLine.txn_id))
                .join(Account, sa.and_(Account.realm_id == JournalLine.realm_id,
                                       Account.id == JournalLine.account_id))
                .where(JournalLine.realm_id == REALM, JournalEntry.txn_date <= as_of,
                       Account.account_type == "Accounts Receivable")):
            journal += amount if posting == "Debit" else -amount
    return total(Invoice) - total(CreditMemo) - total(Payment) + journal


def _dates(seed: int) -> list[date]:
    rng = random.Random(seed)
    month_ends = [date(y, m, 1) - timedelta(days=1) for y in (2024, 2025) for m in range(1, 13)
                  if date(y, m, 1) - timedelta(days=1) <= END]
    return sorted({*month_ends[-9:], *(END - timedelta(days=rng.randint(1, 700)) for _ in range(4)), END})


def _check_everything(w: World, dates: list[date]) -> None:
    for as_of in dates:
        report = aging.aging(w.engine, REALM, as_of)
        assert report.total == _posted(w.engine, as_of), as_of
        checks = reconcile.run(w.engine, REALM, w.client.report, as_of,
                               period=Period(as_of - timedelta(days=364), as_of))
        bad = [(c.report, c.differences[:4]) for c in checks if not c.ok]
        assert not bad, (as_of, bad)
    with w.engine.connect() as conn:
        balances = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(Customer.balance), 0))
                                .where(Customer.realm_id == REALM)).scalar_one()
    assert aging.aging(w.engine, REALM, END).total == Decimal(balances)


def test_the_generated_company_has_every_everyday_edit(world: World) -> None:
    with world.engine.connect() as conn:
        def count(*cond: Any, model: Any) -> int:
            return int(conn.execute(sa.select(sa.func.count()).select_from(model).where(*cond)).scalar_one())
        assert count(model=RefundReceipt) > 0
        assert count(JournalLine.entity_type == "Customer", model=JournalLine) > 0
        assert count(Invoice.voided.is_(True), model=Invoice) > 0
        assert count(Invoice.total_tax > 0, model=Invoice) > 0
        assert count(Payment.unapplied_amt > 0, model=Payment) > 0
        assert count(CreditMemo.balance > 0, model=CreditMemo) > 0
        assert count(Customer.job.is_(True), model=Customer) > 0
    report = aging.aging(world.engine, REALM, END)
    assert report.in_credit > 0  # customers in credit, listed with a negative total


def test_every_date_ties_to_what_was_posted_and_to_quickbooks(world: World) -> None:
    _check_everything(world, _dates(world.seed))


def _post(w: World, entity: str, body: dict[str, Any], operation: str | None = None) -> dict[str, Any]:
    params = {"operation": operation} if operation else None
    doc = w.client.request("write", "POST", entity.lower(), params=params, body=body,
                           request_id=f"t{random.random():.12f}")
    obj = doc.get(entity)
    assert isinstance(obj, dict), doc
    return obj


def test_edits_through_the_api_then_cdc_still_tie(world: World) -> None:
    """As a QuickBooks user would: void an invoice that was partly paid, delete a payment, refund a
    sale with tax, take an unapplied payment, charge a finance charge by journal entry."""
    w = world
    with w.engine.connect() as conn:
        paid_inv = conn.execute(sa.select(Invoice.id, Invoice.sync_token, Invoice.customer_id).where(
            Invoice.realm_id == REALM, Invoice.voided.is_(False), Invoice.balance > 0,
            Invoice.balance < Invoice.total_amt).order_by(Invoice.id).limit(1)).first()
        payment = conn.execute(sa.select(Payment.id, Payment.sync_token).where(
            Payment.realm_id == REALM, Payment.total_amt > 0).order_by(Payment.id.desc()).limit(1)).one()
        buyer = str(conn.execute(sa.select(Invoice.customer_id).where(
            Invoice.realm_id == REALM, Invoice.voided.is_(False)).order_by(Invoice.id).limit(1)).scalar_one())
        accounts = dict(conn.execute(sa.select(Account.account_type, Account.id)
                                     .where(Account.realm_id == REALM)).all())
        item = conn.execute(sa.text("SELECT id FROM items ORDER BY id LIMIT 1")).scalar_one()
        before = sales.by_customer(conn, REALM, END - timedelta(days=364), END).get(buyer, Decimal(0))
    if paid_inv is not None:
        _post(w, "Invoice", {"Id": paid_inv[0], "SyncToken": paid_inv[1]}, "void")
    _post(w, "Payment", {"Id": payment[0], "SyncToken": payment[1]}, "delete")
    _post(w, "RefundReceipt", {
        "CustomerRef": {"value": buyer}, "TxnDate": END.isoformat(),
        "Line": [{"Amount": 40.0, "DetailType": "SalesItemLineDetail",
                  "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": 1, "UnitPrice": 40.0}}]})
    _post(w, "Payment", {"CustomerRef": {"value": buyer}, "TxnDate": END.isoformat(), "TotalAmt": 25.5})
    if "Accounts Receivable" in accounts and "Income" in accounts:
        _post(w, "JournalEntry", {"TxnDate": END.isoformat(), "Line": [
            {"Amount": 12.34, "DetailType": "JournalEntryLineDetail", "JournalEntryLineDetail": {
                "PostingType": "Debit", "AccountRef": {"value": accounts["Accounts Receivable"]},
                "Entity": {"Type": "Customer", "EntityRef": {"value": buyer}}}},
            {"Amount": 12.34, "DetailType": "JournalEntryLineDetail", "JournalEntryLineDetail": {
                "PostingType": "Credit", "AccountRef": {"value": accounts["Income"]}}}]})
    w.sync()  # incremental: CDC brings the edits, deletes included
    with w.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Payment)
                            .where(Payment.id == payment[0])).scalar_one() == 0
        after = sales.by_customer(conn, REALM, END - timedelta(days=364), END).get(buyer, Decimal(0))
    assert after == before - Decimal("40.00")  # the refund lowers the buyer's sales, before tax
    _check_everything(w, [END, END - timedelta(days=45)])
