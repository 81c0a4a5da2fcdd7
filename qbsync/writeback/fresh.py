"""Re-reading customers, their new transactions and active jobs from QuickBooks, one batch per chunk."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from qbsync.errors import FaultDetail, ValidationError
from qbsync.qbo import querybuild
from qbsync.qbo.gateway import QboGateway
from qbsync.rules.activity import activity_entities, counts
from qbsync.writeback.recheck import Expectation, Fresh, Txn

log = logging.getLogger("qbsync.writeback")

#: At most this many customers per chunk: one IN list and one write batch (QBO's batch limit).
CHUNK = 30
PAGE = 1000

JsonDict = dict[str, Any]


def _statements(exps: Sequence[Expectation], entities: Sequence[str]) -> list[tuple[str, str]]:
    """(entity, statement) pairs covering everything the re-check of ``exps`` needs."""
    ids = [e.customer_id for e in exps]
    out = [("Customer", f"select * from Customer where Id IN {querybuild.id_list(ids)} "
                        f"AND {querybuild.ACTIVE_OR_NOT}")]
    deact = [e for e in exps if not e.new_active]
    if not deact:
        return out
    out.append(("Customer", f"select * from Customer where ParentRef IN "
                            f"{querybuild.id_list([e.customer_id for e in deact])} AND Active = true"))
    everything = [e for e in deact if e.activity_mode == "any"
                  or (e.activity_mode == "since_seen" and e.last_activity_seen is None)]
    dated = [e for e in deact if e.activity_mode == "since_seen" and e.last_activity_seen is not None]
    changed = [e for e in deact if e.activity_mode in ("since_seen", "changed_since")
               and e.changed_since is not None and e not in everything]
    for entity in entities:
        if everything:
            out.append((entity, f"select * from {entity} where CustomerRef IN "
                                f"{querybuild.id_list([e.customer_id for e in everything])}"))
        if dated:
            since = min(e.last_activity_seen for e in dated if e.last_activity_seen is not None)
            out.append((entity, f"select * from {entity} where CustomerRef IN "
                                f"{querybuild.id_list([e.customer_id for e in dated])} "
                                f"AND TxnDate > '{since.isoformat()}'"))
        if changed:
            at = min(e.changed_since for e in changed if e.changed_since is not None)
            out.append((entity, f"select * from {entity} where CustomerRef IN "
                                f"{querybuild.id_list([e.customer_id for e in changed])} "
                                f"AND MetaData.LastUpdatedTime > '{querybuild.qbo_datetime(at)}'"))
    return out


def _paged(statement: str, start: int) -> str:
    return f"{statement} ORDERBY Id STARTPOSITION {start} MAXRESULTS {PAGE}"


def _fault(item: JsonDict, statement: str) -> ValidationError:
    errors = item.get("Fault", {}).get("Error", [])
    details = [FaultDetail(code=str(e.get("code", "")), message=str(e.get("Message", "")),
                           detail=str(e.get("Detail", ""))) for e in errors]
    first = details[0] if details else FaultDetail(code="", message="fault without detail")
    return ValidationError(f"QuickBooks refused a re-check query ({first.code} {first.message}): {statement}",
                           errors=details, hint="report this query; the write-back was not started for "
                                                "these customers")


def _parse_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)).astimezone(UTC) if value else None
    except ValueError:
        return None


def _txn(entity: str, row: JsonDict) -> Txn | None:
    ref = row.get("CustomerRef") or {}
    cid = ref.get("value") if isinstance(ref, dict) else None
    if cid is None or not counts(entity, row):  # a voided one is no activity, as in the rules
        return None
    return Txn(kind=entity, id=str(row.get("Id")), customer_id=str(cid),
               txn_date=_parse_date(row.get("TxnDate")),
               updated=_parse_time((row.get("MetaData") or {}).get("LastUpdatedTime")),
               doc_number=row.get("DocNumber"))


def fetch_fresh(gateway: QboGateway, exps: Sequence[Expectation],
                entities: Sequence[str] = activity_entities()) -> dict[str, Fresh]:
    """Current state of each expectation's customer, in one batch request (plus pages if saturated)."""
    if len(exps) > CHUNK:
        raise ValueError(f"at most {CHUNK} customers per re-read, got {len(exps)}")
    statements = _statements(exps, entities)
    items = [{"bId": str(n), "Query": _paged(stmt, 1)} for n, (_, stmt) in enumerate(statements, 1)]
    answers = gateway.batch(items)
    by_bid = {str(a.get("bId")): a for a in answers}
    ids = {e.customer_id for e in exps}
    fresh = {cid: Fresh(customer=None) for cid in ids}
    seen_txns: set[tuple[str, str]] = set()
    for n, (entity, stmt) in enumerate(statements, 1):
        answer = by_bid.get(str(n), {})
        if "Fault" in answer:
            raise _fault(answer, stmt)
        rows: list[JsonDict] = list((answer.get("QueryResponse") or {}).get(entity, []))
        start = 1
        while len(rows) - (start - 1) == PAGE:  # a saturated page: fetch the rest one page at a time
            start += PAGE
            rows.extend(gateway.query(_paged(stmt, start)).rows)
        for row in rows:
            if entity == "Customer" and n == 1:
                if str(row.get("Id")) in fresh:
                    fresh[str(row.get("Id"))].customer = row
            elif entity == "Customer":
                parent = str((row.get("ParentRef") or {}).get("value", ""))
                if parent in fresh and row.get("Active", True):
                    fresh[parent].active_jobs.append(str(row.get("Id")))
            else:
                txn = _txn(entity, row)
                if txn and txn.customer_id in fresh and (entity, txn.id) not in seen_txns:
                    seen_txns.add((entity, txn.id))
                    fresh[txn.customer_id].txns.append(txn)
    log.debug("re-read %d customers with %d queries", len(ids), len(statements))
    return fresh
