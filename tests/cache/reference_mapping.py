"""The reference mapping of QBO JSON to cache rows in Python: the oracle for the database-side mapping.

qbsync maps pages inside the database (``qbsync.cache.jsonsql``); this is the same mapping written
independently, object by object. Pure functions; unknown fields are ignored (newer minor versions
add some), absent optional fields become NULL, MetaData times are parsed with their offsets into
UTC, and names are kept exactly as QBO sends them (a deactivated record's " (deleted)" suffix
included: the rules strip it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

# the Python time parser the sync's bookmarks use; the database mapping under test does not call it
from qbsync.cache.mapping import parse_time

# which child tables an entity has is a shared fact (the registry), not mapping logic to check
from qbsync.cache.models import entity as declared

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

JsonDict = dict[str, Any]
Row = dict[str, Any]

@dataclass
class Mapped:
    """One QBO object as cache rows: the entity's row plus its payment links / sales lines."""

    row: Row
    payment_links: list[Row] = field(default_factory=list)
    sales_lines: list[Row] = field(default_factory=list)
    journal_lines: list[Row] = field(default_factory=list)


def parse_date(value: Any) -> date | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def money(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _zero(value: Any) -> Decimal:
    m = money(value)
    return m if m is not None else Decimal("0")


def ref(obj: JsonDict, key: str) -> str | None:
    r = obj.get(key)
    if isinstance(r, dict):
        v = r.get("value")
        return None if v is None or v == "" else str(v)
    return None


def _dict(obj: JsonDict, key: str) -> JsonDict:
    v = obj.get(key)
    return v if isinstance(v, dict) else {}


def _text(obj: JsonDict, key: str) -> str | None:
    v = obj.get(key)
    return None if v is None else str(v)


def _sub(obj: JsonDict, key: str, sub: str) -> str | None:
    v = obj.get(key)
    if isinstance(v, dict) and v.get(sub) is not None:
        return str(v[sub])
    return None


def _bool(obj: JsonDict, key: str, default: bool) -> bool:
    v = obj.get(key)
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        return v.strip().lower() == "true"
    return default


def _common(realm_id: str, obj: JsonDict, seen_at: datetime | None) -> Row:
    meta = _dict(obj, "MetaData")
    return {
        "realm_id": realm_id,
        "id": str(obj["Id"]),
        "sync_token": str(obj.get("SyncToken", "0")),
        "created_at": parse_time(meta.get("CreateTime")),
        "updated_at": parse_time(meta.get("LastUpdatedTime")),
        "raw": obj,
        "seen_at": seen_at,
    }


def _customer(row: Row, obj: JsonDict) -> None:
    bill = _dict(obj, "BillAddr")
    row.update(
        display_name=str(obj.get("DisplayName", "")),
        title=_text(obj, "Title"),
        given_name=_text(obj, "GivenName"),
        middle_name=_text(obj, "MiddleName"),
        family_name=_text(obj, "FamilyName"),
        suffix=_text(obj, "Suffix"),
        company_name=_text(obj, "CompanyName"),
        fully_qualified_name=_text(obj, "FullyQualifiedName"),
        email=_sub(obj, "PrimaryEmailAddr", "Address"),
        phone=_sub(obj, "PrimaryPhone", "FreeFormNumber"),
        mobile=_sub(obj, "Mobile", "FreeFormNumber"),
        bill_line1=_text(bill, "Line1"),
        bill_line2=_text(bill, "Line2"),
        bill_city=_text(bill, "City"),
        bill_region=_text(bill, "CountrySubDivisionCode"),
        bill_postal_code=_text(bill, "PostalCode"),
        bill_country=_text(bill, "Country"),
        active=_bool(obj, "Active", True),
        job=_bool(obj, "Job", False),
        parent_id=ref(obj, "ParentRef"),
        level=int(obj.get("Level") or 0),
        bill_with_parent=_bool(obj, "BillWithParent", False),
        customer_type_id=ref(obj, "CustomerTypeRef"),
        balance=_zero(obj.get("Balance")),
        balance_with_jobs=_zero(obj.get("BalanceWithJobs", obj.get("Balance"))),
        currency=ref(obj, "CurrencyRef"),
    )


def _txn(row: Row, obj: JsonDict) -> None:
    row.update(
        customer_id=ref(obj, "CustomerRef"),
        # TxnDate is always set by QBO; the creation day stands in so the NOT NULL column never fails.
        txn_date=parse_date(obj.get("TxnDate")) or (row["created_at"] or _EPOCH).date(),
        doc_number=_text(obj, "DocNumber"),
        total_amt=_zero(obj.get("TotalAmt")),
        department_id=ref(obj, "DepartmentRef"),
        class_id=ref(obj, "ClassRef"),
        currency=ref(obj, "CurrencyRef"),
        private_note=_text(obj, "PrivateNote"),
    )


def is_voided(obj: JsonDict) -> bool:
    """QBO voids keep the transaction with zero amounts and PrivateNote "Voided"."""
    note = str(obj.get("PrivateNote") or "")
    return note.strip().lower().startswith("voided") and _zero(obj.get("TotalAmt")) == 0


def _sale(row: Row, obj: JsonDict) -> None:
    """A transaction that makes sales: its sales tax and whether it was voided."""
    _txn(row, obj)
    row.update(total_tax=_zero(_dict(obj, "TxnTaxDetail").get("TotalTax")), voided=is_voided(obj))


def _invoice(row: Row, obj: JsonDict) -> None:
    _sale(row, obj)
    row.update(due_date=parse_date(obj.get("DueDate")), balance=_zero(obj.get("Balance")))


def _payment(row: Row, obj: JsonDict) -> None:
    _txn(row, obj)
    row.update(unapplied_amt=_zero(obj.get("UnappliedAmt")), voided=is_voided(obj))


def _credit_memo(row: Row, obj: JsonDict) -> None:
    _sale(row, obj)
    row["balance"] = _zero(obj.get("RemainingCredit", obj.get("Balance")))


def _estimate(row: Row, obj: JsonDict) -> None:
    _txn(row, obj)
    row.update(txn_status=_text(obj, "TxnStatus"), expiration_date=parse_date(obj.get("ExpirationDate")))


def _name_list(row: Row, obj: JsonDict) -> None:
    row.update(
        name=str(obj.get("Name", obj.get("DisplayName", ""))),
        fully_qualified_name=_text(obj, "FullyQualifiedName"),
        parent_id=ref(obj, "ParentRef"),
        active=_bool(obj, "Active", True),
    )


def _item(row: Row, obj: JsonDict) -> None:
    _name_list(row, obj)
    row.update(type=_text(obj, "Type"), unit_price=money(obj.get("UnitPrice")))


def _account(row: Row, obj: JsonDict) -> None:
    _name_list(row, obj)
    row.update(account_type=_text(obj, "AccountType"), account_sub_type=_text(obj, "AccountSubType"),
               classification=_text(obj, "Classification"))


def _journal_entry(row: Row, obj: JsonDict) -> None:
    row.update(
        txn_date=parse_date(obj.get("TxnDate")) or (row["created_at"] or _EPOCH).date(),
        doc_number=_text(obj, "DocNumber"), total_amt=_zero(obj.get("TotalAmt")),
        adjustment=_bool(obj, "Adjustment", False), currency=ref(obj, "CurrencyRef"),
        private_note=_text(obj, "PrivateNote"))


_FILLERS: dict[str, Callable[[Row, JsonDict], None]] = {
    "Department": _name_list,
    "Class": _name_list,
    "Item": _item,
    "Account": _account,
    "Customer": _customer,
    "Invoice": _invoice,
    "Payment": _payment,
    "SalesReceipt": _sale,
    "CreditMemo": _credit_memo,
    "RefundReceipt": _sale,
    "Estimate": _estimate,
    "JournalEntry": _journal_entry,
}


def _sales_item_lines(lines: Any) -> Iterator[JsonDict]:
    """SalesItemLines in document order, including those nested in group lines (bundles)."""
    if not isinstance(lines, list):
        return
    for line in lines:
        if not isinstance(line, dict):
            continue
        if line.get("DetailType") == "SalesItemLineDetail":
            yield line
        elif line.get("DetailType") == "GroupLineDetail":
            group = line.get("GroupLineDetail")
            if isinstance(group, dict):
                yield from _sales_item_lines(group.get("Line"))


def sales_lines(realm_id: str, entity: str, obj: JsonDict) -> list[Row]:
    out: list[Row] = []
    for n, line in enumerate(_sales_item_lines(obj.get("Line")), start=1):
        detail = _dict(line, "SalesItemLineDetail")
        out.append({
            "realm_id": realm_id, "txn_type": entity, "txn_id": str(obj["Id"]), "line_no": n,
            "item_id": ref(detail, "ItemRef"), "class_id": ref(detail, "ClassRef") or ref(obj, "ClassRef"),
            "qty": money(detail.get("Qty")), "amount": _zero(line.get("Amount")),
        })
    return out


def payment_links(realm_id: str, obj: JsonDict) -> list[Row]:
    """One row per (payment line, linked transaction); a line may link several transactions."""
    out: list[Row] = []
    lines = obj.get("Line")
    for line in lines if isinstance(lines, list) else []:
        if not isinstance(line, dict):
            continue
        linked = [t for t in line.get("LinkedTxn") or [] if isinstance(t, dict) and t.get("TxnId")]
        for txn in linked:
            out.append({
                "realm_id": realm_id, "payment_id": str(obj["Id"]), "line_no": len(out) + 1,
                "txn_id": str(txn["TxnId"]), "txn_type": str(txn.get("TxnType", "")),
                "amount": _zero(line.get("Amount")),
            })
    return out


def journal_lines(realm_id: str, obj: JsonDict) -> list[Row]:
    """One row per JournalEntryLineDetail line, in document order."""
    out: list[Row] = []
    lines = obj.get("Line")
    for line in lines if isinstance(lines, list) else []:
        if not isinstance(line, dict) or line.get("DetailType") != "JournalEntryLineDetail":
            continue
        detail = _dict(line, "JournalEntryLineDetail")
        who = _dict(detail, "Entity")
        out.append({
            "realm_id": realm_id, "txn_type": "JournalEntry", "txn_id": str(obj["Id"]),
            "line_no": len(out) + 1,
            "posting_type": _text(detail, "PostingType"), "account_id": ref(detail, "AccountRef"),
            "entity_type": _text(who, "Type"), "entity_id": ref(who, "EntityRef"),
            "class_id": ref(detail, "ClassRef"), "department_id": ref(detail, "DepartmentRef"),
            "amount": _zero(line.get("Amount")),
        })
    return out


def map_object(entity: str, realm_id: str, obj: JsonDict, seen_at: datetime | None = None) -> Mapped:
    """The cache rows for one QBO object of ``entity`` (not a deleted stub)."""
    try:
        fill = _FILLERS[entity]
    except KeyError:
        raise ValueError(f"qbsync does not mirror {entity}") from None
    row = _common(realm_id, obj, seen_at)
    fill(row, obj)
    mapped = Mapped(row)
    children = {child.table for child in declared(entity).children}
    if "payment_links" in children:
        mapped.payment_links = payment_links(realm_id, obj)
    if "sales_lines" in children:
        mapped.sales_lines = sales_lines(realm_id, entity, obj)
    if "journal_lines" in children:
        mapped.journal_lines = journal_lines(realm_id, obj)
    return mapped
