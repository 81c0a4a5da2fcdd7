"""The pure parts: reading deliveries, Intuit's signature, the schedule, the in-process queue's promises."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from qbsync.fleet.events import CLOUDEVENTS, LEGACY, BadDelivery, parse_delivery, verify
from qbsync.fleet.queue import InProcessQueue
from qbsync.fleet.runner import CDC, FULL, SCHEDULE, Outcome, SyncRequest
from qbsync.fleet.schedule import RealmMarks, due
from qbsync.fleet.status import FleetStatus

# Intuit's published CloudEvents sample (blogs.intuit.com, 2025-11-12), as sent.
INTUIT_SAMPLE = b"""[
  {
    "specversion": "1.0",
    "id": "88cd52aa-33b6-4351-9aa4-47572edbd068",
    "source": "intuit.dsnBgbseACLLRZNxo2dfc4evmEJdxde58xeeYcZliOU=",
    "type": "qbo.account.created.v1",
    "datacontenttype": "application/json",
    "time": "2025-09-10T21:31:25.179851517Z",
    "intuitentityid": "1234",
    "intuitaccountid": "310687",
    "data": {}
  }
]"""
# Intuit's legacy sample (developer.intuit.com, "Managing webhooks notifications").
_ENTITIES = [
    {"name": "Customer", "id": "1", "operation": "Create", "lastUpdated": "2015-10-05T14:42:19-0700"},
    {"name": "Vendor", "id": "1", "operation": "Create", "lastUpdated": "2015-10-05T14:42:19-0700"}]
LEGACY_SAMPLE = json.dumps({"eventNotifications": [
    {"realmId": "1185883450", "dataChangeEvent": {"entities": _ENTITIES}}]}).encode()


def test_intuits_cloudevents_sample_reads_as_one_event_of_its_company() -> None:
    d = parse_delivery(INTUIT_SAMPLE)
    assert d.format == CLOUDEVENTS and d.skipped == 0 and len(d.events) == 1
    e = d.events[0]
    assert (e.event_id, e.realm_id, e.entity, e.entity_id, e.operation) == (
        "88cd52aa-33b6-4351-9aa4-47572edbd068", "310687", "Account", "1234", "Create")
    assert e.occurred_at == datetime(2025, 9, 10, 21, 31, 25, 179851, tzinfo=UTC)


def test_intuits_legacy_sample_reads_with_stable_ids_and_offsets() -> None:
    d = parse_delivery(LEGACY_SAMPLE)
    assert d.format == LEGACY and [e.entity for e in d.events] == ["Customer", "Vendor"]
    assert d.events[0].occurred_at == datetime(2015, 10, 5, 21, 42, 19, tzinfo=UTC)
    assert d.events[0].event_id == parse_delivery(LEGACY_SAMPLE).events[0].event_id  # a redelivery
    assert d.events[0].event_id != d.events[1].event_id


def test_entity_names_actions_and_unreadable_entries() -> None:
    doc = [{"specversion": "1.0", "id": "a", "type": "qbo.salesreceipt.voided.v1", "intuitaccountid": "9",
            "intuitentityid": "5"},
           {"specversion": "1.0", "id": "b", "type": "qbo.customer.merged.v1", "intuitaccountid": "9",
            "intuitentityid": "8", "data": {"deletedid": "7"}},
           {"specversion": "1.0", "id": "c", "type": "something.else", "intuitaccountid": "9"},
           {"specversion": "1.0", "type": "qbo.customer.updated.v1", "intuitaccountid": "9"},
           {"specversion": "1.0", "id": "d", "type": "qbo.customer.updated.v1", "intuitaccountid": "9; DROP"},
           "not an object"]
    d = parse_delivery(json.dumps(doc).encode())
    assert [(e.entity, e.operation) for e in d.events] == [("SalesReceipt", "Void"), ("Customer", "Merge")]
    assert d.skipped == 4
    for bad in (b"", b"{", b'{"x": 1}', b"42"):
        with pytest.raises(BadDelivery):
            parse_delivery(bad)


def test_the_signature_is_intuits_hmac_over_the_exact_bytes() -> None:
    token = "verifier"
    expected = base64.b64encode(hmac.new(token.encode(), INTUIT_SAMPLE, hashlib.sha256).digest()).decode()
    assert verify(INTUIT_SAMPLE, expected, token)
    assert not verify(INTUIT_SAMPLE.replace(b"  ", b" "), expected, token)  # re-serialised: refused
    assert not verify(INTUIT_SAMPLE, None, token) and not verify(INTUIT_SAMPLE, expected, "")
    assert not verify(INTUIT_SAMPLE, "Ā" + expected[1:], token)  # non-ASCII header: refused, no crash


def test_the_schedule() -> None:
    now = datetime(2026, 7, 1, 12, tzinfo=UTC)
    marks = {"new": RealmMarks(None, None, False),
             "fresh": RealmMarks(now - timedelta(minutes=5), now - timedelta(days=1), True),
             "stale": RealmMarks(now - timedelta(minutes=20), now - timedelta(days=8), True),
             "never_reconciled": RealmMarks(now - timedelta(minutes=1), None, True)}
    got = {(r.realm_id, r.kind) for r in due(now, marks, timedelta(minutes=15), timedelta(days=7))}
    assert got == {("new", CDC), ("stale", CDC), ("stale", FULL), ("never_reconciled", FULL)}
    assert all(r.reason == SCHEDULE for r in due(now, marks))


def test_the_in_process_queue_coalesces_and_never_runs_a_company_twice_at_once() -> None:
    running: dict[str, int] = {}
    most = 0
    lock = threading.Lock()
    gate = threading.Event()
    done: list[str] = []

    def perform(req: SyncRequest) -> Outcome:
        nonlocal most
        with lock:
            running[req.realm_id] = running.get(req.realm_id, 0) + 1
            most = max(most, running[req.realm_id])
        gate.wait(5)
        with lock:
            running[req.realm_id] -= 1
            done.append(req.realm_id)
        return Outcome(req, "synced")

    q = InProcessQueue(perform, concurrency=4)
    assert q.request(SyncRequest("A")) and not q.request(SyncRequest("A"))  # coalesced
    q.start()
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while "A" not in q.running() and datetime.now(UTC) < deadline:
        threading.Event().wait(0.01)
    assert q.request(SyncRequest("A"))  # one may wait while one runs...
    assert not q.request(SyncRequest("A"))  # ...but only one
    assert q.request(SyncRequest("B"))
    gate.set()
    while len(done) < 3 and datetime.now(UTC) < deadline:
        threading.Event().wait(0.01)
    q.stop()
    assert sorted(done) == ["A", "A", "B"] and most == 1


def test_a_busy_company_is_queued_again_later_without_holding_the_queue() -> None:
    calls: list[str] = []

    def perform(req: SyncRequest) -> Outcome:
        calls.append(req.realm_id)
        return Outcome(req, "busy", retry=req.realm_id == "A" and calls.count("A") == 1)

    q = InProcessQueue(perform, concurrency=1, retry_wait=0.05)
    q.request(SyncRequest("A"))
    q.request(SyncRequest("B"))
    q.start()
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while calls.count("A") < 2 and datetime.now(UTC) < deadline:
        threading.Event().wait(0.01)
    q.stop()
    assert calls[:2] == ["A", "B"] and calls.count("A") == 2


def test_status_line_gives_times_with_their_zone() -> None:
    """A time for a person carries its zone (docs/cli.md), in the fleet's status line as elsewhere."""
    at = datetime(2026, 12, 5, 22, 24, 23, tzinfo=UTC)
    line = FleetStatus("1", last_event_at=at, last_sync_at=at).line()
    assert line.count("2026-12-05 22:24:23 UTC") == 2, line
