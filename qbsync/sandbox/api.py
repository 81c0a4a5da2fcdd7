"""The data API's endpoints as plain functions: query, cdc, read, write, batch (no HTTP here)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from qbsync.sandbox import apifault, catalog, wire
from qbsync.sandbox.ledger import Ledger
from qbsync.sandbox.query import parse
from qbsync.sandbox.reports import ReportsApi
from qbsync.sandbox.store import Store

CDC_MAX_OBJECTS = 1000
CDC_MAX_AGE = timedelta(days=30)
BATCH_MAX_ITEMS = 30


@dataclass
class Reply:
    """A JSON body already rendered (objects are spliced in as stored text) and the rows it carries."""

    status: int
    body: str
    rows: int = 0


class DataApi:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.ledger = Ledger(store)
        self.reports = ReportsApi(store)

    def _time(self, realm: str) -> str:
        return wire.fmt_body_time(self.store.clock.now(), self.store.tz(realm))

    def fault_body(self, realm: str | None, fault: apifault.ApiFault) -> str:
        body: dict[str, Any] = {"Fault": fault.fault()}
        if realm is not None and self.store.has_realm(realm):
            body["time"] = self._time(realm)
        return wire.dumps(body)

    # ---- query ----

    def _query_response(self, realm: str, text: str) -> tuple[str, int]:
        q = parse(text)
        res = self.store.run_query(realm, q)
        if q.count:
            return f'{{"totalCount":{res.count or 0}}}', 0
        if not res.texts:
            return "{}", 0
        rows = ",".join(res.texts)
        return (f'{{"{q.entity}":[{rows}],"startPosition":{q.start},"maxResults":{len(res.texts)}}}',
                len(res.texts))

    def query(self, realm: str, text: str) -> Reply:
        inner, rows = self._query_response(realm, text)
        return Reply(200, f'{{"QueryResponse":{inner},"time":"{self._time(realm)}"}}', rows)

    # ---- cdc ----

    def cdc(self, realm: str, entities: str, changed_since: str) -> Reply:
        if not entities:
            raise apifault.required("entities")
        if not changed_since:
            raise apifault.required("changedSince")
        names = []
        for raw in entities.split(","):
            if not raw.strip():
                continue
            ent = catalog.qbo_entity(raw)
            if ent is None or not catalog.in_cdc(ent):
                raise apifault.query_invalid(f"invalid context declaration: {raw.strip()}")
            names.append(ent)
        try:
            since = wire.parse_time(changed_since, self.store.tz(realm))
        except ValueError:
            raise apifault.ApiFault(400, "2070", "Invalid Date",
                                    f"changedSince {changed_since} is not a date "
                                    "or date-time", element="changedSince") from None
        if since < self.store.clock.now() - CDC_MAX_AGE:
            raise apifault.cdc_too_old(changed_since)
        left = CDC_MAX_OBJECTS
        parts = []
        total = 0
        for ent in names:
            found = self.store.changed_since(realm, ent, since, left) if left > 0 else []  # none if not held
            left -= len(found)
            total += len(found)
            if found:
                rows = ",".join(t for _, t in found)
                parts.append(f'{{"{ent}":[{rows}],"startPosition":1,"maxResults":{len(found)}}}')
            else:
                parts.append("{}")
        if not parts:
            parts = ["{}"]
        body = f'{{"CDCResponse":[{{"QueryResponse":[{",".join(parts)}]}}],"time":"{self._time(realm)}"}}'
        return Reply(200, body, total)

    # ---- reports ----

    def report(self, realm: str, name: str, params: dict[str, str]) -> Reply:
        """``GET /reports/{name}``: the body is the report itself (no envelope, no ``time``), as recorded."""
        body = self.reports.run(realm, name, params)
        return Reply(200, json.dumps(body, separators=(",", ":"), ensure_ascii=False), 1)

    # ---- reads ----

    def read(self, realm: str, entity_path: str, id_: str | None) -> Reply:
        entity = catalog.qbo_entity(entity_path)
        if entity is None:
            raise apifault.unsupported(f"/v3/company/{realm}/{entity_path}")
        if entity in catalog.SINGLETONS:
            id_ = "1"  # companyinfo/{realmId} and preferences both name the one record
        if id_ is None:
            raise apifault.unsupported(f"/v3/company/{realm}/{entity_path}")
        if not id_.isdigit():
            raise apifault.invalid_id(id_)
        text = self.store.get_text(realm, entity, id_)
        if text is None:
            raise apifault.not_found(entity, id_)
        return Reply(200, f'{{"{entity}":{text},"time":"{self._time(realm)}"}}', 1)

    # ---- writes ----

    def write(self, realm: str, entity_path: str, raw_body: bytes, operation: str | None,
              include: str | None) -> Reply:
        entity = catalog.canonical(entity_path)
        if entity is None:
            known = catalog.qbo_entity(entity_path)
            if known is not None:
                raise apifault.not_held(known)
            raise apifault.unsupported(f"/v3/company/{realm}/{entity_path}")
        body = self._json(raw_body)
        obj = self.ledger.write(realm, entity, body, operation, include)
        return Reply(200, wire.dumps({entity: obj, "time": self._time(realm)}), 1)

    @staticmethod
    def _json(raw_body: bytes) -> Any:
        try:
            return json.loads(raw_body.decode("utf-8") or "{}")
        except (ValueError, UnicodeDecodeError):
            raise apifault.ApiFault(400, "2010", "Request has invalid or unsupported property",
                                    "Request body is not valid JSON", element=None) from None

    # ---- batch ----

    def batch(self, realm: str, raw_body: bytes) -> Reply:
        body = self._json(raw_body)
        items = body.get("BatchItemRequest") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise apifault.required("BatchItemRequest")
        if len(items) > BATCH_MAX_ITEMS:
            # Code unconfirmed (docs/sandbox.md); the limit is Intuit's documented 30.
            raise apifault.ApiFault(400, "6000", "A business validation error has occurred while processing "
                                    "your request", f"Business Validation Error: a batch holds at most "
                                    f"{BATCH_MAX_ITEMS} items, this one has {len(items)}.")
        out: list[str] = []
        rows = 0
        for item in items:
            bid = str(item.get("bId", "")) if isinstance(item, dict) else ""
            try:
                part, n = self._batch_item(realm, item)
                rows += n
                out.append(f'{{{part},"bId":{json.dumps(bid)}}}')
            except apifault.ApiFault as fault:
                out.append(f'{{"Fault":{wire.dumps(fault.fault())},"bId":{json.dumps(bid)}}}')
        return Reply(200, f'{{"BatchItemResponse":[{",".join(out)}],"time":"{self._time(realm)}"}}', rows)

    def _batch_item(self, realm: str, item: Any) -> tuple[str, int]:
        if not isinstance(item, dict):
            raise apifault.required("bId")
        if "Query" in item:
            inner, n = self._query_response(realm, str(item["Query"]))
            return f'"QueryResponse":{inner}', n
        op = str(item.get("operation", "")).lower()
        keys = [k for k in item if k not in ("bId", "operation", "optionsData")]
        if len(keys) == 1 and catalog.canonical(keys[0]) is None and catalog.qbo_entity(keys[0]) is not None:
            raise apifault.not_held(catalog.qbo_entity(keys[0]) or keys[0])
        if len(keys) != 1 or catalog.canonical(keys[0]) is None:
            raise apifault.ApiFault(400, "2010", "Request has invalid or unsupported property",
                                    f"Batch item needs exactly one supported entity, got {keys}",
                                    element=None)
        entity = catalog.canonical(keys[0])
        assert entity is not None
        if op not in ("create", "update", "delete"):
            raise apifault.ApiFault(400, "2010", "Request has invalid or unsupported property",
                                    f"Batch operation {op!r} is not create, update or delete", element=None)
        body = item[keys[0]]
        if op == "create" and isinstance(body, dict):
            body = {k: v for k, v in body.items() if k != "Id"}
        obj = self.ledger.write(realm, entity, body, "delete" if op == "delete" else None)
        return f'"{entity}":{wire.dumps(obj)}', 1
