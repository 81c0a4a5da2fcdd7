"""Issue 11's acceptance check, from the command line: a company seeded with `qbsync sandbox seed
--everyday`, edited through the API with python-quickbooks as a QuickBooks user would (a void, a
refund with tax, an unapplied payment, an unapplied credit memo, a discount with tax, a job billed
with its parent with invoices and a part payment, a sale by receipt only, a deleted payment), synced
with `qbsync sync`; then every figure of `report aging` (summary and detail, several aging options),
`best`, `cross`, `statement` (the three kinds, the batch) and `payments` is recomputed here from the
company's own records, read back over the API with python-quickbooks, sharing no code with qbsync's
reports or the sandbox's ledger, and must match to the cent. `report reconcile` and `--reconcile` find
nothing, a cache edited by a cent makes them exit 7, and `report health` shows the last result.
SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from qbsync.cache.models import Invoice
from qbsync.cache.schema import open_cache
from qbsync.cli import cli
from qbsync.cli.context import Env
from qbsync.clock import FixedClock
from qbsync.sandbox.clock import SandboxClock
from qbsync.sandbox.server import SandboxServer
from qbsync.sandbox.store import Store
from tests.clirunner import EnvRunner
from tests.conftest import BACKENDS, pg_schema_url
from tests.sync.sandbox_env import connect_settings

quickbooks = pytest.importorskip("quickbooks")

REALM = "9341453050000001"  # `sandbox seed`'s default company
END = date(2025, 6, 30)
PERIOD = (END - timedelta(days=364), END)  # the reports' default period: the 365 days ending at --as-of
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT, ROUND_HALF_UP)


def day(value: str) -> date:
    return date.fromisoformat(value)


def maybe_day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


# ---- the company's records, and what QuickBooks' definitions make of them ---------------------------------

AR_ENTITIES = ("Invoice", "CreditMemo", "Payment")
SALES_SIGN = {"Invoice": 1, "SalesReceipt": 1, "CreditMemo": -1, "RefundReceipt": -1}


@dataclass
class Item:
    """One open A/R transaction on a date, as QuickBooks' A/R Aging Detail lists it."""
    entity: str
    txn_id: str
    customer_id: str
    txn_date: date
    aged_from: date  # an invoice's due date; any other transaction's own date
    amount: Decimal  # signed: charges +, credits -
    open: Decimal  # signed


