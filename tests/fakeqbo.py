"""QuickBooks in the test's own process: the sandbox behind the ``QboGateway`` protocol, no HTTP.

``InProcessQbo`` answers sync and write-back with the sandbox's store, query parser, ledger and CDC
(``qbsync.sandbox.api.DataApi``, what ``qbsync sandbox serve`` answers over HTTP), and raises what
the real client raises for a fault (``qbsync.qbo.faults``). So the code base has one QBO query parser,
the sandbox's, and a test that needs QuickBooks in-process gets its real behaviour: SyncTokens and
5010, the " (deleted)" suffix, balances kept by the ledger, the balance refusal, CDC's cap and
deleted stubs, requestid idempotency.

What a test needs beyond QuickBooks is here too: changes "behind the client's back" (``create``,
``update``, ``delete``, ``write`` through the ledger as the QuickBooks UI would), a server clock that
moves ``tick`` after every request, ``hooks`` run before each request (may change data or raise),
and write-back's failures: batch answers lost after they ran, spurious 5010s, refusals.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from qbsync.cache.models import ENTITIES
from qbsync.errors import ApiError
from qbsync.qbo import querybuild
from qbsync.qbo.client import parse_server_time
from qbsync.qbo.faults import batch_item_error, error_from_response
from qbsync.qbo.gateway import CdcResult, JsonDict, Page, QueryAnswers, RequestStats
from qbsync.sandbox import apifault
from qbsync.sandbox.api import DataApi
from qbsync.sandbox.clock import SandboxClock
from qbsync.sandbox.query import parse
from qbsync.sandbox.store import Store

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
Hook = Callable[[str, "InProcessQbo"], None]


class InProcessQbo:
    """A sandbox company as a ``QboGateway``. ``hooks`` run before every request with its kind
    ("query", "count", "cdc", "read", "batch", "update") and may raise (the request then fails before
    it runs) or change data; ``lose_answer[n]`` is raised after the n-th batch ran (its answer lost);
    ``stale_once`` (customer Ids) answers the next update of each with a 5010 without writing;
    ``refuse[id] = (code, message)`` answers updates of that customer with that validation fault."""

    def __init__(self, realm_id: str = "4620816365000000001", *, now: datetime = T0,
                 tick: timedelta = timedelta(seconds=1), company: JsonDict | None = None,
                 preferences: JsonDict | None = None) -> None:
        self.realm_id = realm_id
        self.clock = SandboxClock(now)
        self.store = Store(clock=self.clock)
        self.store.create_realm(realm_id, tz_offset="-07:00",
                                company_info=company or {"CompanyName": "Fake Co", "Country": "US"},
                                preferences=preferences or {"CurrencyPrefs": {
                                    "HomeCurrency": {"value": "USD"}}})
        self.api = DataApi(self.store)
        self.tick = tick
        self.stats = RequestStats()
        self.hooks: list[Hook] = []
        self.calls: list[str] = []
        self.batch_calls: list[list[JsonDict]] = []
        self.before_batch: dict[int, Callable[[Any, Sequence[JsonDict]], None]] = {}
        self.lose_answer: dict[int, ApiError] = {}
        self.stale_once: set[str] = set()
        self.refuse: dict[str, tuple[str, str]] = {}
        self.writes: list[JsonDict] = []  # every sparse update the client sent that changed something
        self._lock = threading.RLock()

    # ---- the server clock ----

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def advance(self, delta: timedelta) -> None:
        self.clock.advance(delta)

    # ---- changes behind the client's back (the QuickBooks UI) ----

    def get(self, entity: str, id_: str) -> JsonDict:
        found = self.store.get(self.realm_id, entity, id_)
        assert found is not None, f"no {entity} {id_}"
        return found

    def ids(self, entity: str) -> list[str]:
        """Ids of every ``entity`` QuickBooks holds (inactive ones included), in Id order."""
        return sorted(self.snapshot([entity]).get(entity, {}), key=int)

    def create(self, entity: str, **fields: Any) -> JsonDict:
        """A new object as given (no business rules: a test states what QuickBooks would hold)."""
        obj: JsonDict = dict(fields)
        if ENTITIES[entity].name_list:
            obj.setdefault("Active", True)
            key = "DisplayName" if entity == "Customer" else "Name"
            if key not in obj:
                obj["Id"] = self.store.next_id(self.realm_id, entity)
                obj[key] = f"{entity} {obj['Id']}"
        else:
            obj.setdefault("TxnDate", "2025-05-01")
            obj.setdefault("TotalAmt", 10)
        return self.store.put(self.realm_id, entity, obj)

    def update(self, entity: str, id_: str, **fields: Any) -> JsonDict:
        """An edit: the fields change, SyncToken and LastUpdatedTime move."""
        return self.store.put(self.realm_id, entity, {**self.get(entity, id_), **fields})

    def deactivate(self, entity: str, id_: str) -> JsonDict:
        key = "DisplayName" if entity == "Customer" else "Name"
        return self.update(entity, id_, Active=False, **{key: self.get(entity, id_)[key] + " (deleted)"})

    def delete(self, entity: str, id_: str) -> None:
        assert not ENTITIES[entity].name_list, "name lists are deactivated, not deleted"
        self.store.delete(self.realm_id, entity, id_)

    def forget_deletes(self) -> None:
        """QuickBooks forgets deleted transactions once its CDC window has passed."""
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM tombstones WHERE realm = ?", (self.realm_id,))

    def write(self, entity: str, body: JsonDict, operation: str | None = None) -> JsonDict:
        """A change through the sandbox's business rules (balances, 5010, suffixes), as the UI makes it."""
        return self.api.ledger.write(self.realm_id, entity, body, operation)

    def snapshot(self, entities: Sequence[str] | None = None) -> dict[str, dict[str, JsonDict]]:
        return snapshot(self.store, self.realm_id, entities)

    # ---- the gateway ----

    def _request(self, kind: str, call: Callable[[], Any], entities: Sequence[str] = ()) -> JsonDict:
        """Hooks, counters, the call, then the clock's tick; a fault becomes the client's error."""
        for hook in list(self.hooks):
            hook(kind, self)
        with self._lock:
            self.stats.requests += 1
            self.stats.by_kind[kind] = self.stats.by_kind.get(kind, 0) + 1
            self.stats.count(entities)
            self.calls.append(kind)
        try:
            reply = call()
        except apifault.ApiFault as fault:
            body = self.api.fault_body(self.realm_id, fault).encode()
            raise error_from_response(fault.status, body, {}) from None
        finally:
            if self.tick:
                self.clock.advance(self.tick)
        doc: JsonDict = json.loads(reply.body)
        return doc

    def _time(self, doc: JsonDict) -> datetime:
        found = parse_server_time(doc.get("time"))
        assert found is not None
        return found

    def query(self, statement: str) -> Page:
        doc = self._request("query", lambda: self.api.query(self.realm_id, statement),
                            (querybuild.entity_of(statement),))
        answer = doc.get("QueryResponse") or {}
        rows = next((v for v in answer.values() if isinstance(v, list)), [])
        return Page(rows=rows, server_time=self._time(doc))

    def count(self, entity: str, where: str | None = None) -> int:
        statement = querybuild.count(entity, where)
        doc = self._request("count", lambda: self.api.query(self.realm_id, statement), (entity,))
        return int(doc["QueryResponse"]["totalCount"])

    def cdc(self, entities: Sequence[str], changed_since: datetime) -> CdcResult:
        since = querybuild.qbo_datetime(changed_since)
        doc = self._request("cdc", lambda: self.api.cdc(self.realm_id, ",".join(entities), since), entities)
        changes: dict[str, list[JsonDict]] = {e: [] for e in entities}
        for part in doc["CDCResponse"][0]["QueryResponse"]:
            for entity, rows in part.items():
                if isinstance(rows, list):
                    changes[entity] = rows
        return CdcResult(changes=changes, server_time=self._time(doc))

    def read(self, entity: str, id_: str) -> JsonDict:
        doc = self._request("read", lambda: self.api.read(self.realm_id, entity.lower(), id_), (entity,))
        found: JsonDict = doc[entity]
        return found

    def _seen(self, request_id: str | None) -> JsonDict | None:
        """The answer QuickBooks gave before to a POST with this requestid (it is not run again)."""
        seen = self.store.remembered(self.realm_id, request_id) if request_id else None
        if seen is None:
            return None
        with self._lock:
            self.stats.requests += 1
        doc: JsonDict = json.loads(seen[1])
        return doc

    def _remember(self, request_id: str | None, doc: JsonDict) -> None:
        if request_id:
            self.store.remember(self.realm_id, request_id, 200, json.dumps(doc))

    def _tokens(self, bodies: Sequence[JsonDict | None]) -> dict[str, str]:
        out = {}
        for body in bodies:
            found = self.store.get(self.realm_id, "Customer", str(body.get("Id"))) if body else None
            if found is not None:
                out[str(found["Id"])] = str(found["SyncToken"])
        return out

    def batch(self, items: Sequence[JsonDict], request_id: str | None = None) -> list[JsonDict]:
        with self._lock:
            self.batch_calls.append(json.loads(json.dumps(list(items))))
            n = len(self.batch_calls)
        seen = self._seen(request_id)
        if seen is not None:
            return list(seen["BatchItemResponse"])
        if n in self.before_batch:
            self.before_batch[n](self, items)  # may raise: then nothing was executed
        answers: list[JsonDict] = []
        run: list[JsonDict] = []
        for item in items:
            refused = self._refused(item)
            if refused is None:
                run.append(item)
            else:
                answers.append({"bId": item["bId"], "Fault": refused.fault()})
        before = self._tokens([i.get("Customer") for i in run])
        body = json.dumps({"BatchItemRequest": run}).encode()
        doc = self._request("batch", lambda: self.api.batch(self.realm_id, body) if run else _Empty())
        answers.extend(doc.get("BatchItemResponse", []))
        self._note_writes([i.get("Customer") for i in run], before)
        by_bid = {str(a.get("bId")): a for a in answers}
        out = [by_bid[str(i["bId"])] for i in items]
        self._remember(request_id, {"BatchItemResponse": out})
        if n in self.lose_answer:
            raise self.lose_answer[n]
        return out

    def sparse_update(self, entity: str, body: JsonDict, request_id: str) -> JsonDict:
        seen = self._seen(request_id)
        if seen is not None:
            found: JsonDict = seen[entity]
            return found
        refused = self._refused({entity: body, "operation": "update"})
        if refused is not None:
            raise error_from_response(refused.status, json.dumps({"Fault": refused.fault()}).encode(), {})
        customer = body if entity == "Customer" else None
        before = self._tokens([customer])
        raw = json.dumps(body).encode()
        doc = self._request("update", lambda: self.api.write(self.realm_id, entity.lower(), raw, None, None))
        self._note_writes([customer], before)
        self._remember(request_id, doc)
        found = doc[entity]
        return found

    def _refused(self, item: JsonDict) -> apifault.ApiFault | None:
        body = item.get("Customer") if item.get("operation") == "update" else None
        if body is None:
            return None
        cid = str(body.get("Id"))
        if cid in self.stale_once:
            self.stale_once.discard(cid)
            return apifault.stale("Someone")
        if cid in self.refuse:
            code, message = self.refuse[cid]
            return apifault.ApiFault(400, code, message, message)
        return None

    def _note_writes(self, bodies: Sequence[JsonDict | None], before: dict[str, str]) -> None:
        after = self._tokens(bodies)
        self.writes.extend(dict(b) for b in bodies if b is not None and str(b.get("Id")) in before
                           and after.get(str(b["Id"])) != before[str(b["Id"])])

    def queries(self, statements: Sequence[str]) -> QueryAnswers:
        """Several statements in one batch request per 30, as the client sends COUNTs and the company."""
        answers: list[JsonDict] = []
        times: list[datetime] = []
        for start in range(0, len(statements), 30):
            part = statements[start:start + 30]
            body = json.dumps({"BatchItemRequest": [{"bId": str(i), "Query": q}
                                                    for i, q in enumerate(part)]}).encode()
            doc = self._request("batch", functools.partial(self.api.batch, self.realm_id, body),
                                [querybuild.entity_of(q) for q in part])
            for item in doc["BatchItemResponse"]:
                err = batch_item_error(item)
                if err is not None:
                    raise err
                answers.append(dict(item.get("QueryResponse") or {}))
            times.append(self._time(doc))
        return QueryAnswers(answers, min(times))

    def company_info(self) -> JsonDict:
        return self.read("CompanyInfo", self.realm_id)

    def preferences(self) -> JsonDict:
        return self.read("Preferences", "1")

    # ---- for assertions ----

    def write_batches(self) -> list[list[JsonDict]]:
        """The batch calls that carried updates."""
        return [c for c in self.batch_calls if any(i.get("operation") == "update" for i in c)]


