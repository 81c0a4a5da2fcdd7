"""The sandbox sends webhooks as Intuit does, over real HTTP to a receiver that checks signatures itself."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from qbsync.sandbox.clock import SandboxClock
from qbsync.sandbox.server import SandboxServer
from qbsync.sandbox.store import Store

from .conftest import REALM, T0, invoice_body, small_company

REALM_B = "4620816365000000002"
TOKEN = "0c6f3a4e-2b7d-4d39-9f1e-5a8c1d2e3f40"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    signature_ok: bool

    @property
    def doc(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A webhook endpoint: verifies ``intuit-signature`` on its own (base64 HMAC-SHA256 of the raw body
    with the verifier token) and answers the scripted statuses in order, then 200."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.received: list[Received] = []
        self.script: list[int] = []
        self.hold: threading.Event | None = None  # when set: requests wait for it before answering
        self.waiting = threading.Event()
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                expected = base64.b64encode(hmac.new(outer.token.encode(), raw, hashlib.sha256).digest())
                got = (self.headers.get("intuit-signature") or "").encode()
                with outer.lock:
                    outer.received.append(
                        Received(
                            {k.lower(): v for k, v in self.headers.items()},
                            raw,
                            hmac.compare_digest(expected, got),
                        )
                    )
                    status = outer.script.pop(0) if outer.script else 200
                if outer.hold is not None:
                    outer.waiting.set()
                    outer.hold.wait(10)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/webhooks"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def events(self) -> list[dict[str, Any]]:
        """Every CloudEvent received, in arrival order."""
        return [ev for r in self.received for ev in r.doc]

    def legacy_entities(self) -> list[tuple[str, dict[str, Any]]]:
        return [
            (n["realmId"], e)
            for r in self.received
            for n in r.doc["eventNotifications"]
            for e in n["dataChangeEvent"]["entities"]
        ]


class Api:
    """The data API over HTTP for one company, with a valid bearer token."""

    def __init__(self, server: SandboxServer, realm: str) -> None:
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Authorization": f"Bearer {server.issue_tokens(realm)['access_token']}",
                "Accept": "application/json",
                "Content-Type": "application/json",
            }
        )
        self.base = f"{server.api_url_v3}/company/{realm}"

    def post(self, resource: str, body: Any, **params: str) -> dict[str, Any]:
        resp = self.session.post(f"{self.base}/{resource}", params=params, data=json.dumps(body), timeout=10)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def customer(self, name: str) -> dict[str, Any]:
        return self.post("customer", {"DisplayName": name})["Customer"]

    def invoice(self, customer: str, amount: float) -> dict[str, Any]:
        return self.post("invoice", invoice_body(customer, amount))["Invoice"]


class Admin:
    def __init__(self, server: SandboxServer) -> None:
        self.base = f"{server.base_url}/_sandbox"

    def __call__(self, method: str, path: str, body: Any = None, **params: str) -> requests.Response:
        return requests.request(method, f"{self.base}/{path}", json=body, params=params, timeout=10)


@pytest.fixture
def two_companies(clock: SandboxClock) -> Store:
    store = Store(clock=clock)
    small_company(store, REALM)
    small_company(store, REALM_B)
    return store


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def srv(two_companies: Store, clock: SandboxClock) -> Iterator[SandboxServer]:
    with SandboxServer(two_companies, clock=clock) as s:
        yield s


def register(srv: SandboxServer, receiver: Receiver, fmt: str = "cloudevents", **knobs: Any) -> None:
    resp = Admin(srv)(
        "POST", "webhooks", {"url": receiver.url, "verifier_token": receiver.token, "format": fmt}
    )
    assert resp.status_code == 200, resp.text
    if knobs:
        resp = Admin(srv)("POST", "webhooks/knobs", knobs)
        assert resp.status_code == 200, resp.text


def settle(srv: SandboxServer) -> None:
    assert srv.webhooks.wait_idle(10), "the webhook sender did not catch up"


# ---- registration ----


def test_nothing_is_recorded_or_sent_without_a_registered_endpoint(
    srv: SandboxServer, receiver: Receiver
) -> None:
    api = Api(srv, REALM)
    cust = api.customer("Before Registration")
    api.invoice(cust["Id"], 50)
    settle(srv)
    assert receiver.received == []
    assert srv.store.outbox.events() == []
    register(srv, receiver)
    settle(srv)
    assert receiver.received == [], "changes made before the subscription are never delivered"


def test_registration_through_the_admin_endpoint(srv: SandboxServer, receiver: Receiver) -> None:
    admin = Admin(srv)
    assert admin("GET", "webhooks").json()["endpoint"] is None
    resp = admin(
        "POST", "webhooks", {"url": receiver.url, "format": "legacy", "entities": "customer,Invoice"}
    )
    assert resp.status_code == 200
    made = resp.json()
    assert len(made["verifier_token"]) == 36, "a token is made when none is given, shown once"
    shown = admin("GET", "webhooks").json()
    assert shown["endpoint"]["format"] == "legacy"
    assert shown["endpoint"]["entities"] == ["Customer", "Invoice"]
    assert made["verifier_token"] not in json.dumps(shown), "the token is a secret: not shown again"
    assert admin("POST", "webhooks", {"url": "ftp://x"}).status_code == 400
    assert admin("POST", "webhooks", {"url": receiver.url, "format": "xml"}).status_code == 400
    assert admin("POST", "webhooks", {"url": receiver.url, "entities": ["TaxCode"]}).status_code == 400
    assert admin("POST", "webhooks/knobs", {"duplicate_rate": 2}).status_code == 400
    assert admin("POST", "webhooks/knobs", {"bogus": 1}).status_code == 400
    assert admin("DELETE", "webhooks").json()["unregistered"] is True
    assert admin("GET", "webhooks").json()["endpoint"] is None


# ---- each operation, CloudEvents ----


def _types(receiver: Receiver) -> list[tuple[str, str, str]]:
    return [(ev["type"], ev["intuitentityid"], ev["intuitaccountid"]) for ev in receiver.events()]


def _every_operation(api: Api) -> list[tuple[str, str, str]]:
    """Create, update, void, delete, deactivate and a batch through the API: (entity, id, operation)
    of what each must send, in order."""
    cust = api.customer("Webhook Customer")
    cust = api.post("customer", {**cust, "Notes": "changed"})["Customer"]
    inv = api.invoice(cust["Id"], 120)
    voided = api.post("invoice", {"Id": inv["Id"], "SyncToken": inv["SyncToken"]}, operation="void")
    api.post("invoice", {"Id": inv["Id"], "SyncToken": voided["Invoice"]["SyncToken"]}, operation="delete")
    api.post("customer", {"Id": cust["Id"], "SyncToken": cust["SyncToken"], "sparse": True, "Active": False})
    items = [
        {"bId": str(n), "operation": "create", "Customer": {"DisplayName": "From Batch"}} for n in (1, 2)
    ]
    batch = api.post("batch", {"BatchItemRequest": items})["BatchItemResponse"]
    assert "Fault" in batch[1]  # the same name twice: 6240, and no event
    return [
        ("Customer", cust["Id"], "Create"),
        ("Customer", cust["Id"], "Update"),
        ("Invoice", inv["Id"], "Create"),
        ("Invoice", inv["Id"], "Void"),
        ("Invoice", inv["Id"], "Delete"),
        ("Customer", cust["Id"], "Delete"),  # made inactive: a list entity's "delete"
        ("Customer", batch[0]["Customer"]["Id"], "Create"),
    ]


VERB = {"Create": "created", "Update": "updated", "Delete": "deleted", "Void": "voided"}


def test_each_api_operation_sends_its_cloudevent(srv: SandboxServer, receiver: Receiver) -> None:
    register(srv, receiver)
    expected = _every_operation(Api(srv, REALM))
    settle(srv)
    assert _types(receiver) == [(f"qbo.{e.lower()}.{VERB[op]}.v1", i, REALM) for e, i, op in expected]
    assert all(r.signature_ok for r in receiver.received)
    ev = receiver.events()[0]
    assert ev["specversion"] == "1.0" and ev["datacontenttype"] == "application/json" and ev["data"] == {}
    assert ev["source"].startswith("intuit.") and len(ev["source"]) == len("intuit.") + 44
    assert datetime.fromisoformat(ev["time"].replace("Z", "+00:00")) == T0
    assert len({e["id"] for e in receiver.events()}) == len(receiver.events()), "every event has its own id"
    assert receiver.received[0].headers["content-type"] == "application/cloudevents+json"


def test_each_api_operation_sends_its_legacy_entity(srv: SandboxServer, receiver: Receiver) -> None:
    register(srv, receiver, fmt="legacy")
    expected = _every_operation(Api(srv, REALM))
    settle(srv)
    got = receiver.legacy_entities()
    assert [(e["name"], e["id"], e["operation"]) for _, e in got] == expected
    assert {realm for realm, _ in got} == {REALM}
    assert all(r.signature_ok for r in receiver.received)
    assert all(e["lastUpdated"] == "2024-03-01T20:00:00.000Z" and "deletedId" not in e for _, e in got)


def test_a_faulted_write_sends_nothing(srv: SandboxServer, receiver: Receiver) -> None:
    register(srv, receiver)
    api = Api(srv, REALM)
    resp = api.session.post(f"{api.base}/customer", data=json.dumps({"DisplayName": "Cool Cars"}), timeout=10)
    assert resp.status_code == 400  # duplicate name
    inv = api.invoice("1", 10)
    resp = api.session.post(
        f"{api.base}/payment",
        data=json.dumps(
            {  # over-applied: refused, rolled back
                "CustomerRef": {"value": "1"},
                "TotalAmt": 500,
                "Line": [{"Amount": 500, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}],
            }
        ),
        timeout=10,
    )
    assert resp.status_code == 400
    settle(srv)
    assert _types(receiver) == [("qbo.invoice.created.v1", inv["Id"], REALM)]


def test_a_payment_sends_its_own_event_and_the_invoice_it_changed(
    srv: SandboxServer, receiver: Receiver
) -> None:
    register(srv, receiver)
    api = Api(srv, REALM)
    inv = api.invoice("2", 80)
    pay = api.post(
        "payment",
        {
            "CustomerRef": {"value": "2"},
            "TotalAmt": 80,
            "Line": [{"Amount": 80, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}],
        },
    )
    settle(srv)
    # The invoice's balance and LinkedTxn changed with a new SyncToken: an Update, as CDC shows it. The
    # customer's balance moved too, but without a new SyncToken: no event (docs/sandbox.md).
    assert _types(receiver) == [
        ("qbo.invoice.created.v1", inv["Id"], REALM),
        ("qbo.payment.created.v1", pay["Payment"]["Id"], REALM),
        ("qbo.invoice.updated.v1", inv["Id"], REALM),
    ]


def test_changes_behind_the_clients_back_and_time_forward_play_send_events(
    srv: SandboxServer, receiver: Receiver, clock: SandboxClock
) -> None:
    from qbsync.sandbox.generator.timeforward import advance

    register(srv, receiver)
    admin = Admin(srv)
    assert (
        admin(
            "POST",
            f"realms/{REALM_B}/Customer",
            {"Id": "3", "DisplayName": "Cool Cars", "Active": True, "Notes": "edited in the UI"},
        ).status_code
        == 200
    )
    settle(srv)
    assert _types(receiver) == [("qbo.customer.updated.v1", "3", REALM_B)]
    result = advance(
        srv.store, REALM, 30, start=T0.date(), contacted_ids=set(), contacted_rate=0.0, other_rate=1.0, seed=3
    )
    settle(srv)
    played = _types(receiver)[1:]
    # every write of the play is an event: a sales receipt, or an invoice, its payment and the invoice paid
    assert len(played) == result["transactions_created"] > 0
    assert {t[0] for t in played} <= {
        "qbo.salesreceipt.created.v1",
        "qbo.invoice.created.v1",
        "qbo.payment.created.v1",
        "qbo.invoice.updated.v1",
    }
    invoices = [t[1] for t in played if t[0] == "qbo.invoice.created.v1"]
    assert sorted(t[1] for t in played if t[0] == "qbo.invoice.updated.v1") == sorted(invoices)


def test_subscribed_entities_only(srv: SandboxServer, receiver: Receiver) -> None:
    Admin(srv)("POST", "webhooks", {"url": receiver.url, "verifier_token": TOKEN, "entities": ["Invoice"]})
    api = Api(srv, REALM)
    api.customer("Not Subscribed")
    inv = api.invoice("1", 5)
    settle(srv)
    assert _types(receiver) == [("qbo.invoice.created.v1", inv["Id"], REALM)]


# ---- legacy payload ----


def test_legacy_payload_groups_entities_by_company(
    srv: SandboxServer, receiver: Receiver, clock: SandboxClock
) -> None:
    register(srv, receiver, fmt="legacy", batch_window=5)
    a, b = Api(srv, REALM), Api(srv, REALM_B)
    ca = a.customer("Legacy A")
    cb = b.customer("Legacy B")
    inv = a.invoice(ca["Id"], 10)
    settle(srv)
    assert receiver.received == [], "the batch window is still open"
    clock.advance(timedelta(seconds=5))
    settle(srv)
    assert len(receiver.received) == 1
    doc = receiver.received[0].doc
    assert [n["realmId"] for n in doc["eventNotifications"]] == [REALM, REALM_B]
    assert receiver.legacy_entities() == [
        (
            REALM,
            {
                "name": "Customer",
                "id": ca["Id"],
                "operation": "Create",
                "lastUpdated": "2024-03-01T20:00:00.000Z",
            },
        ),
        (
            REALM,
            {
                "name": "Invoice",
                "id": inv["Id"],
                "operation": "Create",
                "lastUpdated": "2024-03-01T20:00:00.000Z",
            },
        ),
        (
            REALM_B,
            {
                "name": "Customer",
                "id": cb["Id"],
                "operation": "Create",
                "lastUpdated": "2024-03-01T20:00:00.000Z",
            },
        ),
    ]
    assert receiver.received[0].signature_ok
    assert receiver.received[0].headers["content-type"] == "application/json"


# ---- batching ----


def test_a_cloudevents_delivery_mixes_companies(
    srv: SandboxServer, receiver: Receiver, clock: SandboxClock
) -> None:
    register(srv, receiver, batch_window=2)
    a, b = Api(srv, REALM), Api(srv, REALM_B)
    a.customer("Mixed One")
    b.customer("Mixed Two")
    a.customer("Mixed Three")
    clock.advance(timedelta(seconds=1))
    settle(srv)
    assert receiver.received == []
    clock.advance(timedelta(seconds=1))
    settle(srv)
    assert len(receiver.received) == 1
    assert [ev["intuitaccountid"] for ev in receiver.events()] == [REALM, REALM_B, REALM]
    log = Admin(srv)("GET", "webhooks/deliveries").json()["deliveries"]
    assert log[0]["realms"] == [REALM, REALM_B] and log[0]["state"] == "delivered"
    assert log[0]["body"].encode() == receiver.received[0].body


def test_batch_size_splits_deliveries_and_delay_holds_events(
    srv: SandboxServer, receiver: Receiver, clock: SandboxClock
) -> None:
    register(srv, receiver, batch_size=2, delay=30)
    api = Api(srv, REALM)
    ids = [api.customer(f"Split {i}")["Id"] for i in range(5)]
    settle(srv)
    assert receiver.received == [], "each event waits its delay"
    clock.advance(timedelta(seconds=30))
    settle(srv)
    assert [len(r.doc) for r in receiver.received] == [2, 2, 1]
    assert [ev["intuitentityid"] for ev in receiver.events()] == ids


# ---- retries ----


def test_retries_follow_intuits_schedule_on_the_sandbox_clock(
    srv: SandboxServer, receiver: Receiver, clock: SandboxClock
) -> None:
    register(srv, receiver)
    receiver.script = [500, 503, 404, 500, 500]
    api = Api(srv, REALM)
    first = api.customer("Retried")
    settle(srv)
    assert len(receiver.received) == 2, "the first retry comes at once (0 s)"
    later = api.customer("Queued Behind")
    settle(srv)
    assert len(receiver.received) == 2, "a failing delivery blocks the queue"
    for wait, total in ((10, 3), (20, 4), (30, 5), (300, 6)):
        clock.advance(timedelta(seconds=wait - 1))
        settle(srv)
        assert len(receiver.received) == total - 1, f"nothing before {wait} s"
        clock.advance(timedelta(seconds=1))
        settle(srv)
        assert len(receiver.received) == total + (total == 6)
    # the 6th attempt succeeded, and the event queued behind it went right after
    assert len({r.body for r in receiver.received[:6]}) == 1, (
        "a delivery is retried whole, with the same body"
    )
    assert all(r.signature_ok for r in receiver.received)
    assert [ev["intuitentityid"] for ev in receiver.received[6].doc] == [later["Id"]]
    log = Admin(srv)("GET", "webhooks/deliveries").json()["deliveries"]
    first_log = log[0]
    assert (
        first_log["events"] == [receiver.events()[0]["id"]]
        and receiver.events()[0]["intuitentityid"] == first["Id"]
    )
    assert [a["status"] for a in first_log["attempts"]] == [500, 503, 404, 500, 500, 200]
    times = [datetime.fromisoformat(a["at"]) for a in first_log["attempts"]]
    assert [(t - times[0]).total_seconds() for t in times] == [0, 0, 10, 30, 60, 360]
    assert first_log["state"] == "delivered"


def test_an_endpoint_that_does_not_answer_in_time_is_retried(
    srv: SandboxServer, receiver: Receiver, clock: SandboxClock
) -> None:
    register(srv, receiver, timeout=0.2, max_attempts=2)
    receiver.hold = threading.Event()
    Api(srv, REALM).customer("Slow Endpoint")
    settle(srv)
    receiver.hold.set()
    log = Admin(srv)("GET", "webhooks/deliveries").json()["deliveries"]
    assert [a["status"] for a in log[0]["attempts"]] == [None, None]
    assert "timed out" in log[0]["attempts"][0]["error"]
    assert log[0]["state"] == "abandoned"


def test_an_unreachable_endpoint_is_retried(srv: SandboxServer, clock: SandboxClock) -> None:
    dead = Receiver()
    url = dead.url
    dead.close()
    Admin(srv)("POST", "webhooks", {"url": url, "verifier_token": TOKEN})
    Api(srv, REALM).customer("Nobody Listens")
    settle(srv)
    log = Admin(srv)("GET", "webhooks/deliveries").json()["deliveries"]
    assert [a["status"] for a in log[0]["attempts"]] == [None, None]
    assert log[0]["state"] == "pending" and log[0]["next_attempt"] == (T0 + timedelta(seconds=10)).isoformat()


def test_the_api_call_never_waits_for_the_endpoint(srv: SandboxServer, receiver: Receiver) -> None:
    register(srv, receiver)
    receiver.hold = threading.Event()
    api = Api(srv, REALM)
    api.customer("First")  # its delivery hangs in the receiver
    assert receiver.waiting.wait(10)
    second = api.customer("Second")  # answered while the sender is stuck
    assert second["DisplayName"] == "Second"
    assert len(receiver.received) == 1
    receiver.hold.set()
    settle(srv)
    assert [ev["intuitentityid"] for ev in receiver.events()][-1] == second["Id"]


# ---- duplicates and reordering ----


def _many(srv: SandboxServer, n: int) -> list[str]:
    a, b = Api(srv, REALM), Api(srv, REALM_B)
    return [(a if i % 2 else b).customer(f"Many {i}")["Id"] for i in range(n)]


def test_no_duplicates_and_no_reordering_unless_asked(srv: SandboxServer, receiver: Receiver) -> None:
    register(srv, receiver, batch_size=3)
    _many(srv, 20)
    settle(srv)
    events = receiver.events()
    assert len(events) == 20 and len({e["id"] for e in events}) == 20
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)
    seqs = [e["id"] for e in events]
    assert seqs == [ev.event_id for ev in srv.store.outbox.events()], "delivered in the order they happened"


def test_duplicates_when_asked(srv: SandboxServer, receiver: Receiver) -> None:
    register(srv, receiver, duplicate_rate=0.5, seed=7)
    _many(srv, 20)
    settle(srv)
    ids = [e["id"] for e in receiver.events()]
    repeated = {i for i in ids if ids.count(i) > 1}
    assert len(set(ids)) == 20 and 0 < len(repeated) < 20
    assert all(ids.count(i) == 2 for i in repeated), "a redelivery happens once"
    for i in repeated:  # the copy is the same event, in another delivery
        holders = [n for n, r in enumerate(receiver.received) if i in {e["id"] for e in r.doc}]
        assert len(holders) == 2
        first, second = (next(e for e in receiver.received[n].doc if e["id"] == i) for n in holders)
        assert first == second


def test_out_of_order_when_asked(srv: SandboxServer, receiver: Receiver, clock: SandboxClock) -> None:
    register(srv, receiver, reorder_rate=0.3, seed=1, batch_window=1)
    made = _many(srv, 20)
    clock.advance(timedelta(seconds=1))
    settle(srv)
    events = receiver.events()
    order = [ev.event_id for ev in srv.store.outbox.events() if not ev.copy]
    got = [e["id"] for e in events]
    assert sorted(got) == sorted(order) and len(got) == 20, "every event arrives exactly once"
    assert got != order, "some events were overtaken by later ones"
    assert sorted(e["intuitentityid"] for e in events) == sorted(made)


# ---- persistence across processes ----


def test_changes_from_another_process_on_the_same_file_are_sent(tmp_path: Path, receiver: Receiver) -> None:
    clock = SandboxClock(T0)
    path = str(tmp_path / "sandbox.sqlite3")
    store = Store(path, clock=clock)
    small_company(store, REALM)
    with SandboxServer(store, clock=clock) as srv:
        other = Store(path, clock=SandboxClock(T0))  # e.g. `qbsync sandbox webhooks register --db` ...
        from qbsync.sandbox.webhooks import Endpoint

        other.outbox.register(Endpoint.make(receiver.url, TOKEN))
        settle(srv)  # the server reads the registration from the file
        other2 = Store(path, clock=SandboxClock(T0))  # ... then `qbsync sandbox advance --db`
        other2.put(REALM, "Customer", {"DisplayName": "From Another Process"})
        settle(srv)
        assert [ev["type"] for ev in receiver.events()] == ["qbo.customer.created.v1"]
        assert receiver.received[0].signature_ok


# ---- merge (the UI's operation, offered behind the client's back) ----


def test_merging_customers_moves_their_history_and_sends_one_merge_event(
    srv: SandboxServer, receiver: Receiver
) -> None:
    api = Api(srv, REALM)
    inv = api.invoice("2", 40)  # Bill's Windsurf Shop owes 40, and 25 more through a journal entry
    ar, bad_debt = {"value": "84", "name": "Accounts Receivable (A/R)"}, {"value": "90", "name": "Bad Debts"}
    entry = api.post(
        "journalentry",
        {
            "TxnDate": "2024-02-20",
            "Line": [
                {
                    "Amount": 25,
                    "DetailType": "JournalEntryLineDetail",
                    "JournalEntryLineDetail": {
                        "PostingType": "Debit",
                        "AccountRef": ar,
                        "Entity": {"Type": "Customer", "EntityRef": {"value": "2"}},
                    },
                },
                {
                    "Amount": 25,
                    "DetailType": "JournalEntryLineDetail",
                    "JournalEntryLineDetail": {"PostingType": "Credit", "AccountRef": bad_debt},
                },
            ],
        },
    )["JournalEntry"]
    job = api.post("customer", {"DisplayName": "Bill's Job", "ParentRef": {"value": "2"}})["Customer"]
    register(srv, receiver)
    admin = Admin(srv)
    resp = admin("POST", f"realms/{REALM}/Customer/merge", {"from": "2", "into": "1"})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"entity": "Customer", "merged": "2", "into": "1", "transactions": 2, "jobs": 1}
    settle(srv)
    assert _types(receiver) == [
        ("qbo.invoice.updated.v1", inv["Id"], REALM),  # its customer changed
        ("qbo.journalentry.updated.v1", entry["Id"], REALM),
        ("qbo.customer.updated.v1", job["Id"], REALM),  # the job moved under the survivor
        ("qbo.customer.merged.v1", "1", REALM),
    ]
    assert receiver.events()[-1]["data"] == {"deletedid": "2"}
    store = srv.store
    gone, kept = store.get(REALM, "Customer", "2"), store.get(REALM, "Customer", "1")
    assert gone is not None and kept is not None
    assert gone["Active"] is False and gone["DisplayName"] == "Bill's Windsurf Shop (deleted)"
    assert gone["BalanceWithJobs"] == 0
    assert kept["Balance"] == 65 and kept["BalanceWithJobs"] == 65
    moved_entry = store.get(REALM, "JournalEntry", entry["Id"])
    assert moved_entry is not None
    assert moved_entry["Line"][0]["JournalEntryLineDetail"]["Entity"]["EntityRef"]["value"] == "1"
    moved = store.get(REALM, "Invoice", inv["Id"])
    assert moved is not None and moved["CustomerRef"] == {"value": "1", "name": "Amy's Bird Sanctuary"}
    moved_job = store.get(REALM, "Customer", job["Id"])
    assert moved_job is not None and moved_job["FullyQualifiedName"] == "Amy's Bird Sanctuary:Bill's Job"


def test_a_merge_in_the_legacy_format_carries_deleted_id(srv: SandboxServer, receiver: Receiver) -> None:
    register(srv, receiver, fmt="legacy")
    assert (
        Admin(srv)("POST", f"realms/{REALM_B}/Customer/merge", {"from": "4", "into": "5"}).status_code == 200
    )
    settle(srv)
    ((realm, entity),) = receiver.legacy_entities()
    assert realm == REALM_B
    assert {k: entity[k] for k in ("name", "id", "operation", "deletedId")} == {
        "name": "Customer",
        "id": "5",
        "operation": "Merge",
        "deletedId": "4",
    }


def test_merges_the_ui_would_refuse_are_refused_and_change_nothing(
    srv: SandboxServer, receiver: Receiver
) -> None:
    register(srv, receiver)
    api = Api(srv, REALM)
    job = api.post("customer", {"DisplayName": "Amy's Job", "ParentRef": {"value": "1"}})["Customer"]
    admin = Admin(srv)
    for body, entity, why in (
        ({"from": "1", "into": "1"}, "Customer", "into itself"),
        ({"from": "6", "into": "1"}, "Customer", "inactive"),
        ({"from": "1", "into": job["Id"]}, "Customer", "sub-customer"),
        ({"from": "1", "into": "99"}, "Customer", "no Customer 99"),
        ({"from": "1", "into": "2"}, "Invoice", "not 'Invoice'"),
    ):
        resp = admin("POST", f"realms/{REALM}/{entity}/merge", body)
        assert resp.status_code == 400 and why in resp.json()["error"], resp.text
    settle(srv)
    assert _types(receiver) == [("qbo.customer.created.v1", job["Id"], REALM)]


# ---- the CLI, on the database file a running server serves ----


def test_the_cli_registers_tunes_merges_advances_and_reads_the_log(
    tmp_path: Path, receiver: Receiver
) -> None:
    from click.testing import CliRunner

    from qbsync.cli import cli

    path = str(tmp_path / "sandbox.sqlite3")
    # The CLI's own store follows the wall clock (as `qbsync sandbox advance --db` does beside a running
    # `serve`), so the server's frozen clock starts at the wall clock's now: the CLI's changes happen
    # "a little later" and are due once the test moves the server's clock on.
    clock = SandboxClock(datetime.now(UTC).replace(microsecond=0))
    store = Store(path, clock=clock)
    small_company(store, REALM)
    small_company(store, REALM_B)
    run = CliRunner()

    def ok(*args: str) -> str:
        res = run.invoke(cli, ["sandbox", *args])
        assert res.exit_code == 0, res.output
        return res.output

    with SandboxServer(store, clock=clock) as srv:
        out = ok("webhooks", "register", "--db", path, "--url", receiver.url, "--verifier-token", TOKEN)
        assert receiver.url in out and TOKEN not in out
        assert "batch_window: 2.0" in ok("webhooks", "knobs", "--db", path, "--batch-window", "2")
        settle(srv)
        Api(srv, REALM).customer("Through The API")
        ok("merge", "--db", path, "--realm", REALM_B, "--from", "3", "--into", "4")
        contacted = tmp_path / "contacted.txt"
        contacted.write_text("1\n", encoding="utf-8")
        ok(
            "advance",
            "--db",
            path,
            "--realm",
            REALM,
            "--days",
            "5",
            "--start",
            "2024-03-02",
            "--contacted",
            str(contacted),
            "--contacted-rate",
            "1",
            "--other-rate",
            "0",
        )
        settle(srv)
        assert receiver.received == [], "the batch window (2 s on the sandbox clock) is still open"
        clock.advance(timedelta(seconds=60))
        settle(srv)
        types = [ev["type"] for ev in receiver.events()]
        assert types[0] == "qbo.customer.created.v1" and "qbo.customer.merged.v1" in types
        assert {ev["intuitaccountid"] for ev in receiver.events()} == {REALM, REALM_B}
        assert any(t in types for t in ("qbo.salesreceipt.created.v1", "qbo.invoice.created.v1"))
        assert all(r.signature_ok for r in receiver.received)
        log = json.loads(ok("webhooks", "log", "--db", path, "--format", "json"))
        assert [d["state"] for d in log["deliveries"]] == ["delivered"] * len(receiver.received)
        assert sum(len(d["events"]) for d in log["deliveries"]) == len(types)
        assert "Webhook deliveries" in ok("webhooks", "log", "--db", path)
        shown = json.loads(ok("webhooks", "show", "--db", path, "--format", "json"))
        assert shown["endpoint"]["url"] == receiver.url and TOKEN not in json.dumps(shown)
        assert "dropped" in ok("webhooks", "unregister", "--db", path)
        settle(srv)
        Api(srv, REALM).customer("After Unregister")
        clock.advance(timedelta(seconds=5))
        settle(srv)
        assert len([ev for ev in receiver.events() if ev["type"] == "qbo.customer.created.v1"]) == 1
    bad = run.invoke(cli, ["sandbox", "webhooks", "register", "--db", path, "--url", "not a url"])
    assert bad.exit_code == 2 and "not an http(s) URL" in bad.output
    bad = run.invoke(cli, ["sandbox", "merge", "--db", path, "--realm", REALM, "--from", "1", "--into", "1"])
    assert bad.exit_code == 2 and "into itself" in bad.output