@dataclass
class Books:
    """Everything read back from the sandbox over the API; every figure below is computed from it."""
    customers: dict[str, dict[str, Any]]
    accounts: dict[str, dict[str, Any]]
    txns: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def name(self, cid: str) -> str:
        return str(self.customers[cid]["DisplayName"])

    def ar_account(self, ref: dict[str, Any] | None) -> bool:
        return ref is not None and self.accounts.get(str(ref.get("value")), {}).get("AccountType") \
            == "Accounts Receivable"

    def journal_ar(self) -> Iterator[tuple[dict[str, Any], str, Decimal]]:
        """Each journal entry's A/R lines with a customer, netted per (entry, customer): debit +."""
        for je in self.txns["JournalEntry"].values():
            net: dict[str, Decimal] = defaultdict(Decimal)
            for line in je.get("Line", []):
                detail = line.get("JournalEntryLineDetail") or {}
                entity = detail.get("Entity") or {}
                if not self.ar_account(detail.get("AccountRef")) or entity.get("Type") != "Customer":
                    continue
                sign = 1 if detail.get("PostingType") == "Debit" else -1
                net[str(entity["EntityRef"]["value"])] += sign * money(line.get("Amount"))
            for cid, amount in net.items():
                if amount:
                    yield je, cid, amount

    def open_items(self, on: date) -> list[Item]:
        """QuickBooks' open A/R on a date (aging method Report_Date): what was posted up to it, less
        what payments dated up to it applied; a payment's part applied to a later transaction counts
        as unapplied on the date."""
        dated = {(e, i): day(t["TxnDate"]) for e in (*AR_ENTITIES, "JournalEntry")
                 for i, t in self.txns[e].items()}
        applied: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        unapplied: dict[str, Decimal] = {}
        for pid, p in self.txns["Payment"].items():
            if day(p["TxnDate"]) > on:
                continue
            left = money(p.get("TotalAmt"))
            for line in p.get("Line", []):
                for link in line.get("LinkedTxn", []):
                    target = (link["TxnType"], str(link["TxnId"]))
                    if target not in dated or dated[target] > on:
                        continue
                    amount = money(line.get("Amount"))
                    applied[target] += amount
                    left -= -amount if target[0] == "CreditMemo" else amount
            unapplied[pid] = left
        out: list[Item] = []

        def add(entity: str, tid: str, cid: str, txn_date: date, aged: date, amount: Decimal,
                open_: Decimal) -> None:
            if open_:
                out.append(Item(entity, tid, cid, txn_date, aged, amount, open_))

        for tid, t in self.txns["Invoice"].items():
            d = day(t["TxnDate"])
            if d <= on:
                total = money(t.get("TotalAmt"))
                add("Invoice", tid, t["CustomerRef"]["value"], d, maybe_day(t.get("DueDate")) or d, total,
                    total - applied[("Invoice", tid)])
        for tid, t in self.txns["CreditMemo"].items():
            d = day(t["TxnDate"])
            if d <= on:
                total = money(t.get("TotalAmt"))
                add("CreditMemo", tid, t["CustomerRef"]["value"], d, d, -total,
                    -(total - applied[("CreditMemo", tid)]))
        for tid, left in unapplied.items():
            t = self.txns["Payment"][tid]
            d = day(t["TxnDate"])
            add("Payment", tid, t["CustomerRef"]["value"], d, d, -money(t.get("TotalAmt")), -left)
        for je, cid, amount in self.journal_ar():
            d = day(je["TxnDate"])
            if d <= on:
                add("JournalEntry", str(je["Id"]), cid, d, d, amount,
                    amount - applied[("JournalEntry", str(je["Id"]))])
        return out

    def balance(self, on: date) -> dict[str, Decimal]:
        out: dict[str, Decimal] = defaultdict(Decimal)
        for item in self.open_items(on):
            out[item.customer_id] += item.open
        return dict(out)

    def sales(self, start: date, end: date) -> dict[str, Decimal]:
        """Sales by Customer: after discounts, before tax; credit memos and refunds negative; journal
        lines to an income account with a customer's name (credit +)."""
        out: dict[str, Decimal] = defaultdict(Decimal)
        for entity, sign in SALES_SIGN.items():
            for t in self.txns[entity].values():
                if start <= day(t["TxnDate"]) <= end and t.get("CustomerRef"):
                    net = money(t.get("TotalAmt")) - money((t.get("TxnTaxDetail") or {}).get("TotalTax"))
                    if t.get("PrivateNote") == "Voided":
                        net = ZERO
                    out[t["CustomerRef"]["value"]] += sign * net
        for je in self.txns["JournalEntry"].values():
            if not start <= day(je["TxnDate"]) <= end:
                continue
            for line in je.get("Line", []):
                detail = line.get("JournalEntryLineDetail") or {}
                account = self.accounts.get(str((detail.get("AccountRef") or {}).get("value")), {})
                named = detail.get("Entity") or {}
                income = account.get("AccountType") in ("Income", "Other Income")
                if income and named.get("Type") == "Customer":
                    sign = 1 if detail.get("PostingType") == "Credit" else -1
                    out[str(named["EntityRef"]["value"])] += sign * money(line.get("Amount"))
        return {cid: v for cid, v in out.items() if v}

    def sales_by_location(self, start: date, end: date) -> dict[tuple[str, str | None], Decimal]:
        out: dict[tuple[str, str | None], Decimal] = defaultdict(Decimal)
        for entity, sign in SALES_SIGN.items():
            for t in self.txns[entity].values():
                if start <= day(t["TxnDate"]) <= end and t.get("CustomerRef") \
                        and t.get("PrivateNote") != "Voided":
                    net = money(t.get("TotalAmt")) - money((t.get("TxnTaxDetail") or {}).get("TotalTax"))
                    dept = (t.get("DepartmentRef") or {}).get("value")
                    out[(t["CustomerRef"]["value"], dept)] += sign * net
        return {k: v for k, v in out.items() if v}

    def sales_by_class(self, start: date, end: date) -> dict[tuple[str, str | None], Decimal]:
        """Each transaction's sales shared out over its sales lines' classes (a line without one takes
        the header's) in proportion to the line amounts, to the cent, the cents left over to the
        largest remainders (ties: class Id order); no lines, one class, or lines netting to zero:
        all of it under the header's class."""
        out: dict[tuple[str, str | None], Decimal] = defaultdict(Decimal)
        for entity, sign in SALES_SIGN.items():
            for t in self.txns[entity].values():
                if not start <= day(t["TxnDate"]) <= end or not t.get("CustomerRef") \
                        or t.get("PrivateNote") == "Voided":
                    continue
                tax = money((t.get("TxnTaxDetail") or {}).get("TotalTax"))
                total = sign * (money(t.get("TotalAmt")) - tax)
                header = (t.get("ClassRef") or {}).get("value") or ""
                parts: dict[str, Decimal] = defaultdict(Decimal)
                lines = [*t.get("Line", []), *(inner for ln in t.get("Line", []) for inner in
                                               (ln.get("GroupLineDetail") or {}).get("Line", []))]
                for line in lines:
                    if line.get("DetailType") == "SalesItemLineDetail":
                        cls = (line["SalesItemLineDetail"].get("ClassRef") or {}).get("value") or header
                        parts[cls] += money(line.get("Amount"))
                weight = sum(parts.values(), ZERO)
                if len(parts) < 2 or not weight:
                    shares = {header if len(parts) != 1 else next(iter(parts)): total}
                else:
                    cents = int(total * 100)
                    exact = {k: Decimal(cents) * parts[k] / weight for k in sorted(parts)}
                    floor = {k: math.floor(v) for k, v in exact.items()}
                    ranked = sorted(exact, key=lambda k: -(exact[k] - floor[k]))
                    for k in ranked[:cents - sum(floor.values())]:
                        floor[k] += 1
                    shares = {k: Decimal(v) / 100 for k, v in floor.items()}
                for cls, amount in shares.items():
                    out[(t["CustomerRef"]["value"], cls or None)] += amount
        return {k: v for k, v in out.items() if v}

    def billed_to(self, cid: str) -> str:
        """The customer whose statement carries ``cid``'s transactions: up a chain of jobs billed with
        their parent."""
        at, seen = cid, {cid}
        while True:
            c = self.customers[at]
            parent = (c.get("ParentRef") or {}).get("value")
            if not c.get("BillWithParent") or parent in seen or parent not in self.customers:
                return at
            at = str(parent)
            seen.add(at)

    def ar_postings(self) -> list[tuple[date, str, str, str, Decimal]]:
        """(date, entity, id, customer, signed amount) of everything that moved A/R."""
        out = []
        for entity, sign in (("Invoice", 1), ("CreditMemo", -1), ("Payment", -1)):
            for tid, t in self.txns[entity].items():
                out.append((day(t["TxnDate"]), entity, tid, t["CustomerRef"]["value"],
                            sign * money(t.get("TotalAmt"))))
        for je, cid, amount in self.journal_ar():
            out.append((day(je["TxnDate"]), "JournalEntry", str(je["Id"]), cid, amount))
        return out


