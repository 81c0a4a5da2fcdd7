"""Replays every supported recorded interaction with real QBO against the sandbox: same status, same
envelope and key structure, same value types."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from qbsync.sandbox import catalog
from qbsync.sandbox.clock import SandboxClock
from qbsync.sandbox.server import SandboxServer
from qbsync.sandbox.store import Store

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "qbo"
RECORDED = SHARED / "recorded"
REALM = "123146096291789"
# Attachments (multipart uploads) and reports are outside what the sandbox serves.
UNSUPPORTED_PREFIXES = ("attachment__", "reports__")
# Fields real QBO adds that the sandbox does not invent on create/update (documented in docs/sandbox.md).
TOLERATED_MISSING = {
    "CustomField",
    "BillAddr",
    "ShipAddr",
    "DefaultTaxCodeRef",
    "LinkedTxn",
    "BillEmail",
    "CustomerMemo",
    "SalesTermRef",
    "DepositToAccountRef",
    "Taxable",
    "Vendor1099",
    "TxnTaxDetail",
    "PrintStatus",
    "EmailStatus",
}

pytestmark = pytest.mark.skipif(not RECORDED.is_dir(), reason=f"recordings not found at {RECORDED}")


def _files() -> list[Path]:
    if not RECORDED.is_dir():
        return []
    return sorted(p for p in RECORDED.glob("*.json") if not p.name.startswith(UNSUPPORTED_PREFIXES))


def _raw_body(path: Path, i: int) -> str:
    raw = RECORDED / "raw_bodies" / f"{path.stem}__{i}.response.txt"
    return raw.read_text(encoding="utf-8") if raw.exists() else ""


def _objects_in(body: Any) -> list[tuple[str, dict[str, Any]]]:
    """(entity, object) pairs found in a response body."""
    found: list[tuple[str, dict[str, Any]]] = []
    if not isinstance(body, dict):
        return found
    for key, val in body.items():
        ent = catalog.canonical(key) if key[:1].isupper() else None
        if ent and isinstance(val, dict) and "Id" in val and val.get("status") != "Deleted":
            found.append((ent, val))
        elif ent and isinstance(val, list):
            found.extend(
                (ent, o) for o in val if isinstance(o, dict) and "Id" in o and o.get("status") != "Deleted"
            )
        elif key in ("QueryResponse", "CDCResponse", "BatchItemResponse"):
            for sub in val if isinstance(val, list) else [val]:
                for inner in sub.get("QueryResponse", [sub]) if isinstance(sub, dict) else []:
                    found.extend(_objects_in(inner))
                found.extend(_objects_in(sub) if isinstance(sub, dict) and "QueryResponse" not in sub else [])
    return found


def _company() -> dict[tuple[str, str], dict[str, Any]]:
    """The recorded company: the most recent version of every object seen in any recording."""
    objs: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(RECORDED.glob("*.json")):
        for i, _ in enumerate(json.loads(path.read_text())):
            text = _raw_body(path, i)
            if not text.startswith("{"):
                continue
            for ent, obj in _objects_in(json.loads(text)):
                key = (ent, obj["Id"])
                old = objs.get(key)
                stamp = (obj.get("MetaData") or {}).get("LastUpdatedTime", "")
                if old is None or stamp >= (old.get("MetaData") or {}).get("LastUpdatedTime", ""):
                    objs[key] = obj
    return objs


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return type(v).__name__


def _compare(rec: Any, mine: Any, path: str, problems: list[str], in_object: bool = False) -> None:
    if _kind(rec) != _kind(mine):
        problems.append(f"{path}: recorded {_kind(rec)}, sandbox {_kind(mine)}")
        return
    if isinstance(rec, dict):
        rk, mk = set(rec), set(mine)
        if in_object:
            missing = rk - mk - TOLERATED_MISSING
            if missing:
                problems.append(f"{path}: sandbox lacks {sorted(missing)}")
        else:
            diff = (rk ^ mk) - {"time", "element"}
            if diff:
                problems.append(f"{path}: keys differ {sorted(diff)}")
        for k in rk & mk:
            entity_key = catalog.canonical(k) is not None and k[:1].isupper()
            _compare(rec[k], mine[k], f"{path}.{k}", problems, in_object or entity_key)
    elif isinstance(rec, list):
        if rec and not mine:
            problems.append(f"{path}: recorded {len(rec)} items, sandbox none")
        mine_by_id = {o["Id"]: o for o in mine if isinstance(o, dict) and "Id" in o}
        for i, (a, b) in enumerate(zip(rec, mine, strict=False)):
            if isinstance(a, dict) and "Id" in a and mine_by_id:
                # Objects pair by Id (default orders differ); an object the other side lacks is only
                # compared for the types of the keys both have.
                if a["Id"] in mine_by_id:
                    _compare(a, mine_by_id[a["Id"]], f"{path}[Id={a['Id']}]", problems, in_object)
                else:
                    _compare_types(a, b, f"{path}[{i}]", problems)
                continue
            _compare(a, b, f"{path}[{i}]", problems, in_object)


def _compare_types(rec: dict[str, Any], mine: dict[str, Any], path: str, problems: list[str]) -> None:
    for k in set(rec) & set(mine):
        if _kind(rec[k]) != _kind(mine[k]):
            problems.append(f"{path}.{k}: recorded {_kind(rec[k])}, sandbox {_kind(mine[k])}")


def _recorded_time(resp: dict[str, Any]) -> datetime:
    return parsedate_to_datetime(resp["headers"]["Date"])


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.stem)
def test_replay(path: Path) -> None:
    interactions = json.loads(path.read_text())
    company = _company()
    # This recording's own reads describe the state it started from; its creates must not exist yet.
    for i, it in enumerate(interactions):
        text = _raw_body(path, i)
        if not text.startswith("{"):
            continue
        body = json.loads(text)
        if it["request"]["method"] == "get" and "/query" not in it["request"]["uri"]:
            for ent, obj in _objects_in(body):
                company[(ent, obj["Id"])] = obj
        req_body = it["request"]["body"]
        is_batch = isinstance(req_body, dict) and "BatchItemRequest" in req_body
        if (
            it["request"]["method"] == "post"
            and isinstance(req_body, dict)
            and "Id" not in req_body
            and not is_batch
        ):
            for ent, obj in _objects_in(body):
                company.pop((ent, obj["Id"]), None)
        if isinstance(req_body, dict):
            for item in req_body.get("BatchItemRequest", []):
                if item.get("operation") == "create":
                    for res in body.get("BatchItemResponse", []):
                        if res.get("bId") != item.get("bId"):
                            continue
                        for ent, obj in _objects_in({k: v for k, v in res.items() if k != "bId"}):
                            company.pop((ent, obj["Id"]), None)

    clock = SandboxClock(_recorded_time(interactions[0]["response"]))
    store = Store(clock=clock)
    store.create_realm(REALM, company_info={"CompanyName": "Sandbox Company_US_1"}, tz_offset="-07:00")
    by_entity: dict[str, list[dict[str, Any]]] = {}
    for (ent, _), obj in company.items():
        by_entity.setdefault(ent, []).append(obj)
    for ent, objs in by_entity.items():
        store.bulk_load(REALM, ent, objs)

    with SandboxServer(store, clock=clock) as srv:
        for i, it in enumerate(interactions):
            req, rec = it["request"], it["response"]
            clock.set(_recorded_time(rec))
            url = urlsplit(req["uri"])
            params = dict(parse_qsl(url.query, keep_blank_values=True))
            if "changedSince" in params:
                # The 2020 recording asked for changes since 2011; the sandbox enforces the 30-day
                # look-back, so replay it with the clock ten days after that date.
                clock.set(datetime.fromisoformat(params["changedSince"]) + timedelta(days=10))
            rel = url.path.split("/v3/", 1)[1]
            if not rel.startswith("company/"):
                rel = f"company/{REALM}/{rel}"
            rel = rel.replace("-COMPANY_ID-", REALM)
            token = srv.issue_tokens(REALM)["access_token"] if rec["status"] != 401 else "expired-or-bogus"
            headers = {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "Content-Type": "application/json;charset=UTF-8",
            }
            data = json.dumps(req["body"]) if req["body"] not in ("", None) else None
            resp = requests.request(
                req["method"].upper(),
                f"{srv.api_url_v3}/{rel}",
                params=params,
                data=data,
                headers=headers,
                timeout=30,
            )
            recorded_text = _raw_body(path, i)
            assert resp.status_code == rec["status"], f"{path.stem}[{i}] {rel}: {resp.text[:500]}"
            assert "Intuit-Tid" in resp.headers
            problems: list[str] = []
            _compare(json.loads(recorded_text), resp.json(), "$", problems)
            assert not problems, f"{path.stem}[{i}]: " + "; ".join(problems[:10])
