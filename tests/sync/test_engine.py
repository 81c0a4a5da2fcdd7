"""The sync engine against the sandbox in-process: full passes, CDC, caps, deletes, resume, reconcile."""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from qbsync.cache.locks import sync_lock
from qbsync.cache.models import ENTITY_MODELS, SyncState
from qbsync.clock import FixedClock
from qbsync.errors import LockedError, ServerError
from qbsync.qbo.gateway import Page, QueryAnswers
from qbsync.sync.runner import run_sync
from qbsync.sync.status import sync_status
from tests.fakeqbo import InProcessQbo, fail_every
from tests.sync.mirror import mirror_diff


def _company(fake: InProcessQbo, customers: int = 1200, invoices: int = 2100, seed: int = 1) -> None:
    rng = random.Random(seed)
    fake.create("Department", Name="North")
    fake.create("Class", Name="Retail")
    item = fake.create("Item", Name="Widget", Type="Service", UnitPrice=12.5)
    cust = [fake.create("Customer", Active=rng.random() > 0.2,
                        PrimaryEmailAddr={"Address": f"c{i}@example.com"}) for i in range(customers)]
    for i in range(invoices):
        c = rng.choice(cust)
        amt = rng.randint(1, 500)
        inv = fake.create("Invoice", CustomerRef={"value": c["Id"]}, TotalAmt=amt, Balance=amt,
                          Line=[{"Id": "1", "Amount": amt, "DetailType": "SalesItemLineDetail",
                                 "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}, "Qty": 1}}])
        if i % 3 == 0:
            fake.create("Payment", CustomerRef={"value": c["Id"]}, TotalAmt=amt,
                        Line=[{"Amount": amt, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}])
    fake.advance(timedelta(days=1))  # the company existed before the first sync


def _clock(fake: InProcessQbo) -> FixedClock:
    return FixedClock(fake.now)


def _mirrored(engine: sa.Engine, customers: int, invoices: int, **fake: Any) -> InProcessQbo:
    """A company of ``customers`` and ``invoices`` on a fake QuickBooks (``fake``: its options),
    mirrored once into ``engine``."""
    qbo = InProcessQbo(**fake)
    _company(qbo, customers=customers, invoices=invoices)
    run_sync(engine, qbo, clock=_clock(qbo))
    return qbo


def _state(engine: sa.Engine, entity: str) -> dict[str, object]:
    with engine.connect() as conn:
        tbl = SyncState.__table__
        return dict(conn.execute(sa.select(tbl).where(tbl.c.entity == entity)).mappings().one())


def test_full_sync_mirrors_everything_with_minimum_requests(engine: sa.Engine) -> None:
    fake = InProcessQbo()
    _company(fake)
    summary = run_sync(engine, fake, clock=_clock(fake), workers=4)
    assert mirror_diff(engine, fake.realm_id, fake.snapshot()) == []
    sizes = {e: len(objs) for e, objs in fake.snapshot().items() if objs}
    # Exactly the pages each entity needs (an empty entity: one page to see it is empty), plus two
    # requests shared by all: the opening batch (every COUNT, CompanyInfo, Preferences) and the CDC
    # catch-up.
    pages = {e: max(1, math.ceil(sizes.get(e, 0) / 1000)) for e in summary.entities}
    assert {e: c.requests for e, c in summary.entities.items()} == pages
    assert summary.shared_requests == 2
    assert summary.requests == sum(pages.values()) + 2
    assert fake.stats.by_entities[tuple(ENTITY_MODELS)] == 1  # the CDC catch-up, all entities
    assert summary.fetched >= sum(sizes.values()) and summary.deleted == 0
    assert sorted(summary.full) == sorted(ENTITY_MODELS)


def test_incremental_applies_updates_deactivations_voids_and_deletes(engine: sa.Engine) -> None:
    fake = _mirrored(engine, 50, 80)
    fake.advance(timedelta(hours=2))
    snap = fake.snapshot()
    cust_ids = list(snap["Customer"])
    fake.update("Customer", cust_ids[0], PrimaryEmailAddr={"Address": "new@example.com"})
    fake.deactivate("Customer", cust_ids[1])
    inv_ids = list(snap["Invoice"])
    fake.update("Invoice", inv_ids[0], TotalAmt=0, Balance=0, PrivateNote="Voided")
    fake.delete("Invoice", inv_ids[1])
    pay = next(iter(snap["Payment"]))
    fake.delete("Payment", pay)
    fake.create("Customer", DisplayName="Brand New")
    before = fake.stats.requests
    summary = run_sync(engine, fake, clock=_clock(fake))
    assert fake.stats.requests - before == 1  # one CDC answer, nothing else
    assert summary.incremental and not summary.full
    assert summary.deleted == 2 and summary.changed == 4
    assert mirror_diff(engine, fake.realm_id, fake.snapshot()) == []
    with engine.connect() as conn:
        voided = sa.text("SELECT voided FROM invoices WHERE id = :i")
        assert conn.execute(voided, {"i": inv_ids[0]}).scalar_one()
        name = conn.execute(sa.text("SELECT display_name FROM customers WHERE id = :i"),
                            {"i": cust_ids[1]}).scalar_one()
        assert name.endswith(" (deleted)")


def test_cursor_is_the_first_answer_time_and_changes_during_the_sync_are_caught(engine: sa.Engine) -> None:
    fake = InProcessQbo()
    _company(fake, customers=2500, invoices=10)
    first_answer = fake.now  # the opening batch (COUNTs, CompanyInfo, Preferences) goes first
    victims: dict[str, str] = {}

    def meddle(kind: str, f: InProcessQbo) -> None:
        # After a few requests, change a customer already paged and delete an invoice not yet paged.
        if f.stats.requests == 5 and not victims:
            victims["c"] = "5"
            f.update("Customer", "5", PrimaryEmailAddr={"Address": "changed@x.com"})
            f.delete("Invoice", max(f.ids("Invoice"), key=int))

    fake.hooks.append(meddle)
    run_sync(engine, fake, clock=_clock(fake), workers=1)
    assert victims
    assert mirror_diff(engine, fake.realm_id, fake.snapshot()) == []
    assert _state(engine, "Customer")["cursor"] == first_answer
    assert _state(engine, "Invoice")["cursor"] == first_answer


def test_cursor_is_the_earliest_answer_even_when_it_arrives_last(engine: sa.Engine) -> None:
    # The opening requests go out together. The batch is answered first (the earliest server time)
    # but reaches the client only after three pages: the run began at the batch's time, not at the
    # time of the first answer to arrive.
    pages_answered = threading.Semaphore(0)

    class SlowBatch(InProcessQbo):
        def queries(self, statements: Sequence[str]) -> QueryAnswers:
            answer = super().queries(statements)
            for _ in range(3):
                assert pages_answered.acquire(timeout=30)
            return answer

        def query(self, statement: str) -> Page:
            page = super().query(statement)
            pages_answered.release()
            return page

    fake = SlowBatch()
    _company(fake, customers=2500, invoices=1500)
    began = fake.now
    summary = run_sync(engine, fake, clock=_clock(fake), workers=10)
    assert summary.cursor == began
    assert {_state(engine, e)["cursor"] for e in ENTITY_MODELS} == {began}
    assert mirror_diff(engine, fake.realm_id, fake.snapshot()) == []


def test_a_slow_page_of_the_opening_holds_no_other_page_back(engine: sa.Engine) -> None:
    # The COUNTs size the passes as soon as the batch answers, so the remaining pages go out while a
    # page of the opening is still on its way: one slow answer (QuickBooks has a slow tail) does not
    # hold every other request back. Page 1 of Customer answers only once a later page was asked.
    later_page_asked = threading.Event()

    class SlowFirstPage(InProcessQbo):
        def query(self, statement: str) -> Page:
            if "STARTPOSITION 1 " not in statement:
                later_page_asked.set()
            elif "FROM Customer" in statement:
                assert later_page_asked.wait(timeout=10), "nothing else was asked while page 1 was slow"
            return super().query(statement)

    fake = SlowFirstPage()
    _company(fake, customers=2500, invoices=1500)
    # More workers than the company has first pages: the pages held until the round begins count
    # against the fetch backlog (workers + writers), and with fewer workers the first pages can fill
    # it before the COUNTs answer; then the remaining pages wait for the slow answer after all.
    summary = run_sync(engine, fake, clock=_clock(fake), workers=len(ENTITY_MODELS) + 2)
    assert later_page_asked.is_set()
    assert mirror_diff(engine, fake.realm_id, fake.snapshot()) == []
    sizes = {e: len(objs) for e, objs in fake.snapshot().items()}
    assert summary.requests == sum(max(1, math.ceil(sizes.get(e, 0) / 1000)) for e in ENTITY_MODELS) + 2


def test_cdc_cap_is_followed_until_every_change_is_in(engine: sa.Engine) -> None:
    fake = _mirrored(engine, 300, 300)
    fake.advance(timedelta(hours=1))
    snap = fake.snapshot()
    changes = 0
    for cid in snap["Customer"]:
        fake.update("Customer", cid, Notes="touched")
        changes += 1
    for _ in range(4):  # four touches per invoice: only the last version counts
        for iid in snap["Invoice"]:
            fake.update("Invoice", iid, PrivateNote="again")
    changes += len(snap["Invoice"])
    for pid in list(snap["Payment"])[:40]:
        fake.delete("Payment", pid)
        changes += 1
    for _ in range(900):
        fake.create("Estimate", CustomerRef={"value": "5"})
    changes += 900
    fake.advance(timedelta(minutes=1))
    before = fake.stats.requests
    run_sync(engine, fake, clock=_clock(fake))
    assert mirror_diff(engine, fake.realm_id, fake.snapshot()) == []
    assert fake.stats.requests - before <= 2 + math.ceil(changes / 1000) + 3


def test_a_second_with_more_than_a_cdc_answer_is_read_by_query(engine: sa.Engine) -> None:
    fake = _mirrored(engine, 10, 10, tick=timedelta(0))
    fake.advance(timedelta(hours=1))
    for _ in range(1500):  # a bulk import: all in the same second
        fake.create("Invoice", CustomerRef={"value": "5"}, TotalAmt=3)
    fake.advance(timedelta(seconds=5))
    fake.create("Customer", DisplayName="After the import")
    run_sync(engine, fake, clock=_clock(fake))
    assert "query" in fake.calls[-4:]
    assert mirror_diff(engine, fake.realm_id, fake.snapshot()) == []


def test_killed_full_sync_resumes_without_refetching_committed_pages(engine: sa.Engine) -> None:
    fake = InProcessQbo()
    _company(fake, customers=3500, invoices=4200)
    fake.hooks.append(fail_every(6))
    runs = 0
    while True:
        runs += 1
        assert runs < 30
        try:
            run_sync(engine, fake, clock=_clock(fake), workers=3)
            break
        except ServerError:
            continue
    assert runs > 2
    assert mirror_diff(engine, fake.realm_id, fake.snapshot()) == []
    pages = sum(math.ceil(len(v) / 1000) for v in fake.snapshot().values())
    # committed pages are never fetched again: a failed run loses at most its in-flight requests
    # (3 workers) and, when it fails before its round begins, the pages held until then (at most the
    # backlog: workers + writers)
    writers = 4 if engine.dialect.name == "postgresql" else 1
    assert fake.stats.by_kind["query"] <= pages + 1 + (3 + 3 + writers) * runs


def test_rows_sliding_across_page_boundaries_are_found(engine: sa.Engine) -> None:
    fake = InProcessQbo()
    _company(fake, customers=10, invoices=3000)
    done = {"n": 0}

    def delete_early(kind: str, f: InProcessQbo) -> None:
        # after page 1 of invoices, delete invoices from the start: later rows slide to earlier positions
        if kind == "query" and f.calls.count("query") >= 6 and done["n"] < 1:
            done["n"] += 1
            for iid in sorted(f.ids("Invoice"), key=int)[:30]:
                f.delete("Invoice", iid)

    fake.hooks.append(delete_early)
    run_sync(engine, fake, clock=_clock(fake), workers=1)
    assert done["n"] == 1
    assert mirror_diff(engine, fake.realm_id, fake.snapshot()) == []


def test_cursor_older_than_30_days_reconciles_and_removes_vanished_rows(engine: sa.Engine) -> None:
    fake = _mirrored(engine, 30, 40)
    gone = next(iter(fake.ids("Invoice")))
    fake.delete("Invoice", gone)
    fake.forget_deletes()  # QBO forgets deletes after its CDC window
    fake.advance(timedelta(days=31))
    summary = run_sync(engine, fake, clock=_clock(fake))
    assert "Invoice" in summary.full and summary.entities["Invoice"].deleted == 1
    assert mirror_diff(engine, fake.realm_id, fake.snapshot()) == []


def test_server_refusing_an_old_cursor_also_reconciles(engine: sa.Engine) -> None:
    fake = _mirrored(engine, 5, 5)
    client_clock = _clock(fake)  # the client's clock lags: it believes little time has passed
    fake.advance(timedelta(days=40))
    fake.create("Customer", DisplayName="Late")
    summary = run_sync(engine, fake, clock=client_clock)
    assert set(summary.full) >= {"Customer", "Invoice"}
    assert mirror_diff(engine, fake.realm_id, fake.snapshot()) == []


def test_entities_option_syncs_only_those(engine: sa.Engine) -> None:
    fake = InProcessQbo()
    _company(fake, customers=5, invoices=5)
    summary = run_sync(engine, fake, clock=_clock(fake), entities=["customer"])
    assert summary.full == ["Customer"]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM invoices")).scalar_one() == 0
        assert conn.execute(sa.text("SELECT COUNT(*) FROM customers")).scalar_one() == 5


def test_overlapping_sync_is_refused(engine: sa.Engine) -> None:
    fake = InProcessQbo()
    with sync_lock(engine, fake.realm_id), pytest.raises(LockedError) as err:
        run_sync(engine, fake, clock=_clock(fake))
    assert err.value.exit_code == 75
    assert fake.stats.requests == 0
    run_sync(engine, fake, clock=_clock(fake))  # released afterwards


def test_company_name_and_currency_land_in_the_cache_and_refresh_daily(engine: sa.Engine) -> None:
    fake = InProcessQbo(company={"CompanyName": "Hollis Bakery", "Country": "GB"},
                        preferences={"CurrencyPrefs": {"HomeCurrency": {"value": "GBP"}}})
    _company(fake, customers=5, invoices=5)
    run_sync(engine, fake, clock=_clock(fake))
    [status] = sync_status(engine)
    assert status.company_name == "Hollis Bakery"
    assert status.to_json()["company_name"] == "Hollis Bakery"
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT country, currency FROM realms")).one()
    assert tuple(row) == ("GB", "GBP")

    fake.update("CompanyInfo", "1", CompanyName="Hollis Bakery Ltd")
    fake.advance(timedelta(hours=2))

    def company_reads() -> int:
        return sum(n for key, n in fake.stats.by_entities.items() if "CompanyInfo" in key)

    # the full run read both documents in its opening batch, with the COUNTs
    assert fake.stats.by_entities[(*ENTITY_MODELS, "CompanyInfo", "Preferences")] == 1

    before = fake.stats.requests
    summary = run_sync(engine, fake, clock=_clock(fake))  # incremental, info younger than a day: not re-read
    assert fake.stats.requests - before == 1 and company_reads() == 1
    assert summary.shared_requests == 1  # the one CDC, for every entity
    assert sync_status(engine)[0].company_name == "Hollis Bakery"

    fake.advance(timedelta(days=1))
    before = fake.stats.requests
    summary = run_sync(engine, fake, clock=_clock(fake))
    assert fake.stats.requests - before == 2 and company_reads() == 2  # one batch for both documents
    assert fake.stats.by_entities[("CompanyInfo", "Preferences")] == 1
    assert summary.shared_requests == 2 and summary.requests == 2
    assert sync_status(engine)[0].company_name == "Hollis Bakery Ltd"


def test_cdc_split_across_entities_needs_at_most_one_request_over_the_minimum(engine: sa.Engine) -> None:
    # Issue 3 (e)'s shape: the cap falls a little into Payment, then SalesReceipt alone exceeds it.
    fake = InProcessQbo()
    _company(fake, customers=200, invoices=700)  # and 234 payments
    for entity, n in (("Payment", 466), ("SalesReceipt", 1010), ("Estimate", 72)):
        for _ in range(n):
            fake.create(entity, CustomerRef={"value": "5"})
    fake.advance(timedelta(days=1))
    run_sync(engine, fake, clock=_clock(fake))
    fake.advance(timedelta(hours=1))
    snap = fake.snapshot()
    changes = 0
    for entity in ("Customer", "Invoice", "Payment", "SalesReceipt", "Estimate"):
        for oid in list(snap[entity]):
            fake.update(entity, oid, PrivateNote="touched")
            changes += 1
            if changes % 7 == 0:
                fake.advance(timedelta(seconds=1))
    fake.advance(timedelta(minutes=1))
    before = fake.stats.requests
    run_sync(engine, fake, clock=_clock(fake))
    assert mirror_diff(engine, fake.realm_id, fake.snapshot()) == []
    assert fake.stats.requests - before <= 1 + math.ceil(changes / 1000)


def test_a_full_pass_leaves_statistics_for_the_reports_that_follow(engine: sa.Engine) -> None:
    # PostgreSQL plans by statistics, and a table a full pass has just filled has none until
    # autovacuum comes by: the reports run right after (a cron job's, the demo's) would be planned as
    # for a few rows. The sync analyzes what it filled; an incremental run leaves it to autovacuum.
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite plans without statistics")
    fake = InProcessQbo()
    _company(fake, customers=60, invoices=90)

    def analyzed() -> dict[str, Any]:
        with engine.connect() as conn:
            return dict(conn.execute(sa.text(
                "SELECT c.relname, c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relname IN ('customers', 'invoices', 'payments', "
                "'payment_links', 'sales_lines')")).all())

    assert all(n < 0 for n in analyzed().values())  # never analyzed: -1
    run_sync(engine, fake, clock=_clock(fake))
    after = analyzed()
    assert after["customers"] == 60 and after["invoices"] == 90 and after["payments"] == 30
    assert after["payment_links"] == 30 and after["sales_lines"] == 90


def test_statistics_are_gathered_where_missing_or_stale_only() -> None:
    # autovacuum's own threshold: 50 rows and a tenth of the table; never gathered (-1): always
    from qbsync.cache.db import stale_statistics

    written = {"invoices": 900, "sales_lines": 2_000, "payments": 40, "customers": 110, "items": 0}
    known = {"invoices": 10_000.0, "sales_lines": 12_000.0, "payments": -1.0, "customers": 600.0}
    assert stale_statistics(written, known) == ["sales_lines", "payments", "items"]