def bucket_titles(period: int, periods: int) -> list[str]:
    return ["Current"] + [f"{1 + i * period} - {(i + 1) * period}" for i in range(periods - 1)] + [
        f"{(periods - 1) * period + 1} and over"]


def bucket(days_past_due: int, period: int, periods: int) -> int:
    if days_past_due <= 0:
        return 0
    return min(math.ceil(days_past_due / period), periods)


# ---- the world: seed from the CLI, edit through python-quickbooks, sync from the CLI ---------------------


@dataclass
class World:
    runner: CliRunner
    server: SandboxServer
    qb: Any
    books: Books
    url: str
    edits: dict[str, str]

    def run(self, *args: str, code: int = 0) -> Result:
        result = self.runner.invoke(cli, list(args))
        assert result.exit_code == code, (args, result.output, result.exception)
        return result

    def json(self, *args: str) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.run(*args, "--format", "json").stdout)
        return doc


def _python_quickbooks(server: SandboxServer) -> Any:
    from intuitlib.client import AuthClient
    from quickbooks import QuickBooks

    from tests.sandbox.conftest import REDIRECT, connect

    ac = AuthClient(server.client_id, server.client_secret, REDIRECT, environment=server.discovery_url)
    ac.get_bearer_token(connect(server, ac))
    qb = QuickBooks(auth_client=ac, refresh_token=ac.refresh_token, company_id=ac.realm_id, minorversion=75)
    qb.api_url_v3 = qb.sandbox_api_url_v3 = server.api_url_v3
    return qb


def _read_all(qb: Any, entity: str) -> dict[str, dict[str, Any]]:
    where = " WHERE Active IN (true, false)" if entity in ("Customer", "Account") else ""
    out: dict[str, dict[str, Any]] = {}
    start = 1
    while True:
        page = qb.query(f"SELECT * FROM {entity}{where} STARTPOSITION {start} MAXRESULTS 1000")
        rows = page["QueryResponse"].get(entity, [])
        out.update((str(r["Id"]), r) for r in rows)
        if len(rows) < 1000:
            return out
        start += 1000


def _read_books(qb: Any) -> Books:
    books = Books(_read_all(qb, "Customer"), _read_all(qb, "Account"))
    for entity in ("Invoice", "Payment", "CreditMemo", "SalesReceipt", "RefundReceipt", "JournalEntry"):
        books.txns[entity] = _read_all(qb, entity)
    return books


