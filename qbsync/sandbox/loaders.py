"""Import a company into the sandbox from QBO-shaped JSON / JSON Lines or plain CSV, with Ids and balances."""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qbsync.sandbox import catalog, postings

if TYPE_CHECKING:
    from qbsync.sandbox.store import Store

LOAD_ORDER = (
    "Account",
    "TaxCode",
    "Department",
    "Class",
    "Item",
    "Customer",
    "Estimate",
    "Invoice",
    "CreditMemo",
    "SalesReceipt",
    "RefundReceipt",
    "Payment",
    "JournalEntry",
)
_CENT = Decimal("0.01")


class LoadError(ValueError):
    """Bad input; the message names the file and line and says what to change."""


@dataclass
class _Staged:
    objects: dict[str, list[tuple[dict[str, Any], str]]] = field(default_factory=lambda: defaultdict(list))
    csv_sales: list[tuple[dict[str, str], str]] = field(default_factory=list)
    # (what, file) -> how many records were left out; ``what`` is an entity or a stream name.
    skipped: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))

    def skip(self, what: str, path: Path, n: int = 1) -> None:
        self.skipped[(what, path.name)] += n


class Loaded(dict[str, int]):
    """Objects loaded per entity; ``skipped`` holds one line per entity (or stream) left out."""

    def __init__(self, counts: dict[str, int], skipped: list[str]) -> None:
        super().__init__(counts)
        self.skipped = skipped


def _skip_lines(staged: _Staged) -> list[str]:
    lines = []
    for (what, file), n in sorted(staged.skipped.items()):
        known = catalog.qbo_entity(what)
        why = (f"the sandbox holds no {known} objects (it answers queries of them empty)" if known
               else "not a QuickBooks entity (a report or deleted-objects stream, or a misspelt name)")
        lines.append(f"skipped {n:,} {what} record{'s' if n != 1 else ''} from {file}: {why}")
    return lines


def entity_name(text: str) -> str | None:
    """``customers`` / ``sales_receipts`` / ``Invoice`` -> the QBO entity name, or None."""
    return _entity_in(text, catalog.canonical)


def qbo_entity_name(text: str) -> str | None:
    """Like ``entity_name`` for any entity real QuickBooks has, held by the sandbox or not."""
    return _entity_in(text, catalog.qbo_entity)


def _entity_in(text: str, lookup: Any) -> str | None:
    s = re.sub(r"[^a-z]", "", text.lower())
    for cand in (s, s[:-1] if s.endswith("s") else s, s[:-2] if s.endswith("es") else s,
                 s[:-3] + "y" if s.endswith("ies") else s):
        ent = lookup(cand)
        if ent is not None:
            return str(ent)
    return None


def _money(value: Any, where: str, what: str) -> Decimal:
    text = str(value).strip().replace(",", "").lstrip("$£€").strip() if value is not None else ""
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise LoadError(f"{where}: {what} {value!r} is not a number; write it like 1234.50") from None
    if amount != amount.quantize(_CENT):
        raise LoadError(f"{where}: {what} {value!r} has more than two decimals")
    return amount.quantize(_CENT)


def _num(d: Decimal) -> float:
    return float(d)


# ---- reading ----


def _add(staged: _Staged, entity: str, obj: Any, where: str) -> None:
    if not isinstance(obj, dict):
        raise LoadError(f"{where}: expected a JSON object for {entity}, got {type(obj).__name__}")
    staged.objects[entity].append((obj, where))


def _read_json(path: Path, staged: _Staged) -> None:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise LoadError(f"{path} line {exc.lineno}: not valid JSON ({exc.msg})") from None
    stem_entity = entity_name(path.stem)
    if isinstance(data, list):
        if stem_entity is None:
            known = qbo_entity_name(path.stem)
            if known is not None:
                staged.skip(known, path, len(data))
                return
            raise LoadError(
                f"{path}: a list of objects needs the entity in the file name, e.g. Customer.json"
            )
        for i, obj in enumerate(data, start=1):
            _add(staged, stem_entity, obj, f"{path} item {i}")
        return
    if not isinstance(data, dict):
        raise LoadError(f"{path}: expected a list of objects or a QueryResponse envelope")
    blocks: list[dict[str, Any]] = []
    if "QueryResponse" in data and isinstance(data["QueryResponse"], dict):
        blocks.append(data["QueryResponse"])
    elif "CDCResponse" in data:
        for part in data["CDCResponse"]:
            blocks.extend(part.get("QueryResponse", []))
    else:
        blocks.append(data)
    found = False
    for block in blocks:
        for key, value in block.items():
            ent = catalog.canonical(key)
            if ent is None:
                known = catalog.qbo_entity(key) if key[:1].isupper() else None
                if known is not None:
                    found = True
                    staged.skip(known, path, len(value) if isinstance(value, list) else 1)
                continue
            found = True
            for i, obj in enumerate(value if isinstance(value, list) else [value], start=1):
                if isinstance(obj, dict) and obj.get("status") == "Deleted":
                    continue
                _add(staged, ent, obj, f"{path} {ent} {i}")
    if not found:
        if stem_entity is not None and "Id" in data:
            _add(staged, stem_entity, data, str(path))
            return
        raise LoadError(f'{path}: no QBO entity found; expected keys like "Customer" or a QueryResponse')


