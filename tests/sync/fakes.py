"""An in-process, dict-backed QBO for sync tests: paging, COUNT, CDC with its cap, deletes, faults."""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from qbsync.cache.models import ENTITIES
from qbsync.errors import FaultDetail, ServerError, ValidationError
from qbsync.qbo.gateway import CdcResult, JsonDict, Page, QueryAnswers, RequestStats

CDC_CAP = 1000
T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
TZ = "-07:00"

_SELECT = re.compile(
    r"SELECT \* FROM (?P<entity>\w+)(?: WHERE (?P<where>.*?))?(?: ORDERBY (?P<order>[\w.]+))?"
    r"(?: STARTPOSITION (?P<start>\d+))?(?: MAXRESULTS (?P<max>\d+))?$", re.IGNORECASE)
_COUNT = re.compile(r"SELECT COUNT\(\*\) FROM (?P<entity>\w+)(?: WHERE (?P<where>.*))?$", re.IGNORECASE)
_ENTITY = re.compile(r"\bFROM (?P<entity>\w+)", re.IGNORECASE)
_COND = re.compile(r"MetaData\.LastUpdatedTime (?P<op>>=|<|=) '(?P<t>[^']+)'", re.IGNORECASE)


def qbo_time(t: datetime) -> str:
    local = t.astimezone(datetime.strptime(TZ, "%z").tzinfo)
    return local.isoformat(timespec="seconds")


def _parse(t: str) -> datetime:
    return datetime.fromisoformat(t).astimezone(UTC)