def _edit_as_a_bookkeeper(qb: Any) -> dict[str, str]:
    """The everyday edits, each through python-quickbooks' own objects."""
    from quickbooks.objects.creditmemo import CreditMemo as QbCreditMemo
    from quickbooks.objects.customer import Customer as QbCustomer
    from quickbooks.objects.invoice import Invoice as QbInvoice
    from quickbooks.objects.payment import Payment as QbPayment
    from quickbooks.objects.refundreceipt import RefundReceipt as QbRefund
    from quickbooks.objects.salesreceipt import SalesReceipt as QbReceipt

    def line(amount: float, item: str = "1") -> dict[str, Any]:
        return {"Amount": amount, "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": 1, "UnitPrice": amount}}

    def save(cls: Any, body: dict[str, Any]) -> Any:
        return cls.from_json(body).save(qb=qb)

    iso = END.isoformat
    books = _read_books(qb)
    deposit = next(a for a in books.accounts.values() if a.get("AccountType") == "Bank")["Id"]
    # a partly paid invoice is voided: its payment becomes unapplied credit
    partly = next(i for i in sorted(books.txns["Invoice"].values(), key=lambda t: int(t["Id"]))
                  if 0 < money(i.get("Balance")) < money(i.get("TotalAmt")))
    QbInvoice.get(partly["Id"], qb=qb).void(qb=qb)
    # a fully applied payment is deleted: what it paid is open again
    paid = next(p for p in sorted(books.txns["Payment"].values(), key=lambda t: -int(t["Id"]))
                if p.get("Line") and money(p.get("UnappliedAmt")) == 0
                and all(lt["TxnType"] == "Invoice" for ln in p["Line"] for lt in ln.get("LinkedTxn", [])))
    QbPayment.get(paid["Id"], qb=qb).delete(qb=qb)
    # a new customer with a billing address, a job billed with it, an old unpaid debt
    parent = save(QbCustomer, {"DisplayName": "Acceptance Parent Co", "CompanyName": "Acceptance Parent Co",
                               "BillAddr": {"Line1": "5 Dock Rd", "City": "Leeds", "PostalCode": "LS1 4AP",
                                            "Country": "United Kingdom"}})
    job = save(QbCustomer, {"DisplayName": "Roof job", "Job": True, "BillWithParent": True,
                            "ParentRef": {"value": parent.Id}})
    save(QbInvoice, {"CustomerRef": {"value": parent.Id}, "TxnDate": (END - timedelta(days=300)).isoformat(),
                     "DueDate": (END - timedelta(days=270)).isoformat(), "Line": [line(400.0)]})
    job_inv = save(QbInvoice, {"CustomerRef": {"value": job.Id},
                               "TxnDate": (END - timedelta(days=40)).isoformat(),
                               "DueDate": (END - timedelta(days=10)).isoformat(), "Line": [line(300.0)]})
    save(QbPayment, {"CustomerRef": {"value": job.Id}, "TxnDate": (END - timedelta(days=5)).isoformat(),
                     "TotalAmt": 120.0, "Line": [{"Amount": 120.0, "LinkedTxn": [
                         {"TxnId": job_inv.Id, "TxnType": "Invoice"}]}]})
    # a discount with tax: 1,000.00 less 10 % plus 72.00 tax; Sales by Customer counts 900.00
    save(QbInvoice, {"CustomerRef": {"value": parent.Id}, "TxnDate": (END - timedelta(days=3)).isoformat(),
                     "DueDate": (END + timedelta(days=27)).isoformat(),
                     "Line": [line(1000.0), {"Amount": 100.0, "DetailType": "DiscountLineDetail",
                                             "DiscountLineDetail": {"PercentBased": True,
                                                                    "DiscountPercent": 10}}],
                     "TxnTaxDetail": {"TotalTax": 72.0}})
    # an unapplied payment and an unapplied credit memo
    save(QbPayment, {"CustomerRef": {"value": parent.Id}, "TxnDate": iso(), "TotalAmt": 25.5})
    save(QbCreditMemo, {"CustomerRef": {"value": job.Id}, "TxnDate": iso(), "Line": [line(40.0)]})
    # a refund with tax to a customer who bought
    buyer = next(r for r in sorted(books.txns["SalesReceipt"].values(), key=lambda t: int(t["Id"]))
                 if money(r.get("TotalAmt")) > 50)["CustomerRef"]["value"]
    save(QbRefund, {"CustomerRef": {"value": buyer}, "TxnDate": iso(),
                    "DepositToAccountRef": {"value": deposit}, "Line": [line(40.0)],
                    "TxnTaxDetail": {"TotalTax": 3.2}})
    # someone who only ever pays at the till, with a discount and tax
    cash = save(QbCustomer, {"DisplayName": "Cash Only Buyer"})
    save(QbReceipt, {"CustomerRef": {"value": cash.Id}, "TxnDate": (END - timedelta(days=20)).isoformat(),
                     "DepositToAccountRef": {"value": deposit},
                     "Line": [line(250.0), {"Amount": 25.0, "DetailType": "DiscountLineDetail",
                                            "DiscountLineDetail": {"PercentBased": False}}],
                     "TxnTaxDetail": {"TotalTax": 18.0}})
    # a sale whose lines are in three classes, with a discount: shared out 66.67 / 66.67 / 66.66
    classes = sorted(_read_all(qb, "Class"), key=int)[:3]
    save(QbReceipt, {"CustomerRef": {"value": cash.Id}, "TxnDate": (END - timedelta(days=2)).isoformat(),
                     "DepositToAccountRef": {"value": deposit},
                     "Line": [{**line(70.0), "SalesItemLineDetail": {
                         **line(70.0)["SalesItemLineDetail"], "ClassRef": {"value": c}}} for c in classes]
                     + [{"Amount": 10.0, "DetailType": "DiscountLineDetail",
                         "DiscountLineDetail": {"PercentBased": False}}],
                     "TxnTaxDetail": {"TotalTax": 16.0}})
    return {"voided": str(partly["Id"]), "deleted_payment": str(paid["Id"]), "parent": str(parent.Id),
            "job": str(job.Id), "refunded": str(buyer), "cash": str(cash.Id)}


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp: Path = tmp_path_factory.mktemp("accept11")
    db = tmp / "sandbox.sqlite3"
    seeded = CliRunner().invoke(cli, ["sandbox", "seed", "--db", str(db), "--everyday", "--customers", "120",
                                      "--seed", "8", "--years", "2", "--end-date", END.isoformat()])
    assert seeded.exit_code == 0, seeded.output
    clock = SandboxClock(datetime.combine(END + timedelta(days=1), time(16), UTC))
    store = Store(str(db), clock=clock)

    def run(url: str) -> Iterator[World]:
        with SandboxServer(store, clock=clock) as server:
            conn = connect_settings(server, tmp, url, realm=REALM)
            mp = pytest.MonkeyPatch()
            for name, value in conn.env.items():
                if name.startswith("QBSYNC_") or name == "OAUTHLIB_INSECURE_TRANSPORT":
                    mp.setenv(name, value)
            (tmp / "empty.toml").write_text("")
            mp.setenv("QBSYNC_CONFIG", str(tmp / "empty.toml"))
            runner = EnvRunner(Env(clock=FixedClock(server.clock.now())))
            w = World(runner, server, _python_quickbooks(server), Books({}, {}), url, {})
            try:
                w.run("sync")  # the whole company
                w.edits = _edit_as_a_bookkeeper(w.qb)
                w.run("sync")  # the edits, by change data capture
                w.books = _read_books(w.qb)
                yield w
            finally:
                mp.undo()

    if request.param == "sqlite":
        yield from run(f"sqlite:///{tmp / 'cache.sqlite3'}")
    else:
        with pg_schema_url() as url:
            yield from run(url)