def _read_jsonl(path: Path, staged: _Staged) -> None:
    stem_entity = entity_name(path.stem)
    with path.open(encoding="utf-8-sig") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path} line {n}"
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise LoadError(f"{where}: not valid JSON ({exc.msg})") from None
            if not isinstance(rec, dict):
                raise LoadError(f"{where}: expected one JSON object per line")
            if rec.get("type") == "RECORD":  # Singer and Airbyte messages
                inner = rec.get("record") or {}
                stream = rec.get("stream") or inner.get("stream")
                body = inner.get("data", inner) if "stream" in inner else inner
                ent = entity_name(str(stream or ""))
                if ent is None:  # bills, deleted_objects, profit_loss_report ...: one line each
                    staged.skip(qbo_entity_name(str(stream or "")) or str(stream), path)
                    continue
                _add(staged, ent, body, where)
                continue
            if rec.get("type") in ("SCHEMA", "STATE", "LOG", "TRACE"):
                continue
            keys = [k for k in rec if catalog.canonical(k) is not None and isinstance(rec[k], dict)]
            others = [k for k in rec if k[:1].isupper() and catalog.canonical(k) is None
                      and catalog.qbo_entity(k) is not None and isinstance(rec[k], dict)]
            if not keys and len(others) == 1 and "Id" not in rec:
                staged.skip(catalog.qbo_entity(others[0]) or others[0], path)
                continue
            if len(keys) == 1 and "Id" not in rec:
                _add(staged, catalog.canonical(keys[0]) or keys[0], rec[keys[0]], where)
            elif stem_entity is not None:
                _add(staged, stem_entity, rec, where)
            elif qbo_entity_name(path.stem) is not None:
                staged.skip(qbo_entity_name(path.stem) or path.stem, path)
            else:
                raise LoadError(
                    f'{where}: cannot tell the entity; wrap it as {{"Customer": {{...}}}} or '
                    "name the file after the entity (Customer.jsonl)"
                )


_CUSTOMER_COLS = {
    "display": ("display name", "displayname", "name", "customer", "customer name", "full name"),
    "company": ("company", "company name", "companyname", "business", "organization"),
    "given": ("first name", "given name", "firstname", "givenname", "first"),
    "family": ("last name", "family name", "surname", "lastname", "familyname", "last"),
    "email": ("email", "e-mail", "email address", "primary email"),
    "phone": ("phone", "phone number", "telephone", "tel", "mobile"),
    "line1": ("address", "street", "address line 1", "line1", "address1", "street address"),
    "city": ("city", "town"),
    "state": ("state", "province", "region", "county", "state/province"),
    "postal": ("zip", "zip code", "postal code", "postcode", "postalcode"),
    "country": ("country",),
    "id": ("id",),
    "active": ("active",),
}
_SALE_COLS = {
    "customer": ("customer", "customer name", "name", "customer id", "display name"),
    "date": ("date", "txn date", "transaction date", "txndate"),
    "amount": ("amount", "total", "total amount", "totalamt"),
    "doc": ("doc number", "number", "docnumber", "receipt", "invoice"),
    "memo": ("memo", "description", "note"),
}


def _columns(header: Sequence[str], spec: dict[str, tuple[str, ...]]) -> dict[str, str]:
    norm = {h.strip().lower().replace("_", " "): h for h in header}
    return {
        key: next(norm[a] for a in aliases if a in norm)
        for key, aliases in spec.items()
        if any(a in norm for a in aliases)
    }