class FakeQbo:
    """QBO in a dict. ``now`` is the server clock; ``tick`` advances it on every request so objects
    written between requests get distinct LastUpdatedTimes. ``hook(kind, fake)`` runs before each
    request (change data mid-sync, raise faults, count calls)."""

    def __init__(self, realm_id: str = "4620816365000000001", *, now: datetime = T0,
                 tick: timedelta = timedelta(seconds=1)) -> None:
        self.realm_id = realm_id
        self.stats = RequestStats()
        self.now = now
        self.tick = tick
        self.objects: dict[str, dict[str, JsonDict]] = {}
        self.tombstones: dict[str, dict[str, JsonDict]] = {}
        self.hooks: list[Callable[[str, FakeQbo], None]] = []
        self.calls: list[str] = []
        self._next_id = 1
        self.company: JsonDict = {"Id": "1", "CompanyName": "Fake Co", "Country": "US"}
        self.prefs: JsonDict = {"CurrencyPrefs": {"HomeCurrency": {"value": "USD"}}}
        self._lock = threading.RLock()

    # ---- data changes "behind the client's back" ----

    def _stamp(self, obj: JsonDict, created: bool) -> None:
        meta = obj.setdefault("MetaData", {})
        if created:
            meta["CreateTime"] = qbo_time(self.now)
        meta["LastUpdatedTime"] = qbo_time(self.now)

    def create(self, entity: str, **fields: Any) -> JsonDict:
        with self._lock:
            obj: JsonDict = {"Id": str(self._next_id), "SyncToken": "0", "domain": "QBO", **fields}
            self._next_id += 1
            if ENTITIES[entity].name_list:
                obj.setdefault("Active", True)
                if entity == "Customer":
                    obj.setdefault("DisplayName", f"Customer {obj['Id']}")
                else:
                    obj.setdefault("Name", f"{entity} {obj['Id']}")
            else:
                obj.setdefault("TxnDate", "2025-05-01")
                obj.setdefault("TotalAmt", 10)
            self._stamp(obj, True)
            self.objects.setdefault(entity, {})[obj["Id"]] = obj
            return copy.deepcopy(obj)

    def update(self, entity: str, id_: str, **fields: Any) -> JsonDict:
        with self._lock:
            obj = self.objects[entity][id_]
            obj.update(fields)
            obj["SyncToken"] = str(int(obj["SyncToken"]) + 1)
            self._stamp(obj, False)
            return copy.deepcopy(obj)

    def deactivate(self, entity: str, id_: str) -> JsonDict:
        obj = self.objects[entity][id_]
        key = "DisplayName" if entity == "Customer" else "Name"
        return self.update(entity, id_, Active=False, **{key: obj[key] + " (deleted)"})

    def delete(self, entity: str, id_: str) -> None:
        with self._lock:
            assert not ENTITIES[entity].name_list
            del self.objects[entity][id_]
            self.tombstones.setdefault(entity, {})[id_] = {
                "domain": "QBO", "status": "Deleted", "Id": id_,
                "MetaData": {"LastUpdatedTime": qbo_time(self.now)}}

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self.now += delta

    # ---- the gateway ----

    def _request(self, kind: str, entities: Sequence[str] = ()) -> datetime:
        for hook in list(self.hooks):
            hook(kind, self)
        with self._lock:
            self.stats.requests += 1
            self.stats.by_kind[kind] = self.stats.by_kind.get(kind, 0) + 1
            self.stats.count(entities)
            self.calls.append(kind)
            answered = self.now
            self.now += self.tick
            return answered

    def _visible(self, entity: str, where: str | None) -> list[JsonDict]:
        rows = list(self.objects.get(entity, {}).values())
        where = where or ""
        if ENTITIES[entity].name_list and "active" not in where.lower():
            rows = [r for r in rows if r.get("Active", True)]
        for m in _COND.finditer(where):
            t = _parse(m["t"])
            op = m["op"]

            def keep(r: JsonDict, t: datetime = t, op: str = op) -> bool:
                u = _parse(r["MetaData"]["LastUpdatedTime"])
                return u >= t if op == ">=" else (u < t if op == "<" else u == t)

            rows = [r for r in rows if keep(r)]
        return sorted(rows, key=lambda r: int(r["Id"]))

    def query(self, statement: str) -> Page:
        m = _SELECT.match(statement.strip())
        assert m, f"fake cannot parse {statement!r}"
        answered = self._request("query", (m["entity"],))
        assert (m["order"] or "Id") == "Id", "pages must be ordered explicitly by Id"
        with self._lock:
            rows = self._visible(m["entity"], m["where"])
            start = int(m["start"] or 1)
            size = int(m["max"] or 100)
            assert size <= 1000
            page = copy.deepcopy(rows[start - 1:start - 1 + size])
        return Page(rows=page, server_time=answered)

    def count(self, entity: str, where: str | None = None) -> int:
        self._request("count", (entity,))
        with self._lock:
            return len(self._visible(entity, where))

    def cdc(self, entities: Sequence[str], changed_since: datetime) -> CdcResult:
        answered = self._request("cdc", entities)
        since = changed_since.replace(microsecond=0)  # the wire carries whole seconds
        if since < answered - timedelta(days=30):
            raise ValidationError("QuickBooks rejected the request", status=400, errors=[FaultDetail(
                "4002", "Invalid Request",
                f"Operation cdc with changedSince date {since} which is older than fixed days "
                "is not supported.")])
        left = CDC_CAP
        changes: dict[str, list[JsonDict]] = {}
        with self._lock:
            for entity in entities:
                found = [o for o in self.objects.get(entity, {}).values()] + \
                    list(self.tombstones.get(entity, {}).values())
                found = [o for o in found if _parse(o["MetaData"]["LastUpdatedTime"]) >= since]
                found.sort(key=lambda o: (_parse(o["MetaData"]["LastUpdatedTime"]), int(o["Id"])))
                changes[entity] = copy.deepcopy(found[:left])
                left -= len(changes[entity])
        return CdcResult(changes=changes, server_time=answered)

    def read(self, entity: str, id_: str) -> JsonDict:
        raise NotImplementedError

    def batch(self, items: Sequence[JsonDict], request_id: str | None = None) -> list[JsonDict]:
        raise NotImplementedError

    def sparse_update(self, entity: str, body: JsonDict, request_id: str) -> JsonDict:
        raise NotImplementedError

    def queries(self, statements: Sequence[str]) -> QueryAnswers:
        """COUNTs and the company singletons, as the batch endpoint answers them (one request per 30)."""
        answers: list[JsonDict] = []
        times: list[datetime] = []
        for start in range(0, len(statements), 30):
            part = statements[start:start + 30]
            names = [m["entity"] for m in (_ENTITY.search(q) for q in part) if m]
            times.append(self._request("batch", names))
            with self._lock:
                for q in part:
                    counted = _COUNT.match(q.strip())
                    if counted:
                        rows = self._visible(counted["entity"], counted["where"])
                        answers.append({"totalCount": len(rows)})
                    elif "FROM CompanyInfo" in q:
                        answers.append({"CompanyInfo": [copy.deepcopy(self.company)]})
                    elif "FROM Preferences" in q:
                        answers.append({"Preferences": [copy.deepcopy(self.prefs)]})
                    else:
                        raise AssertionError(f"the fake's batch answers COUNTs and the company, not {q!r}")
        return QueryAnswers(answers, min(times))

    def company_info(self) -> JsonDict:
        self._request("read", ("CompanyInfo",))
        with self._lock:
            return copy.deepcopy(self.company)

    def preferences(self) -> JsonDict:
        self._request("read", ("Preferences",))
        with self._lock:
            return copy.deepcopy(self.prefs)

    # ---- helpers for assertions ----

    def snapshot(self) -> dict[str, dict[str, JsonDict]]:
        """Every object QBO holds, per entity and Id (inactive ones included)."""
        with self._lock:
            return {e: copy.deepcopy(objs) for e, objs in self.objects.items() if objs}


def fail_every(n: int, kinds: tuple[str, ...] = ("query", "count", "cdc")) -> Callable[[str, FakeQbo], None]:
    """A hook raising ServerError on every n-th request of ``kinds`` (a client whose retries gave up)."""
    seen = {"n": 0}

    def hook(kind: str, fake: FakeQbo) -> None:
        if kind in kinds:
            seen["n"] += 1
            if seen["n"] % n == 0:
                raise ServerError("injected 503", status=503)

    return hook