# ---- the checks ------------------------------------------------------------------------------------------


def test_the_edits_made_the_company_a_real_one(world: World) -> None:
    b, e = world.books, world.edits
    assert b.txns["Invoice"][e["voided"]]["PrivateNote"] == "Voided"
    assert e["deleted_payment"] not in b.txns["Payment"]
    assert b.customers[e["job"]]["ParentRef"]["value"] == e["parent"]
    assert b.txns["RefundReceipt"] and b.txns["JournalEntry"]
    assert any(money(p.get("UnappliedAmt")) > 0 for p in b.txns["Payment"].values())
    assert any(money(c.get("RemainingCredit")) > 0 for c in b.txns["CreditMemo"].values())
    # the records agree with themselves: open items on the last day add up to each customer's Balance
    owed = b.balance(END + timedelta(days=1))
    for cid, c in b.customers.items():
        assert owed.get(cid, ZERO) == money(c.get("Balance")), cid


@pytest.mark.parametrize("as_of", [END, END - timedelta(days=45), date(2024, 12, 31)])
@pytest.mark.parametrize(("period", "periods"), [(30, 4), (15, 6), (45, 2)])
def test_aging_summary_and_detail_to_the_cent(world: World, as_of: date, period: int, periods: int) -> None:
    items = world.books.open_items(as_of)
    expected: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO] * (periods + 1))
    for item in items:
        expected[item.customer_id][bucket((as_of - item.aged_from).days, period, periods)] += item.open
    opts = ("--as-of", as_of.isoformat(), "--aging-period", str(period), "--num-periods", str(periods))
    summary = world.json("report", "aging", *opts)
    keys = [c["key"] for c in summary["columns"]]
    money_keys = keys[keys.index("items") + 1:keys.index("total")]
    titles = [c["title"] for c in summary["columns"] if c["key"] in money_keys]
    assert titles == bucket_titles(period, periods)
    got = {r["customer_id"]: [money(r[k]) for k in money_keys] for r in summary["rows"]}
    want = {cid: v for cid, v in expected.items() if any(v)}
    assert got == want
    for r in summary["rows"]:
        assert money(r["total"]) == sum(got[r["customer_id"]], ZERO)
    total = sum((i.open for i in items), ZERO)
    assert money(summary["totals"]["total"]) == total
    assert any(v < 0 for v in map(money, (r["total"] for r in summary["rows"])))  # customers in credit
    detail = world.json("report", "aging", "--detail", *opts)
    titles = bucket_titles(period, periods)
    got_items = {(r["kind"].replace(" ", ""), r["txn_id"], r["customer_id"]): (money(r["open"]), r["bucket"])
                 for r in detail["rows"]}
    want_items = {(i.entity, i.txn_id, i.customer_id): (i.open, titles[bucket((as_of - i.aged_from).days,
                                                                             period, periods)])
                  for i in items}
    assert got_items == want_items
    assert money(detail["totals"]["open"]) == total


@pytest.mark.parametrize("as_of", [END, END - timedelta(days=45)])
def test_aging_from_the_transaction_date_as_quickbooks_desktop_can(world: World, as_of: date) -> None:
    expected: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO] * 5)
    for item in world.books.open_items(as_of):
        expected[item.customer_id][bucket((as_of - item.txn_date).days, 30, 4)] += item.open
    doc = world.json("report", "aging", "--as-of", as_of.isoformat(), "--age-from", "transaction-date")
    assert doc["meta"]["age_from"] == "txn_date" and "Age from transaction date" in doc["notes"][0]
    keys = [c["key"] for c in doc["columns"]]
    money_keys = keys[keys.index("items") + 1:keys.index("total")]
    assert {r["customer_id"]: [money(r[k]) for k in money_keys] for r in doc["rows"]} == \
        {cid: v for cid, v in expected.items() if any(v)}
    due = world.json("report", "aging", "--as-of", as_of.isoformat())
    assert money(doc["totals"]["total"]) == money(due["totals"]["total"])
    # older from their date than past their due date: the columns differ, the total does not
    assert [doc["totals"][k] for k in money_keys] != [due["totals"][k] for k in money_keys]
    # QuickBooks Online's reports have no such option: nothing to reconcile against
    refused = world.run("report", "aging", "--age-from", "transaction-date", "--reconcile", code=2)
    assert "age from the due date only" in refused.output
    world.run("report", "reconcile", "--age-from", "transaction-date", code=2)


@pytest.mark.parametrize("as_of", [END, END - timedelta(days=45), date(2024, 12, 31)])
def test_aging_method_current_counts_every_payment_and_ages_on_today(world: World, as_of: date) -> None:
    today = END + timedelta(days=1)  # the company's day on the sandbox (and the CLI's clock)
    expected: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO] * 5)
    for item in world.books.open_items(today):
        if item.txn_date <= as_of:
            expected[item.customer_id][bucket((today - item.aged_from).days, 30, 4)] += item.open
    opts = ("--as-of", as_of.isoformat(), "--aging-method", "current")
    doc = world.json("report", "aging", *opts)
    keys = [c["key"] for c in doc["columns"]]
    money_keys = keys[keys.index("items") + 1:keys.index("total")]
    assert {r["customer_id"]: [money(r[k]) for k in money_keys] for r in doc["rows"]} == \
        {cid: v for cid, v in expected.items() if any(v)}
    assert doc["meta"]["aged_on"] == today.isoformat()
    result = world.run("report", "aging", *opts, "--reconcile")
    assert "agree to the cent" in result.stderr
    world.run("report", "aging", "--detail", *opts, "--reconcile")


