"""Write-back against the sandbox server over real HTTP: the issue's checks, end to end.

The plan comes from the real inactive rule over a cache filled from the sandbox; apply and undo talk
to the sandbox through a gateway: the real client when it exists, else a minimal HTTP one.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from qbsync.clock import FixedClock
from qbsync.qbo.gateway import QboGateway
from qbsync.rules.writeback.apply import apply_plan
from qbsync.rules.writeback.plan import build_plan
from qbsync.rules.writeback.sources import findings_for
from qbsync.rules.writeback.undo import undo_run
from writeback.conftest import REALM, mirror_rows

sandbox_server = pytest.importorskip("qbsync.sandbox.server")
sandbox_store = pytest.importorskip("qbsync.sandbox.store")
sandbox_clock = pytest.importorskip("qbsync.sandbox.clock")
sandbox_knobs = pytest.importorskip("qbsync.sandbox.knobs")

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
AS_OF = date(2026, 11, 23)
HAS_CLIENT = importlib.util.find_spec("qbsync.qbo.client") is not None


class Company:
    """A sandbox with a small company, the gateway under test and a helper to write behind its back."""

    def __init__(self, server: Any, gateway: QboGateway, setup: Any) -> None:
        self.server, self.gateway, self.setup = server, gateway, setup
        self.ids: dict[str, str] = {}

    def customer(self, cid: str) -> dict[str, Any]:
        row = self.server.store.get(REALM, "Customer", cid)
        assert row is not None
        return dict(row)

    def add(self, name: str, parent: str | None = None) -> str:
        body: dict[str, Any] = {"DisplayName": name}
        if parent:
            body.update(ParentRef={"value": self.ids[parent]}, Job=True)
        self.ids[name] = str(self.setup.create("Customer", body)["Id"])
        return self.ids[name]

    def sale(self, name: str, when: date, entity: str = "SalesReceipt", amount: float = 120.0) -> None:
        self.setup.create(
            entity,
            {
                "CustomerRef": {"value": self.ids[name]},
                "TxnDate": when.isoformat(),
                "Line": [
                    {
                        "Amount": amount,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1, "UnitPrice": amount},
                    }
                ],
            },
        )


@pytest.fixture(params=["http", "client"])
def company(request: pytest.FixtureRequest) -> Iterator[Company]:
    from writeback.http_gateway import HttpGateway

    clock = sandbox_clock.SandboxClock(T0)
    store = sandbox_store.Store(clock=clock)
    store.create_realm(REALM, company_info={"CompanyName": "Write-back Test Co", "Country": "US"})
    store.bulk_load(
        REALM,
        "Item",
        [
            {
                "Id": "1",
                "SyncToken": "0",
                "Name": "Services",
                "Active": True,
                "Type": "Service",
                "FullyQualifiedName": "Services",
                "domain": "QBO",
                "sparse": False,
            }
        ],
    )
    with sandbox_server.SandboxServer(store, clock=clock) as server:
        token = server.issue_tokens(REALM)["access_token"]
        setup = HttpGateway(server.api_url_v3, REALM, token)
        gateway: QboGateway = setup
        if request.param == "client":
            if not HAS_CLIENT:
                pytest.skip("qbsync.qbo.client not written yet")
            gateway = _real_client(server, request.getfixturevalue("tmp_path"))
        yield Company(server, gateway, setup)


def _real_client(server: Any, tmp_path: Any) -> QboGateway:
    """The real client, connected to the sandbox through a token store holding fresh sandbox tokens."""
    from qbsync.auth.tokens import TokenSet, TokenStore
    from qbsync.qbo import client as qbo_client
    from qbsync.settings import load_settings

    tokens = server.issue_tokens(REALM)
    settings = load_settings(
        overrides={
            "environment": server.base_url,
            "client_id": server.client_id,
            "client_secret": server.client_secret,
            "realm": REALM,
            "token_dir": tmp_path / "tokens",
            "cache_url": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        },
        env={},
        config_path=None,
    )
    TokenStore(settings.token_dir).save(
        TokenSet(
            realm_id=REALM,
            access_token=tokens["access_token"],
            refresh_token=tokens["refresh_token"],
            access_expires_at=T0 + timedelta(hours=1),
            refresh_expires_at=T0 + timedelta(days=100),
            obtained_at=T0,
            environment=server.base_url,
        )
    )
    gateway: QboGateway = qbo_client.connect(settings, REALM, clock=FixedClock(T0 + timedelta(minutes=30)))
    return gateway


def _fill(c: Company) -> None:
    c.add("Old Alder")
    c.sale("Old Alder", date(2024, 1, 10))
    c.add("Old Birch")
    c.sale("Old Birch", date(2024, 3, 5))
    c.add("Recent Cedar")
    c.sale("Recent Cedar", date(2026, 10, 1))
    c.add("Owes Dogwood")
    c.sale("Owes Dogwood", date(2023, 5, 1), entity="Invoice")  # unpaid: open balance
    c.add("Elm Holdings")
    c.add("Elm Site 1", parent="Elm Holdings")
    c.sale("Elm Site 1", date(2024, 2, 1))
    c.sale("Elm Holdings", date(2024, 2, 2))


def _sync(session: Session, gateway: QboGateway) -> None:
    customers = gateway.query("select * from Customer where Active IN (true, false) MAXRESULTS 1000").rows
    txns = {e: gateway.query(f"select * from {e} MAXRESULTS 1000").rows for e in ("SalesReceipt", "Invoice")}
    mirror_rows(session, customers, txns)


def _plan(c: Company, session: Session, engine: sa.Engine, clock: FixedClock) -> str:
    _fill(c)
    _sync(session, c.gateway)
    out = findings_for("inactive", engine, REALM, AS_OF)
    plan = build_plan(session, clock, REALM, "inactive", AS_OF, out.findings)
    changes = {i.display_name for i in plan.items if i.disposition == "change"}
    assert changes == {"Old Alder", "Old Birch", "Elm Holdings", "Elm Site 1"}
    return plan.plan.id


@pytest.fixture
def plan_clock() -> FixedClock:
    return FixedClock(T0 + timedelta(minutes=30))


def _active(c: Company) -> dict[str, bool]:
    return {name: bool(c.customer(cid)["Active"]) for name, cid in c.ids.items()}


def test_a_plan_applied_twice_changes_quickbooks_once(
    company: Company, session: Session, engine: sa.Engine, plan_clock: FixedClock
) -> None:
    plan_id = _plan(company, session, engine, plan_clock)
    dry = apply_plan(session, company.gateway, plan_clock, plan_id)
    assert {i.outcome for i in dry.items} == {"would_apply"}, [(i.display_name, i.reason) for i in dry.items]
    assert all(_active(company).values())
    first = apply_plan(session, company.gateway, plan_clock, plan_id, dry_run=False)
    assert {i.outcome for i in first.items} == {"applied"}
    tokens = {n: company.customer(cid)["SyncToken"] for n, cid in company.ids.items()}
    second = apply_plan(session, company.gateway, plan_clock, plan_id, dry_run=False)
    assert {i.outcome for i in second.items} == {"already"}
    assert {n: company.customer(cid)["SyncToken"] for n, cid in company.ids.items()} == tokens
    assert _active(company) == {
        "Old Alder": False,
        "Old Birch": False,
        "Recent Cedar": True,
        "Owes Dogwood": True,
        "Elm Holdings": False,
        "Elm Site 1": False,
    }
    assert company.customer(company.ids["Old Alder"])["DisplayName"] == "Old Alder (deleted)"


def test_customer_edited_or_invoiced_between_plan_and_apply_is_skipped(
    company: Company, session: Session, engine: sa.Engine, plan_clock: FixedClock
) -> None:
    plan_id = _plan(company, session, engine, plan_clock)
    company.server.clock.set(plan_clock.now() + timedelta(minutes=10))
    alder = company.customer(company.ids["Old Alder"])
    company.setup.sparse_update(
        "Customer",
        {
            "Id": alder["Id"],
            "SyncToken": alder["SyncToken"],
            "sparse": True,
            "Notes": "phoned: ordering again in spring",
        },
        "edit-alder-1",
    )
    company.sale("Old Birch", date(2026, 11, 23), entity="Invoice")
    report = apply_plan(session, company.gateway, plan_clock, plan_id, dry_run=False)
    out = {i.display_name: i.outcome for i in report.items}
    assert out == {
        "Old Alder": "skipped",
        "Old Birch": "skipped",
        "Elm Holdings": "applied",
        "Elm Site 1": "applied",
    }
    assert _active(company)["Old Alder"] and _active(company)["Old Birch"]


@pytest.mark.parametrize("kind", ["503", "429", "drop"])
def test_faults_mid_apply_leave_nothing_half_done_and_a_rerun_finishes(
    company: Company, session: Session, engine: sa.Engine, plan_clock: FixedClock, kind: str
) -> None:
    plan_id = _plan(company, session, engine, plan_clock)
    # chunks of one customer: request 1 re-reads, 2 writes, 3 re-reads, 4 writes (fails), ...
    company.server.faults = sandbox_knobs.FaultPlan(script={4: kind})
    first = apply_plan(session, company.gateway, plan_clock, plan_id, dry_run=False, chunk_size=1)
    assert first.interrupted
    company.server.faults = None
    second = apply_plan(session, company.gateway, plan_clock, plan_id, dry_run=False, chunk_size=1)
    assert second.interrupted is None
    assert not any(_active(company)[n] for n in ("Old Alder", "Old Birch", "Elm Holdings", "Elm Site 1"))
    outcomes = [i.outcome for i in first.items] + [i.outcome for i in second.items]
    assert outcomes.count("applied") + (1 if kind == "drop" else 0) == 4
    for name in ("Old Alder", "Old Birch", "Elm Holdings", "Elm Site 1"):
        assert int(company.customer(company.ids[name])["SyncToken"]) == 1  # changed exactly once


def test_undo_returns_every_touched_customer_to_its_previous_value(
    company: Company, session: Session, engine: sa.Engine, plan_clock: FixedClock
) -> None:
    plan_id = _plan(company, session, engine, plan_clock)
    run = apply_plan(session, company.gateway, plan_clock, plan_id, dry_run=False)
    assert run.run_id is not None
    undo = undo_run(session, company.gateway, plan_clock, run.run_id, dry_run=False)
    assert {i.outcome for i in undo.items} == {"applied"}
    assert all(_active(company).values())
    assert company.customer(company.ids["Old Alder"])["DisplayName"] == "Old Alder"


def test_nothing_with_an_open_balance_is_deactivated(
    company: Company, session: Session, engine: sa.Engine, plan_clock: FixedClock
) -> None:
    plan_id = _plan(company, session, engine, plan_clock)
    # an unpaid invoice dated long ago, entered after the plan: both a new balance and new activity
    company.server.clock.set(plan_clock.now() + timedelta(minutes=10))
    company.sale("Old Alder", date(2024, 1, 10), entity="Invoice")
    report = apply_plan(session, company.gateway, plan_clock, plan_id, dry_run=False)
    alder = next(i for i in report.items if i.display_name == "Old Alder")
    assert alder.outcome == "skipped" and "balance" in alder.reason
    assert _active(company)["Old Alder"] and _active(company)["Owes Dogwood"]
