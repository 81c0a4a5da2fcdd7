"""`qbsync report reconcile`: QuickBooks' report JSON read right, and qbsync's figures compared with the
sandbox's own Reports API (two computations sharing no code) on a generated company, on SQLite and
PostgreSQL, through the library and the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from qbsync.cache.models import Customer, Invoice
from qbsync.cache.schema import open_cache
from qbsync.cli import cli
from qbsync.cli.context import Env
from qbsync.clock import FixedClock
from qbsync.errors import ReconcileError
from qbsync.qbo.client import QboClient, connect
from qbsync.qbo.reportdoc import parse
from qbsync.reports import aging, reconcile
from qbsync.reports.source import Period
from qbsync.sandbox.clock import SandboxClock
from qbsync.sandbox.generator import CompanySpec, seed_realm
from qbsync.sandbox.server import SandboxServer
from qbsync.sandbox.store import Store
from qbsync.sync.runner import run_sync
from tests.clirunner import EnvRunner
from tests.conftest import BACKENDS, pg_schema_url
from tests.sync.sandbox_env import REALM, Connection, connect_settings

END = date(2025, 6, 30)
D = Decimal


def _row(name: str, cid: str | None, *values: str) -> dict[str, Any]:
    return {"ColData": [{"value": name, **({"id": cid} if cid else {})}, *({"value": v} for v in values)],
            "type": "Data"}


#: an A/R aging summary as QuickBooks nests it: a parent with its own row and a job, a parent with jobs
#: only in its section (its own figures are the section's total less its jobs), a plain customer
NESTED = {
    "Header": {"ReportName": "AgedReceivables", "Option": [{"Name": "report_date", "Value": "2025-06-30"}]},
    "Columns": {"Column": [{"ColTitle": "", "ColType": "Customer"},
                           {"ColTitle": "Current", "ColType": "Money"},
                           {"ColTitle": "Total", "ColType": "Money"}]},
    "Rows": {"Row": [
        {"Header": {"ColData": [{"value": "Parent", "id": "1"}, {"value": ""}]},
         "Rows": {"Row": [_row("Parent", "1", "10.00", "10.00"), _row("Job", "2", "5.50", "5.50")]},
         "Summary": {"ColData": [{"value": "Total Parent"}, {"value": "15.50"}, {"value": "15.50"}]},
         "type": "Section"},
        {"Header": {"ColData": [{"value": "Other", "id": "3"}, {"value": ""}]},
         "Rows": {"Row": [_row("Other job", "4", "-2.00", "-2.00")]},
         "Summary": {"ColData": [{"value": "Total Other"}, {"value": "1.00"}, {"value": "1.00"}]},
         "type": "Section"},
        _row("Plain", "5", "1,234.56", "1,234.56"),
        {"Summary": {"ColData": [{"value": "TOTAL"}, {"value": "1251.06"}, {"value": "1251.06"}]},
         "type": "Section", "group": "GrandTotal"}]}}


def test_quickbooks_summary_rows_with_jobs_nested_under_parents() -> None:
    doc = parse(NESTED)
    assert doc.name == "AgedReceivables" and doc.options["report_date"] == "2025-06-30"
    assert [c.title for c in doc.columns] == ["", "Current", "Total"]
    got = reconcile.per_customer(doc, [1, 2])
    assert got == {"1": [D("10.00"), D("10.00")], "2": [D("5.50"), D("5.50")], "3": [D("3.00"), D("3.00")],
                   "4": [D("-2.00"), D("-2.00")], "5": [D("1234.56"), D("1234.56")]}


def test_a_report_as_intuits_pages_print_it_is_read_too() -> None:
    """Data rows without a "type" (Intuit's report pages), columns with MetaData ColKey (the recorded
    wire), empty cells for nothing in a bucket."""
    titles = ["", "Current", "1 - 30", "31 - 60", "61 - 90", "91 and over", "Total"]
    keys = ["customer", "current", "0", "1", "2", "3", "total"]
    page = {
        "Header": {"ReportName": "AgedReceivables",
                   "Option": [{"Name": "report_date", "Value": "2015-12-31"},
                              {"Name": "NoReportData", "Value": "false"}]},
        "Rows": {"Row": [
            {"ColData": [{"id": "4", "value": "A customer"}, *({"value": ""} for _ in range(4)),
                         {"value": "37.50"}, {"value": "37.50"}]},
            {"group": "GrandTotal", "type": "Section", "Summary": {"ColData": [
                {"value": "TOTAL"}, *({"value": "0.00"} for _ in range(4)), {"value": "37.50"},
                {"value": "37.50"}]}}]},
        "Columns": {"Column": [{"ColType": "Money" if k != "customer" else "Customer", "ColTitle": t,
                                "MetaData": [{"Name": "ColKey", "Value": k}]}
                               for t, k in zip(titles, keys, strict=True)]}}
    doc = parse(page)
    assert [c.title for c in doc.columns] == titles
    assert reconcile.per_customer(doc, range(1, 7)) == {"4": [D(0)] * 4 + [D("37.50")] * 2}


def test_a_difference_names_both_figures_and_fails_with_exit_7() -> None:
    ours = {"1": [D("10.00")], "9": [D("4.00")]}
    theirs = {"1": [D("10.01")], "2": [D("3.00")]}
    diffs = reconcile._compare("balance", ours, theirs, ["Balance"], {"1": "A", "2": "B", "9": "Z"})
    assert [(d.customer_id, d.ours, d.theirs) for d in diffs] == [("1", D("10.00"), D("10.01")),
                                                                   ("2", None, D("3.00")),
                                                                   ("9", D("4.00"), None)]
    check = reconcile.Check("balance", "CustomerBalance", END, {}, 3, diffs)
    table = reconcile.table([check])
    assert [r["difference"] for r in table.rows] == [D("-0.01"), D("-3.00"), D("4.00")]
    with pytest.raises(ReconcileError) as err:
        reconcile.outcome([check])
    assert err.value.exit_code == 7 and "3 figures differ" in str(err.value)
    reconcile.outcome([reconcile.Check("balance", "CustomerBalance", END, {}, 3)])  # agreement: no error


# ---- against the sandbox ---------------------------------------------------------------------------------


@dataclass
class World:
    server: SandboxServer
    client: QboClient
    engine: sa.Engine
    conn: Connection
    url: str
    tmp: Path


SPEC = CompanySpec(seed=21, customers=220, end_date=END)


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp: Path = tmp_path_factory.mktemp("reconcile")
    clock = SandboxClock(datetime.combine(END + timedelta(days=1), time(8), UTC))
    store = Store(clock=clock)
    seed_realm(store, REALM, SPEC)

    def run(url: str) -> Iterator[World]:
        with SandboxServer(store, clock=clock) as server:
            conn = connect_settings(server, tmp, url)
            client = connect(conn.settings, REALM, clock=server.clock)
            engine = open_cache(url)
            run_sync(engine, client, REALM, clock=server.clock, workers=2)
            try:
                yield World(server, client, engine, conn, url, tmp)
            finally:
                client.close()
                engine.dispose()

    if request.param == "sqlite":
        yield from run(f"sqlite:///{tmp / 'cache.sqlite3'}")
    else:
        with pg_schema_url() as url:
            yield from run(url)


@pytest.mark.parametrize("as_of", [END, date(2025, 2, 28), date(2024, 9, 15)])
def test_every_report_agrees_with_quickbooks_to_the_cent(world: World, as_of: date) -> None:
    checks = reconcile.run(world.engine, REALM, world.client.report, as_of)
    assert [c.report for c in checks] == list(reconcile.CHECKS)
    for c in checks:
        assert c.ok, (c.report, c.differences[:5])
        assert c.compared > 0 and c.ours_total == c.theirs_total
    by = {c.report: c for c in checks}
    assert by["aging"].ours_total == by["balance"].ours_total == by["aging-detail"].ours_total


def test_quickbooks_aging_options_agree(world: World) -> None:
    today = END + timedelta(days=1)  # the sandbox company's day
    for params in (aging.AgingParams(15, 6), aging.AgingParams(45, 2), aging.AgingParams(30, 4, "current")):
        checks = reconcile.run(world.engine, REALM, world.client.report, date(2025, 1, 31),
                               ("aging", "aging-detail"), params=params, today=today)
        assert all(c.ok for c in checks), [(c.report, c.differences[:3]) for c in checks]


def test_sales_for_any_period_agree(world: World) -> None:
    for period in (Period(date(2024, 1, 1), date(2024, 12, 31)), Period(date(2025, 6, 1), END)):
        (check,) = reconcile.run(world.engine, REALM, world.client.report, END, ("sales",), period=period)
        assert check.ok and check.compared > 0, check.differences[:5]


def test_the_total_is_the_sum_of_customer_balances(world: World) -> None:
    report = aging.aging(world.engine, REALM, END)
    with world.engine.connect() as conn:
        balances = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(Customer.balance), 0))
                                .where(Customer.realm_id == REALM)).scalar_one()
    assert report.total == Decimal(balances)


@pytest.fixture
def cli_env(world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    for name, value in world.conn.env.items():
        if name.startswith("QBSYNC_"):
            monkeypatch.setenv(name, value)
    (tmp_path / "empty.toml").write_text("")
    monkeypatch.setenv("QBSYNC_CONFIG", str(tmp_path / "empty.toml"))
    # the command's clock is the sandbox company's (its tokens were issued on the company's day)
    return EnvRunner(Env(clock=FixedClock(world.server.clock.now())))


def test_cli_reconcile_then_a_tampered_cache_differs_and_health_says_so(world: World,
                                                                        cli_env: CliRunner) -> None:
    ok = cli_env.invoke(cli, ["report", "reconcile", "--as-of", END.isoformat(), "--format", "json"])
    assert ok.exit_code == 0, ok.output
    doc = json.loads(ok.stdout)
    assert doc["rows"] == [] and doc["meta"]["differences"] == 0
    assert all("agree to the cent" in n for n in doc["notes"])
    # one invoice's balance off by a cent in the cache: aging, the detail and the balance all say so
    with world.engine.begin() as conn:
        inv_id, cid, bal = conn.execute(sa.select(Invoice.id, Invoice.customer_id, Invoice.balance).where(
            Invoice.realm_id == REALM, Invoice.balance > 0).order_by(Invoice.id).limit(1)).one()
        conn.execute(sa.update(Invoice).where(Invoice.realm_id == REALM, Invoice.id == inv_id)
                     .values(balance=bal + D("0.01")))
    try:
        bad = cli_env.invoke(cli, ["report", "reconcile", "--as-of", END.isoformat(), "--format", "json",
                                   "--report", "aging", "--report", "balance-detail"])
        assert bad.exit_code == 7, bad.output
        rows = json.loads(bad.stdout)["rows"]
        assert {(r["report"], r["customer_id"], r["difference"]) for r in rows if r["what"] == "Total"} == {
            ("aging", cid, "0.01")}
        detail = [r for r in rows if r["report"] == "balance-detail"]
        assert [(r["what"], r["ours"], r["theirs"]) for r in detail] == [
            (f"Invoice {inv_id} open balance", str(bal + D("0.01")), str(bal))]
        assert "figures differ from QuickBooks' own reports" in bad.stderr
        # --reconcile on the report itself: the report on stdout stays JSON, the verdict on stderr
        flagged = cli_env.invoke(cli, ["report", "aging", "--reconcile", "--format", "json", "--as-of",
                                       END.isoformat()])
        assert flagged.exit_code == 7
        assert json.loads(flagged.stdout)["title"].startswith("A/R aging summary")
        assert f"({cid}) Total: qbsync" in flagged.stderr
        health = cli_env.invoke(cli, ["report", "health", "--format", "json"])
        checks = {r["entity"].split(" (")[0]: r for r in json.loads(health.stdout)["rows"]
                  if r["entity"].startswith("reconcile")}
        assert checks["reconcile aging"]["status"] == "differs"
        assert "QuickBooks" in checks["reconcile aging"]["last_error"]
        assert checks["reconcile balance"]["status"] == "ok"
    finally:
        with world.engine.begin() as conn:
            conn.execute(sa.update(Invoice).where(Invoice.realm_id == REALM, Invoice.id == inv_id)
                         .values(balance=bal))
    statement = cli_env.invoke(cli, ["report", "statement", str(cid), "--reconcile", "--as-of",
                                     END.isoformat()])
    assert statement.exit_code == 0, statement.output
    assert "1 statements compared, agree to the cent" in statement.stderr
    best = cli_env.invoke(cli, ["report", "best", "--reconcile", "--as-of", END.isoformat()])
    assert best.exit_code == 0 and "agree to the cent" in best.stderr