def _read_csv(path: Path, staged: _Staged) -> None:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        sale = _columns(header, _SALE_COLS)
        is_sales = {"date", "amount"} <= set(sale)
        if is_sales and "customer" not in sale:
            raise LoadError(f"{path} line 1: transactions need a customer column (name or Id)")
        cols = sale if is_sales else _columns(header, _CUSTOMER_COLS)
        if not is_sales and not {"display", "company", "given", "family"} & set(cols):
            raise LoadError(
                f"{path} line 1: no name column; customers need 'name' (or company / first name, "
                "last name), transactions need 'customer', 'date' and 'amount'"
            )
        for n, row in enumerate(reader, start=2):
            where = f"{path} line {n}"
            vals = {k: (row.get(c) or "").strip() for k, c in cols.items()}
            if is_sales:
                staged.csv_sales.append((vals, where))
            else:
                staged.objects["Customer"].append((_csv_customer(vals, where), where))


def _csv_customer(v: dict[str, str], where: str) -> dict[str, Any]:
    person = " ".join(x for x in (v.get("given"), v.get("family")) if x)
    display = v.get("display") or v.get("company") or person
    if not display:
        raise LoadError(f"{where}: customer has no name; fill the name (or company / first and last name)")
    obj: dict[str, Any] = {"DisplayName": display}
    if v.get("id"):
        obj["Id"] = v["id"]
    for key, field_name in (("given", "GivenName"), ("family", "FamilyName"), ("company", "CompanyName")):
        if v.get(key):
            obj[field_name] = v[key]
    if v.get("email"):
        obj["PrimaryEmailAddr"] = {"Address": v["email"]}
    if v.get("phone"):
        obj["PrimaryPhone"] = {"FreeFormNumber": v["phone"]}
    addr = {
        f: v[k]
        for k, f in (
            ("line1", "Line1"),
            ("city", "City"),
            ("state", "CountrySubDivisionCode"),
            ("postal", "PostalCode"),
            ("country", "Country"),
        )
        if v.get(k)
    }
    if addr:
        obj["BillAddr"] = addr
    if v.get("active"):
        flag = v["active"].lower()
        if flag not in ("true", "false", "yes", "no", "1", "0"):
            raise LoadError(f"{where}: active must be true or false, got {v['active']!r}")
        obj["Active"] = flag in ("true", "yes", "1")
    return obj


def read_files(paths: Iterable[Path]) -> _Staged:
    staged = _Staged()
    for path in paths:
        if not path.is_file():
            raise LoadError(f"{path}: no such file")
        suffix = path.suffix.lower()
        if suffix == ".json":
            _read_json(path, staged)
        elif suffix in (".jsonl", ".ndjson"):
            _read_jsonl(path, staged)
        elif suffix == ".csv":
            _read_csv(path, staged)
        else:
            raise LoadError(f"{path}: unknown file type; use .json, .jsonl/.ndjson or .csv")
    return staged


# ---- completing and checking ----


class _Ids:
    """Ids for objects that came without one: after the highest in the store and in the import."""

    def __init__(self, store: Store, realm_id: str, staged: _Staged) -> None:
        self.next: dict[str, int] = {}
        for entity in LOAD_ORDER:
            taken = [
                int(o["Id"]) for o, _ in staged.objects.get(entity, []) if str(o.get("Id", "")).isdigit()
            ]
            self.next[entity] = max([int(store.next_id(realm_id, entity)) - 1, *taken]) + 1

    def take(self, entity: str) -> str:
        n = self.next[entity]
        self.next[entity] = n + 1
        return str(n)


def _stamp(day: str | None) -> str:
    return f"{day or date.today().isoformat()}T09:00:00-08:00"


def _complete_common(obj: dict[str, Any], entity: str, ids: _Ids, where: str) -> None:
    if "Id" in obj:
        if not str(obj["Id"]).isdigit():
            raise LoadError(f"{where}: {entity} Id {obj['Id']!r} is not a number")
        obj["Id"] = str(obj["Id"])
    else:
        obj["Id"] = ids.take(entity)
    obj["SyncToken"] = str(obj.get("SyncToken", "0"))
    obj.setdefault("domain", "QBO")
    obj.setdefault("sparse", False)
    meta = obj.setdefault("MetaData", {})
    meta.setdefault("CreateTime", _stamp(obj.get("TxnDate")))
    meta.setdefault("LastUpdatedTime", meta["CreateTime"])