def _best_expected(books: Books, start: date, end: date) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    length = (end - start).days + 1
    prev_end = start - timedelta(days=1)
    return books.sales(start, end), books.sales(prev_end - timedelta(days=length - 1), prev_end)


def test_best_is_sales_by_customer_after_discounts_before_tax(world: World) -> None:
    b, e = world.books, world.edits
    now, before = _best_expected(b, *PERIOD)
    doc = world.json("report", "best", "--as-of", END.isoformat(), "--limit", "100000")
    rows = {r["customer_id"]: r for r in doc["rows"]}
    assert {cid: money(r["spend"]) for cid, r in rows.items() if money(r["spend"])} == now
    total = sum(now.values(), ZERO)
    assert money(doc["totals"]["spend"]) == total
    for cid, r in rows.items():
        assert money(r["previous"]) == before.get(cid, ZERO), cid
        assert Decimal(r["share"]) == (money(r["spend"]) / total).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    spends = [money(r["spend"]) for r in doc["rows"]]
    assert spends == sorted(spends, reverse=True)
    running, needed = ZERO, 0
    for value in sorted(now.values(), reverse=True):
        if running >= total * Decimal("0.8"):
            break
        running += value
        needed += 1
    assert doc["meta"]["customers_for_80pct"] == needed
    # the parent's discounted, taxed invoice counts 900.00; the till buyer's receipts net of discounts
    assert now[e["parent"]] == Decimal("1300.00")  # and the 400.00 old debt, issued in the period
    assert now[e["cash"]] == Decimal("425.00")  # 250 - 25 and 210 - 10, before tax
    assert now[e["refunded"]] == b.sales(*PERIOD)[e["refunded"]]


def test_cross_by_location_and_class_add_up_to_sales(world: World) -> None:
    b = world.books
    sales = b.sales(*PERIOD)
    doc = world.json("report", "cross", "--as-of", END.isoformat(), "--limit", "100000")
    got: dict[tuple[str, str | None], Decimal] = {}
    for r in doc["rows"]:
        assert money(r["total"]) == sales.get(r["customer_id"], ZERO), r
        for key, value in r.items():
            if key.startswith("d:") and value is not None and money(value):
                got[(r["customer_id"], key[2:] or None)] = money(value)  # "d:": no location
    assert got == b.sales_by_location(*PERIOD)
    assert money(doc["totals"]["total"]) == sum(sales.values(), ZERO)
    by_class = world.json("report", "cross", "--by", "class", "--as-of", END.isoformat(), "--limit", "100000")
    assert {r["customer_id"]: money(r["total"]) for r in by_class["rows"]} == \
        {r["customer_id"]: money(r["total"]) for r in doc["rows"]}
    classes = {(r["customer_id"], key[2:] or None): money(value) for r in by_class["rows"]
               for key, value in r.items() if key.startswith("d:") and value is not None and money(value)}
    assert classes == b.sales_by_class(*PERIOD)
    split = sorted(v for (cid, _c), v in classes.items() if cid == world.edits["cash"])
    assert Decimal("66.66") in split and split.count(Decimal("66.67")) >= 2
    assert money(by_class["totals"]["total"]) == sum(sales.values(), ZERO)


def _statement_expected(b: Books, root: str, start: date, end: date
                        ) -> tuple[set[str], Decimal, list[tuple[str, str, Decimal]], Decimal]:
    members = {cid for cid in b.customers if b.billed_to(cid) == root}
    opening, lines = ZERO, []
    for d, entity, tid, cid, amount in b.ar_postings():
        if cid not in members or d > end:
            continue
        if d < start:
            opening += amount
        else:
            lines.append((entity, tid, amount))
    return members, opening, lines, opening + sum((x[2] for x in lines), ZERO)


