"""An in-process QboGateway for write-back tests: dict-backed customers and transactions, SyncTokens,
5010, the open-balance refusal, requestid idempotency, the " (deleted)" suffix and injectable faults."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from qbsync.errors import ApiError, NotFoundError, ValidationError
from qbsync.qbo.gateway import CdcResult, Page, QueryAnswers, RequestStats

JsonDict = dict[str, Any]

_STMT = re.compile(
    r"^select \* from (\w+)(?: where (.*?))?(?: ORDERBY (\w+))?"
    r"(?: STARTPOSITION (\d+))?(?: MAXRESULTS (\d+))?$",
    re.I | re.S,
)
_IN = re.compile(r"^([\w.]+) IN \((.*)\)$", re.I | re.S)
_CMP = re.compile(r"^([\w.]+) (=|>=|<=|>|<) (.*)$", re.S)
_LIT = re.compile(r"'((?:\\.|[^'\\])*)'|(true|false)", re.I)


def _literals(text: str) -> list[Any]:
    out: list[Any] = []
    for m in _LIT.finditer(text):
        out.append(
            re.sub(r"\\(.)", r"\1", m.group(1)) if m.group(1) is not None else m.group(2).lower() == "true"
        )
    return out


def _prop(row: JsonDict, path: str) -> Any:
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        key = next((k for k in value if k.lower() == part.lower()), None)
        value = value.get(key) if key else None
    if isinstance(value, dict) and "value" in value:
        return value["value"]
    return value


def _cmp_value(v: Any, lit: Any) -> tuple[Any, Any]:
    if isinstance(lit, bool):
        return bool(v) if v is not None else True, lit
    if isinstance(v, str) and "T" in v and "T" in str(lit):
        return datetime.fromisoformat(v), datetime.fromisoformat(str(lit))
    return (str(v) if v is not None else None), str(lit)


def _fault(code: str, message: str, detail: str = "") -> JsonDict:
    return {
        "Fault": {
            "Error": [{"Message": message, "Detail": detail or message, "code": code, "element": ""}],
            "type": "ValidationFault",
        }
    }


class FakeQbo:
    """Dict-backed QuickBooks. ``hooks[n]`` runs before the n-th batch call (1-based) and may raise
    (the call then fails before executing) or change data (someone else editing in QuickBooks);
    ``lose_answer`` holds batch call numbers that execute but then raise (the answer is lost)."""

    def __init__(self, realm_id: str = "9130", now: datetime | None = None) -> None:
        self.realm_id = realm_id
        self.stats = RequestStats()
        self.now = now or datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # before the tests' plans
        self.customers: dict[str, JsonDict] = {}
        self.txns: dict[str, list[JsonDict]] = {
            "Invoice": [],
            "SalesReceipt": [],
            "Payment": [],
            "CreditMemo": [],
            "Estimate": [],
        }
        self.writes: list[JsonDict] = []  # every executed sparse update body that changed something
        self.batch_calls: list[list[JsonDict]] = []
        self.hooks: dict[int, Callable[[FakeQbo, Sequence[JsonDict]], None]] = {}
        self.lose_answer: dict[int, ApiError] = {}
        self.stale_once: set[str] = set()  # customer Ids whose next update gets a 5010 without a change
        self.refuse: dict[str, tuple[str, str]] = {}  # customer Id -> (code, message) of a validation fault
        self._idem: dict[str, list[JsonDict]] = {}

    # --- building data -----------------------------------------------------------------------

    def _stamp(self) -> str:
        self.now += timedelta(seconds=1)
        return self.now.astimezone(UTC).isoformat()

    def add_customer(
        self,
        id_: str,
        name: str,
        *,
        active: bool = True,
        balance: str = "0",
        parent: str | None = None,
        token: str = "0",
    ) -> JsonDict:
        row: JsonDict = {
            "Id": id_,
            "SyncToken": token,
            "DisplayName": name if active else f"{name} (deleted)",
            "PrintOnCheckName": name,
            "Active": active,
            "Balance": float(Decimal(balance)),
            "BalanceWithJobs": float(Decimal(balance)),
            "Job": parent is not None,
            "MetaData": {"CreateTime": "2020-01-01T00:00:00+00:00", "LastUpdatedTime": self._stamp()},
        }
        if parent:
            row["ParentRef"] = {"value": parent}
            row["Level"] = 1
        self.customers[id_] = row
        return row

    def add_txn(
        self,
        entity: str,
        id_: str,
        customer_id: str,
        txn_date: date,
        amount: str = "100.00",
        balance: str = "0",
    ) -> JsonDict:
        row = {
            "Id": id_,
            "SyncToken": "0",
            "CustomerRef": {"value": customer_id},
            "TxnDate": txn_date.isoformat(),
            "TotalAmt": float(Decimal(amount)),
            "Balance": float(Decimal(balance)),
            "DocNumber": f"D{id_}",
            "MetaData": {"CreateTime": self._stamp(), "LastUpdatedTime": self._stamp()},
        }
        self.txns[entity].append(row)
        if Decimal(balance):
            self.set_balance(
                customer_id, str(Decimal(str(self.customers[customer_id]["Balance"])) + Decimal(balance))
            )
        return row

    def void(self, entity: str, id_: str) -> JsonDict:
        """Void a transaction as QuickBooks does: kept, amounts zeroed, PrivateNote "Voided"."""
        row = next(t for t in self.txns[entity] if t["Id"] == id_)
        owed = Decimal(str(row.get("Balance", 0)))
        row.update(TotalAmt=0, Balance=0, PrivateNote="Voided", SyncToken=str(int(row["SyncToken"]) + 1))
        row["MetaData"]["LastUpdatedTime"] = self._stamp()
        if owed:
            cid = row["CustomerRef"]["value"]
            self.set_balance(cid, str(Decimal(str(self.customers[cid]["Balance"])) - owed))
        return row

    def edit(self, id_: str, **fields: Any) -> None:
        """Someone else edits the customer in QuickBooks: fields change and the SyncToken moves."""
        row = self.customers[id_]
        row.update(fields)
        row["SyncToken"] = str(int(row["SyncToken"]) + 1)
        row["MetaData"]["LastUpdatedTime"] = self._stamp()

    def set_balance(self, id_: str, balance: str) -> None:
        # Balance is derived in QBO: it moves without a SyncToken change on the customer.
        row = self.customers[id_]
        row["Balance"] = float(Decimal(balance))
        row["BalanceWithJobs"] = float(Decimal(balance))

    # --- QboGateway ----------------------------------------------------------------------------

    def _select(self, statement: str) -> tuple[str, list[JsonDict]]:
        m = _STMT.match(statement.strip())
        if not m:
            raise ValidationError(f"fake cannot parse: {statement}")
        entity, where, order, start, maxres = m.groups()
        rows = list(self.customers.values()) if entity == "Customer" else list(self.txns.get(entity, []))
        mentions_active = False
        for cond in re.split(r"\s+AND\s+", where or "", flags=re.I) if where else []:
            if mi := _IN.match(cond.strip()):
                prop, values = mi.group(1), _literals(mi.group(2))
                mentions_active |= prop.lower() == "active"
                rows = [
                    r
                    for r in rows
                    if any(
                        _cmp_value(_prop(r, prop), v)[0] == _cmp_value(_prop(r, prop), v)[1] for v in values
                    )
                ]
            elif mc := _CMP.match(cond.strip()):
                prop, op, lit = mc.group(1), mc.group(2), _literals(mc.group(3))[0]
                mentions_active |= prop.lower() == "active"
                ops: dict[str, Callable[[Any, Any], bool]] = {
                    "=": lambda a, b: a == b,
                    ">": lambda a, b: a is not None and a > b,
                    "<": lambda a, b: a is not None and a < b,
                    ">=": lambda a, b: a is not None and a >= b,
                    "<=": lambda a, b: a is not None and a <= b,
                }
                rows = [r for r in rows if ops[op](*_cmp_value(_prop(r, prop), lit))]
            else:
                raise ValidationError(f"fake cannot parse condition: {cond}")
        if entity == "Customer" and not mentions_active:
            rows = [r for r in rows if r.get("Active", True)]
        if order:
            rows.sort(key=lambda r: (len(str(_prop(r, order))), str(_prop(r, order))))
        first = int(start or 1) - 1
        rows = rows[first : first + int(maxres or 100)]
        return entity, copy.deepcopy(rows)

    def query(self, statement: str) -> Page:
        self.stats.requests += 1
        _, rows = self._select(statement)
        return Page(rows=rows, server_time=self.now)

    def count(self, entity: str, where: str | None = None) -> int:
        raise NotImplementedError

    def cdc(self, entities: Sequence[str], changed_since: datetime) -> CdcResult:
        raise NotImplementedError

    def read(self, entity: str, id_: str) -> JsonDict:
        self.stats.requests += 1
        if entity != "Customer" or id_ not in self.customers:
            raise NotFoundError(f"{entity} {id_} not found")
        return copy.deepcopy(self.customers[id_])

    def _update(self, body: JsonDict) -> JsonDict:
        cid = str(body.get("Id"))
        row = self.customers.get(cid)
        if row is None:
            return _fault("610", "Object Not Found")
        if cid in self.stale_once or str(body.get("SyncToken")) != row["SyncToken"]:
            self.stale_once.discard(cid)
            return _fault(
                "5010",
                "Stale Object Error",
                "Stale Object Error : You and Someone were working on this at the same time.",
            )
        if cid in self.refuse:
            return _fault(*self.refuse[cid])
        active = bool(body.get("Active", row["Active"]))
        if active == row["Active"]:
            return {"Customer": copy.deepcopy(row)}  # a sparse no-op leaves the SyncToken alone (recorded)
        if not active and (row["Balance"] or row["BalanceWithJobs"]):
            return _fault(
                "6000",
                "A business validation error has occurred while processing your request",
                "Business Validation Error: Delete List Has Balance Error: The entity you are trying "
                "to delete has an open balance.",
            )
        self._set_active(row, active)
        if not active:  # deactivating a parent deactivates its jobs, as the QBO UI does
            for job in self.customers.values():
                if (job.get("ParentRef") or {}).get("value") == cid and job["Active"]:
                    self._set_active(job, False)
        self.writes.append(dict(body))
        return {"Customer": copy.deepcopy(row)}

    def _set_active(self, row: JsonDict, active: bool) -> None:
        name = row["DisplayName"].removesuffix(" (deleted)")
        row["Active"] = active
        row["DisplayName"] = name if active else f"{name} (deleted)"
        row["SyncToken"] = str(int(row["SyncToken"]) + 1)
        row["MetaData"]["LastUpdatedTime"] = self._stamp()

    def queries(self, statements: Sequence[str]) -> QueryAnswers:
        raise NotImplementedError("write-back never sends a batch of queries")

    def batch(self, items: Sequence[JsonDict], request_id: str | None = None) -> list[JsonDict]:
        self.stats.requests += 1
        assert len(items) <= 30, "QBO allows at most 30 items per batch"
        self.batch_calls.append([copy.deepcopy(i) for i in items])
        n = len(self.batch_calls)
        if request_id is not None and request_id in self._idem:
            return copy.deepcopy(self._idem[request_id])
        if n in self.hooks:
            self.hooks[n](self, items)  # may raise: then nothing was executed
        out: list[JsonDict] = []
        for item in items:
            if "Query" in item:
                entity, rows = self._select(item["Query"])
                out.append({"bId": item["bId"], "QueryResponse": {entity: rows} if rows else {}})
            elif item.get("operation") == "update" and "Customer" in item:
                out.append({"bId": item["bId"], **self._update(item["Customer"])})
            else:
                raise ValidationError(f"fake does not support batch item {item}")
        if request_id is not None:
            self._idem[request_id] = copy.deepcopy(out)
        if n in self.lose_answer:
            raise self.lose_answer[n]
        return out

    def sparse_update(self, entity: str, body: JsonDict, request_id: str) -> JsonDict:
        self.stats.requests += 1
        answer = self._update(body)
        if "Fault" in answer:
            raise ValidationError(answer["Fault"]["Error"][0]["Message"])
        return answer["Customer"]

    def company_info(self) -> JsonDict:
        return {"CompanyName": "Fake"}

    def preferences(self) -> JsonDict:
        return {}

    # --- for assertions ----------------------------------------------------------------------

    def write_batches(self) -> list[list[JsonDict]]:
        return [c for c in self.batch_calls if any(i.get("operation") == "update" for i in c)]