def _lines_total(obj: dict[str, Any], where: str) -> Decimal:
    total = Decimal(0)
    for line in obj.get("Line") or []:
        if line.get("DetailType") in ("SubTotalLineDetail", "DiscountLineDetail"):
            continue
        total += _money(line.get("Amount", 0), where, "line amount")
    return total


class _Names:
    def __init__(self, store: Store, realm_id: str) -> None:
        self.store, self.realm = store, realm_id
        self.by_name: dict[str, str] = {}
        self.by_id: dict[str, dict[str, Any]] = {}

    def resolve(self, key: str, where: str) -> dict[str, Any] | str:
        """A customer (imported) or an existing customer's Id, by Id or DisplayName."""
        if key in self.by_id:
            return self.by_id[key]
        cid = self.by_name.get(key.casefold())
        if cid is not None:
            return self.by_id[cid]
        if key.isdigit() and self.store.get(self.realm, "Customer", key) is not None:
            return key
        found = [i for e, i in self.store.ids_named(self.realm, ["Customer"], key) if e == "Customer"]
        if found:
            return str(found[0])
        raise LoadError(
            f"{where}: customer {key!r} is not among the loaded customers; add it to the "
            "customers file (or use its Id)"
        )


def _customers(staged: _Staged, ids: _Ids, names: _Names) -> list[dict[str, Any]]:
    out = []
    for obj, where in staged.objects.get("Customer", []):
        if not obj.get("DisplayName"):
            parts = [obj.get("GivenName"), obj.get("FamilyName")]
            obj["DisplayName"] = obj.get("CompanyName") or " ".join(p for p in parts if p)
        name = str(obj.get("DisplayName") or "").strip()
        if not name:
            raise LoadError(f"{where}: customer has no DisplayName (nor CompanyName / GivenName)")
        if ":" in name:
            raise LoadError(f"{where}: DisplayName {name!r} contains ':', which QuickBooks does not allow")
        _complete_common(obj, "Customer", ids, where)
        key = name.removesuffix(" (deleted)").casefold()
        if key in names.by_name:
            raise LoadError(
                f"{where}: DisplayName {name!r} is used twice (QuickBooks names are unique); "
                "rename one of them"
            )
        names.by_name[key] = obj["Id"]
        names.by_id[obj["Id"]] = obj
        obj.setdefault("Active", True)
        obj.setdefault("PrintOnCheckName", name.removesuffix(" (deleted)"))
        obj.setdefault("CurrencyRef", {"value": "USD", "name": "United States Dollar"})
        obj.setdefault("Taxable", False)
        out.append(obj)
    for obj, where in staged.objects.get("Customer", []):  # jobs: parents may come later in the file
        parent = (obj.get("ParentRef") or {}).get("value")
        if parent is not None and str(parent) not in names.by_id:
            raise LoadError(f"{where}: ParentRef {parent!r} is not a loaded customer")
    for obj in out:
        chain, seen, cur = [], set(), obj
        while True:
            chain.append(cur["DisplayName"])
            seen.add(cur["Id"])
            parent = (cur.get("ParentRef") or {}).get("value")
            if parent is None:
                break
            if str(parent) in seen:
                raise LoadError(f"customer {obj['Id']}: ParentRef chain loops back on itself")
            cur = names.by_id[str(parent)]
        obj["Level"] = len(chain) - 1
        obj["Job"] = obj["Level"] > 0
        obj.setdefault("BillWithParent", False)
        obj["FullyQualifiedName"] = ":".join(reversed(chain))
        if obj["Level"] == 0:
            obj.pop("Level")
    return out


def _customer_ref(obj: dict[str, Any], names: _Names, where: str) -> str:
    ref = obj.get("CustomerRef")
    if not isinstance(ref, dict) or not (ref.get("value") or ref.get("name")):
        raise LoadError(f"{where}: transaction has no CustomerRef")
    found = names.resolve(str(ref.get("value") or ref.get("name")), where)
    cid = found["Id"] if isinstance(found, dict) else found
    name = found["FullyQualifiedName"] if isinstance(found, dict) else ref.get("name")
    obj["CustomerRef"] = {"value": cid, "name": name} if name else {"value": cid}
    return str(cid)