def test_statements_in_quickbooks_three_kinds(world: World) -> None:
    b, e = world.books, world.edits
    start = END - timedelta(days=89)
    balances = b.balance(END)
    roots = {b.billed_to(c) for c in b.customers}
    # a parent with its job rolled up, a customer in credit and a customer with a journal entry
    in_credit = next(r for r in sorted(roots) if sum(balances.get(c, ZERO) for c in b.customers
                                                     if b.billed_to(c) == r) < 0)
    with_journal = next(cid for _je, cid, _a in b.journal_ar())
    for root in dict.fromkeys([e["parent"], in_credit, b.billed_to(with_journal)]):
        members, opening, lines, due = _statement_expected(b, root, start, END)
        assert due == sum((balances.get(c, ZERO) for c in members), ZERO)
        args = ("report", "statement", root, "--as-of", END.isoformat(), "--from", start.isoformat())
        fwd = world.json(*args, "--kind", "balance-forward")
        assert set(fwd["meta"]["members"].split(",")) == members
        assert money(fwd["meta"]["amount_due"]) == due
        # The aging printed under the statement (QuickBooks' boxes) adds up to the amount due.
        [aging_note] = [n for n in fwd["notes"] if n.startswith("aging on ")]
        ages = [part.rsplit(" ", 1)[1] for part in aging_note.split(": ", 1)[1].split(", ")]
        assert len(ages) == 5 and sum((money(a.replace(",", "")) for a in ages), ZERO) == due, aging_note
        body = [r for r in fwd["rows"] if r["kind"] != "Balance forward"]
        assert sorted((r["kind"].replace(" ", ""), r["txn_id"], money(r["charge"]) - money(r["received"]))
                      for r in body) == sorted(lines)
        assert money(next(r for r in fwd["rows"] if r["kind"] == "Balance forward")["balance"]) == opening
        assert money(body[-1]["balance"]) == due if body else True
        txn = world.json(*args, "--kind", "transaction")
        assert money(txn["totals"]["charge"]) == sum((a for *_x, a in lines if a > 0), ZERO)
        assert money(txn["totals"]["received"]) == -sum((a for *_x, a in lines if a < 0), ZERO)
        item = world.json(*args, "--kind", "open-item")
        since = END - timedelta(days=364)
        items = [i for i in b.open_items(END) if i.customer_id in members]
        assert sorted((r["kind"].replace(" ", ""), r["txn_id"], money(r["open"])) for r in item["rows"]) == \
            sorted((i.entity, i.txn_id, i.open) for i in items if i.txn_date >= since)
        assert money(item["meta"]["amount_due"]) == sum((i.open for i in items if i.txn_date >= since), ZERO)
    # the parent's statement: its job's lines, its billing address
    fwd = world.json("report", "statement", e["parent"], "--as-of", END.isoformat())
    assert {r["customer"] for r in fwd["rows"] if r.get("customer")} == {"Acceptance Parent Co", "Roof job"}
    assert fwd["meta"]["address"] == "Acceptance Parent Co, 5 Dock Rd, Leeds LS1 4AP, United Kingdom"
    assert world.json("report", "statement", e["job"], "--as-of", END.isoformat())["meta"]["customer_id"] == \
        e["parent"]


def test_statement_batch_is_every_customer_owing_or_overdue(world: World) -> None:
    b = world.books
    owed: dict[str, Decimal] = defaultdict(Decimal)
    overdue: set[str] = set()
    for i in b.open_items(END):
        owed[b.billed_to(i.customer_id)] += i.open
        if i.open > 0 and i.aged_from < END:
            overdue.add(b.billed_to(i.customer_id))
    batch = world.json("report", "statement", "--all", "--as-of", END.isoformat())
    due = {r["statement_customer_id"]: money(r["balance"])
           for r in batch["rows"] if r["kind"] == "Amount due"}
    assert due == {cid: v for cid, v in owed.items() if v}
    assert batch["meta"]["statements"] == len(due)
    late = world.json("report", "statement", "--all", "--balance", "overdue", "--as-of", END.isoformat())
    assert {r["statement_customer_id"] for r in late["rows"]} == overdue
    for r in batch["rows"]:
        c = b.customers[r["statement_customer_id"]]
        addr = c.get("BillAddr") or {}
        for part in (addr.get("Line1"), addr.get("City"), addr.get("PostalCode")):
            assert part is None or part in r["address"], (r["address"], addr)


def test_payment_classes_judge_every_open_invoice_and_size_every_buyer(world: World) -> None:
    b, e = world.books, world.edits
    start, end = PERIOD
    grace, long_term = 5, 180
    paid_on: dict[str, list[tuple[date, Decimal]]] = defaultdict(list)
    for p in b.txns["Payment"].values():
        for line in p.get("Line", []):
            for link in line.get("LinkedTxn", []):
                if link["TxnType"] == "Invoice":
                    paid_on[str(link["TxnId"])].append((day(p["TxnDate"]), money(line["Amount"])))
    per: dict[str, dict[str, Any]] = defaultdict(lambda: {"due": 0, "late": 0, "invoiced": ZERO, "paid": ZERO,
                                                          "oldest": 0, "not_due": 0})
    for tid, inv in b.txns["Invoice"].items():
        total, issued = money(inv.get("TotalAmt")), day(inv["TxnDate"])
        due = maybe_day(inv.get("DueDate")) or issued
        if total <= 0 or issued > end:
            continue
        payments = [(d, a) for d, a in paid_on[tid] if d <= end]
        paid = sum((a for _d, a in payments), ZERO)
        open_ = total - paid
        in_period = start <= issued <= end
        row = per[inv["CustomerRef"]["value"]]
        if due > end:
            row["not_due"] += in_period
            continue
        if not in_period and open_ <= 0:
            continue
        row["due"] += 1
        row["invoiced"] += total
        row["paid"] += paid
        if open_ <= 0:
            row["late"] += (max(d for d, _a in payments) - due).days > grace
        else:
            row["late"] += (end - due).days > grace
            row["oldest"] = max(row["oldest"], (end - due).days)
    sales = {cid: v for cid, v in b.sales(start, end).items() if v > 0}
    expected: dict[str, str] = {}
    for cid, row in per.items():
        if row["due"] == 0:
            if cid in sales and not row["not_due"]:
                expected[cid] = "paid at sale"
            elif cid in sales:
                expected[cid] = "no history"
            continue
        share = Decimal(row["late"]) / row["due"]
        if row["oldest"] > long_term:
            expected[cid] = "long-term debtor"
        elif row["paid"] / row["invoiced"] < Decimal("0.25") and row["oldest"] > 60:
            expected[cid] = "non-payer"
        elif share >= Decimal("0.5"):
            expected[cid] = "chronically late"
        elif share > Decimal("0.1"):
            expected[cid] = "sometimes late"
        else:
            expected[cid] = "on time"
    for cid in sales:
        expected.setdefault(cid, "paid at sale")
    doc = world.json("report", "payments", "--as-of", END.isoformat())
    got = {r["customer_id"]: r for r in doc["rows"]}
    assert {cid: r["payment_class"] for cid, r in got.items()} == expected
    # every invoice open and past due is judged, whatever its issue date
    owing_late = {i.customer_id for i in b.open_items(END) if i.entity == "Invoice" and i.aged_from < END}
    assert owing_late <= set(got)
    assert got[e["parent"]]["payment_class"] == "long-term debtor"
    # deal size for every buyer, the till buyer included: the top 20 % of buyers by sales are large
    ranked = sorted(sales, key=lambda cid: (-sales[cid], cid))
    n_large = math.ceil(len(ranked) * Decimal("0.2"))
    assert {cid: r["size"] for cid, r in got.items() if r["size"]} == {
        cid: "large" if n < n_large else "small" for n, cid in enumerate(ranked)}
    assert got[e["cash"]]["payment_class"] == "paid at sale" and got[e["cash"]]["size"] is not None