class _Empty:
    """The answer to a batch whose every item was refused before it ran."""

    body = '{"BatchItemResponse":[]}'


def snapshot(store: Store, realm_id: str,
             entities: Sequence[str] | None = None) -> dict[str, dict[str, JsonDict]]:
    """Everything the sandbox holds of the mirrored entities (inactive included), per entity and Id."""
    out: dict[str, dict[str, JsonDict]] = {}
    for entity in entities or list(ENTITIES):
        objs: dict[str, JsonDict] = {}
        start = 1
        while True:
            statement = querybuild.select(entity, start=start, max_results=querybuild.MAX_RESULTS,
                                          include_inactive=ENTITIES[entity].name_list)
            texts = store.run_query(realm_id, parse(statement)).texts
            objs.update((str(o["Id"]), o) for o in map(json.loads, texts))
            if len(texts) < querybuild.MAX_RESULTS:
                break
            start += querybuild.MAX_RESULTS
        out[entity] = objs
    return out


def fail_every(n: int, kinds: tuple[str, ...] = ("query", "count", "cdc")) -> Hook:
    """A hook raising ServerError on every n-th request of ``kinds`` (a client whose retries gave up)."""
    from qbsync.errors import ServerError

    seen = {"n": 0}

    def hook(kind: str, qbo: InProcessQbo) -> None:
        if kind in kinds:
            seen["n"] += 1
            if seen["n"] % n == 0:
                raise ServerError("injected 503", status=503)

    return hook