def _journal(obj: dict[str, Any], names: _Names, where: str) -> None:
    """A journal entry: dated, balanced, its customer lines resolved (by Id or DisplayName)."""
    if "TxnDate" not in obj:
        raise LoadError(f"{where}: JournalEntry has no TxnDate")
    debits = credits = Decimal(0)
    for line in postings.journal_lines(obj):
        detail = line["JournalEntryLineDetail"]
        amount = _money(line.get("Amount", 0), where, "line amount")
        if detail.get("PostingType") == "Debit":
            debits += amount
        elif detail.get("PostingType") == "Credit":
            credits += amount
        else:
            raise LoadError(f"{where}: journal line PostingType must be Debit or Credit")
        entity = detail.get("Entity")
        ref = entity.get("EntityRef") if isinstance(entity, dict) else None
        customer = isinstance(entity, dict) and str(entity.get("Type", "")).lower() == "customer"
        if isinstance(ref, dict) and customer:
            found = names.resolve(str(ref.get("value") or ref.get("name")), where)
            ref["value"] = found["Id"] if isinstance(found, dict) else found
    if debits != credits:
        raise LoadError(f"{where}: journal entry debits {debits} and credits {credits} differ")
    obj["TotalAmt"] = _num(debits)


def _csv_sales(staged: _Staged, names: _Names) -> None:
    item = {"Name": "Sales", "Type": "Service", "Active": True, "FullyQualifiedName": "Sales", "UnitPrice": 0}
    if staged.csv_sales and not staged.objects.get("Item"):
        staged.objects["Item"].append((item, "default item"))
    for v, where in staged.csv_sales:
        amount = _money(v.get("amount"), where, "amount")
        if amount <= 0:
            raise LoadError(f"{where}: amount must be positive (refunds are not imported from CSV)")
        try:
            day = date.fromisoformat(v.get("date", ""))
        except ValueError:
            raise LoadError(f"{where}: date {v.get('date')!r} is not YYYY-MM-DD") from None
        if not v.get("customer"):
            raise LoadError(f"{where}: customer is empty")
        obj: dict[str, Any] = {
            "TxnDate": day.isoformat(),
            "CustomerRef": {"name": v["customer"]},
            "TotalAmt": _num(amount),
            "Balance": 0,
            "CurrencyRef": {"value": "USD", "name": "United States Dollar"},
            "Line": [
                {
                    "LineNum": 1,
                    "Amount": _num(amount),
                    "Description": v.get("memo") or "Sales",
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"name": "Sales"}},
                }
            ],
        }
        if v.get("doc"):
            obj["DocNumber"] = v["doc"]
        staged.objects["SalesReceipt"].append((obj, where))


def _balances(staged: _Staged, customers: list[dict[str, Any]], ar_ids: frozenset[str] = frozenset()) -> None:
    """Invoice/credit/payment balances from the payments' LinkedTxn, then customer balances from those
    and from journal-entry lines on Accounts Receivable."""
    invoices = {o["Id"]: (o, w) for o, w in staged.objects.get("Invoice", [])}
    credits = {o["Id"]: (o, w) for o, w in staged.objects.get("CreditMemo", [])}
    paid: dict[str, Decimal] = defaultdict(Decimal)
    used: dict[str, Decimal] = defaultdict(Decimal)
    own: dict[str, Decimal] = defaultdict(Decimal)
    for pay, where in staged.objects.get("Payment", []):
        applied = Decimal(0)
        for line in pay.get("Line") or []:
            amount = _money(line.get("Amount", 0), where, "payment line amount")
            for link in line.get("LinkedTxn") or []:
                tid, kind = str(link.get("TxnId")), link.get("TxnType")
                if kind == "Invoice":
                    if tid not in invoices:
                        raise LoadError(f"{where}: payment is linked to invoice {tid}, which is not loaded")
                    paid[tid] += amount
                    applied += amount
                elif kind == "CreditMemo":
                    if tid not in credits:
                        raise LoadError(f"{where}: payment uses credit memo {tid}, which is not loaded")
                    used[tid] += amount
                    applied -= amount
        total = _money(pay.get("TotalAmt", applied), where, "TotalAmt")
        if applied > total:
            raise LoadError(f"{where}: payment applies {applied} but its TotalAmt is {total}")
        pay["TotalAmt"] = _num(total)
        pay["UnappliedAmt"] = _num(total - applied)
        own[pay["CustomerRef"]["value"]] -= total - applied
    for tid, (inv, where) in invoices.items():
        if paid[tid] > _money(inv["TotalAmt"], where, "TotalAmt"):
            raise LoadError(f"{where}: payments of {paid[tid]} exceed invoice {tid} total {inv['TotalAmt']}")
        balance = _money(inv["TotalAmt"], where, "TotalAmt") - paid[tid]
        inv["Balance"] = _num(balance)
        own[inv["CustomerRef"]["value"]] += balance
    for tid, (cm, where) in credits.items():
        left = _money(cm["TotalAmt"], where, "TotalAmt") - used[tid]
        if left < 0:
            raise LoadError(f"{where}: credit memo {tid} is used for more than its total")
        cm["RemainingCredit"] = cm["Balance"] = _num(left)
        own[cm["CustomerRef"]["value"]] -= left
    ar_ids = ar_ids | {str(a["Id"]) for a, _ in staged.objects.get("Account", [])
                       if a.get("AccountType") == catalog.AR_ACCOUNT_TYPE}
    for je, _ in staged.objects.get("JournalEntry", []):
        for cid, amount in postings.journal_ar(je, ar_ids).items():
            own[str(cid)] += amount
    with_jobs = dict(own)
    for c in sorted(customers, key=lambda c: -c.get("Level", 0)):
        parent = (c.get("ParentRef") or {}).get("value")
        if parent is not None:
            with_jobs[str(parent)] = with_jobs.get(str(parent), Decimal(0)) + with_jobs.get(
                c["Id"], Decimal(0)
            )
    for c in customers:
        c["Balance"] = _num(own.get(c["Id"], Decimal(0)))
        c["BalanceWithJobs"] = _num(with_jobs.get(c["Id"], Decimal(0)))