def test_reconcile_finds_nothing_then_a_cent_off_exits_7_and_health_says_so(world: World) -> None:
    at = ("--as-of", END.isoformat())
    ok = world.json("report", "reconcile", *at)
    assert ok["rows"] == [] and ok["meta"]["differences"] == 0
    for report in (("aging",), ("aging", "--detail"), ("best",), ("statement", world.edits["parent"]),
                   ("statement", "--all")):
        result = world.run("report", *report, "--reconcile", *at)
        assert "agree to the cent" in result.stderr, (report, result.stderr)
    engine = open_cache(world.url)
    try:
        with engine.begin() as conn:
            # an invoice of the period a cent larger in the cache than in QuickBooks
            inv_id, cid, total, bal = conn.execute(
                sa.select(Invoice.id, Invoice.customer_id, Invoice.total_amt, Invoice.balance).where(
                    Invoice.realm_id == REALM, Invoice.balance > 0, Invoice.txn_date > PERIOD[0])
                .order_by(Invoice.id).limit(1)).one()
            conn.execute(sa.update(Invoice).where(Invoice.realm_id == REALM, Invoice.id == inv_id)
                         .values(total_amt=total + CENT, balance=bal + CENT))
        try:
            bad = world.run("report", "reconcile", *at, "--format", "json", code=7)
            rows = json.loads(bad.stdout)["rows"]
            assert {(r["report"], r["customer_id"]) for r in rows if r["what"] == "Total"} >= {("aging", cid)}
            for report in (("aging",), ("best",), ("statement", "--all")):
                flagged = world.run("report", *report, "--reconcile", *at, code=7)
                assert "differ" in flagged.stderr
            health = world.json("report", "health")
            checks = {r["entity"].split(" (")[0]: r for r in health["rows"]
                      if r["entity"].startswith("reconcile")}
            assert {name: r["status"] for name, r in checks.items()}.items() >= {
                "reconcile aging": "differs", "reconcile sales": "differs",
                "reconcile statement": "differs"}.items()
            assert "QuickBooks" in checks["reconcile aging"]["last_error"]
        finally:
            with engine.begin() as conn:
                conn.execute(sa.update(Invoice).where(Invoice.realm_id == REALM, Invoice.id == inv_id)
                             .values(total_amt=total, balance=bal))
        world.run("report", "reconcile", *at)
        world.run("report", "statement", "--all", "--reconcile", *at)
        health = world.json("report", "health")
        assert all(r["status"] == "ok" for r in health["rows"] if r["entity"].startswith("reconcile"))
    finally:
        engine.dispose()


@pytest.mark.parametrize(("period", "periods"), [(30, 4), (15, 6), (45, 2)])
def test_aging_options_agree_with_quickbooks_aged_receivables_read_by_python_quickbooks(
        world: World, period: int, periods: int) -> None:
    """The same parameters to both: QuickBooks' report as python-quickbooks reads it, qbsync's CLI."""
    as_of = END - timedelta(days=45)
    theirs = world.qb.get_report("AgedReceivables", {"report_date": as_of.isoformat(),
                                                     "aging_period": str(period), "num_periods": str(periods),
                                                     "aging_method": "Report_Date"})
    titles = [c["ColTitle"] for c in theirs["Columns"]["Column"]][1:]

    def rows(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
        for row in node.get("Row", []):
            if row.get("type") == "Data" or ("ColData" in row and "type" not in row):
                yield row
            yield from rows(row.get("Rows", {}))

    quickbooks_rows = {r["ColData"][0]["id"]: [money(c["value"] or 0) for c in r["ColData"][1:]]
                       for r in rows(theirs["Rows"])}
    ours = world.json("report", "aging", "--as-of", as_of.isoformat(), "--aging-period", str(period),
                      "--num-periods", str(periods))
    keys = [c["key"] for c in ours["columns"]]
    shown = keys[keys.index("items") + 1:keys.index("total") + 1]
    assert [c["title"] for c in ours["columns"] if c["key"] in shown] == titles
    assert {r["customer_id"]: [money(r[k]) for k in shown] for r in ours["rows"]} == \
        {cid: v for cid, v in quickbooks_rows.items() if any(v)}