def load_files(
    store: Store, realm_id: str, paths: Iterable[Path], *, company_name: str | None = None
) -> Loaded:
    """Load the files into ``realm_id`` (created if absent); returns objects loaded per entity, and
    in ``.skipped`` one line per entity the sandbox does not hold (those records are left out).

    Everything is checked before anything is written, so a bad line leaves the store untouched."""
    staged = read_files(paths)
    skipped = _skip_lines(staged)
    if not staged.csv_sales and not any(staged.objects.values()):
        raise LoadError("nothing to load: " + ("; ".join(skipped) or "the files hold no records"))
    names = _Names(store, realm_id)
    _csv_sales(staged, names)
    ids = _Ids(store, realm_id, staged)
    customers = _customers(staged, ids, names)
    items_by_name: dict[str, str] = {}
    for entity in LOAD_ORDER:
        if entity == "Customer":
            continue
        for obj, where in staged.objects.get(entity, []):
            _complete_common(obj, entity, ids, where)
            if entity in catalog.NAME_LISTS:
                obj.setdefault("Active", True)
                obj.setdefault("FullyQualifiedName", obj.get("Name", ""))
                if entity == "Item":
                    items_by_name[str(obj.get("Name", "")).casefold()] = obj["Id"]
                continue
            if entity == "JournalEntry":
                _journal(obj, names, where)
                continue
            _customer_ref(obj, names, where)
            if "TxnDate" not in obj:
                raise LoadError(f"{where}: {entity} has no TxnDate")
            if entity != "Payment":
                total = _lines_total(obj, where)
                obj["TotalAmt"] = _num(_money(obj.get("TotalAmt", total), where, "TotalAmt"))
                for line in obj.get("Line") or []:
                    detail = line.get("SalesItemLineDetail") or {}
                    iref = detail.get("ItemRef") or {}
                    if "value" not in iref and iref.get("name", "").casefold() in items_by_name:
                        iref["value"] = items_by_name[iref["name"].casefold()]
                if entity in ("SalesReceipt", "RefundReceipt"):
                    obj["Balance"] = 0
    held = getattr(store, "ar_account_ids", None)
    known = held(realm_id) if held is not None and store.has_realm(realm_id) else frozenset()
    _balances(staged, customers, known)
    if not store.has_realm(realm_id):
        store.create_realm(
            realm_id, company_info={"CompanyName": company_name or f"Imported {realm_id}", "Country": "US"}
        )
    counts: dict[str, int] = {}
    for entity in LOAD_ORDER:
        objs = [o for o, _ in staged.objects.get(entity, [])]
        if objs:
            counts[entity] = store.bulk_load(realm_id, entity, objs)
    for entity in staged.objects:
        if entity not in LOAD_ORDER and staged.objects[entity]:
            counts[entity] = store.bulk_load(realm_id, entity, [o for o, _ in staged.objects[entity]])
    return Loaded(counts, skipped)


def iter_entities(staged: _Staged) -> Iterator[tuple[str, dict[str, Any]]]:
    for entity, objs in staged.objects.items():
        for obj, _ in objs:
            yield entity, obj
