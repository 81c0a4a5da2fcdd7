"""Which QBO JSON field fills which cache column: the declarative mapping that ``jsonsql`` compiles to SQL.

Unknown fields are ignored (newer minor versions add some), absent optional fields become NULL,
MetaData times are read with their offsets into UTC, and names are kept exactly as QBO sends them
(a deactivated record's " (deleted)" suffix included: the rules strip it). Where a column lists
several paths, the first one present wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Literal

JsonDict = dict[str, Any]
Path = tuple[str, ...]

#: entity -> table name of the mirrored rows
TABLES: dict[str, str] = {
    "Department": "departments",
    "Class": "classes",
    "Item": "items",
    "Customer": "customers",
    "Invoice": "invoices",
    "Payment": "payments",
    "SalesReceipt": "sales_receipts",
    "CreditMemo": "credit_memos",
    "Estimate": "estimates",
}

#: entities whose SalesItemLines go to ``sales_lines``
SALES_LINE_ENTITIES = frozenset({"Invoice", "SalesReceipt", "CreditMemo", "Estimate"})

#: how a JSON value becomes a column value:
#: text (as sent), ref (a Ref's non-empty ``value``), bool (true/false or "true"), money (2 places, NULL
#: when absent), money0 (absent is 0), int0 (absent is 0), time (UTC), date (first 10 characters),
#: txn_date (TxnDate, else the UTC day of CreateTime: the column is NOT NULL), voided (PrivateNote
#: starts with "Voided" and TotalAmt is 0: how QBO keeps a voided transaction)
Kind = Literal["text", "ref", "bool", "money", "money0", "int0", "time", "date", "txn_date", "voided"]


@dataclass(frozen=True)
class Field:
    """One cache column filled from the first present of ``paths`` in the QBO object."""

    column: str
    kind: Kind
    paths: tuple[Path, ...] = ()
    default: str | bool | None = None  # text: value when absent; bool: value when absent


def _f(column: str, kind: Kind, *paths: str, default: str | bool | None = None) -> Field:
    return Field(column, kind, tuple(tuple(p.split(".")) for p in paths), default)


ID = ("Id",)
SYNC_TOKEN = ("SyncToken",)

#: columns every mirrored row has besides realm_id, id, raw and seen_at
COMMON = (
    _f("sync_token", "text", "SyncToken", default="0"),
    _f("created_at", "time", "MetaData.CreateTime"),
    _f("updated_at", "time", "MetaData.LastUpdatedTime"),
)

_NAME_LIST = (
    _f("name", "text", "Name", "DisplayName", default=""),
    _f("fully_qualified_name", "text", "FullyQualifiedName"),
    _f("parent_id", "ref", "ParentRef.value"),
    _f("active", "bool", "Active", default=True),
)

_TXN = (
    _f("customer_id", "ref", "CustomerRef.value"),
    _f("txn_date", "txn_date", "TxnDate", "MetaData.CreateTime"),
    _f("doc_number", "text", "DocNumber"),
    _f("total_amt", "money0", "TotalAmt"),
    _f("department_id", "ref", "DepartmentRef.value"),
    _f("class_id", "ref", "ClassRef.value"),
    _f("currency", "ref", "CurrencyRef.value"),
    _f("private_note", "text", "PrivateNote"),
)

#: entity -> its own columns (after COMMON)
FIELDS: dict[str, tuple[Field, ...]] = {
    "Department": _NAME_LIST,
    "Class": _NAME_LIST,
    "Item": (*_NAME_LIST, _f("type", "text", "Type"), _f("unit_price", "money", "UnitPrice")),
    "Customer": (
        _f("display_name", "text", "DisplayName", default=""),
        _f("title", "text", "Title"),
        _f("given_name", "text", "GivenName"),
        _f("middle_name", "text", "MiddleName"),
        _f("family_name", "text", "FamilyName"),
        _f("suffix", "text", "Suffix"),
        _f("company_name", "text", "CompanyName"),
        _f("fully_qualified_name", "text", "FullyQualifiedName"),
        _f("email", "text", "PrimaryEmailAddr.Address"),
        _f("phone", "text", "PrimaryPhone.FreeFormNumber"),
        _f("mobile", "text", "Mobile.FreeFormNumber"),
        _f("bill_line1", "text", "BillAddr.Line1"),
        _f("bill_line2", "text", "BillAddr.Line2"),
        _f("bill_city", "text", "BillAddr.City"),
        _f("bill_region", "text", "BillAddr.CountrySubDivisionCode"),
        _f("bill_postal_code", "text", "BillAddr.PostalCode"),
        _f("bill_country", "text", "BillAddr.Country"),
        _f("active", "bool", "Active", default=True),
        _f("job", "bool", "Job", default=False),
        _f("parent_id", "ref", "ParentRef.value"),
        _f("level", "int0", "Level"),
        _f("bill_with_parent", "bool", "BillWithParent", default=False),
        _f("customer_type_id", "ref", "CustomerTypeRef.value"),
        _f("balance", "money0", "Balance"),
        _f("balance_with_jobs", "money0", "BalanceWithJobs", "Balance"),
        _f("currency", "ref", "CurrencyRef.value"),
    ),
    "Invoice": (
        *_TXN,
        _f("due_date", "date", "DueDate"),
        _f("balance", "money0", "Balance"),
        _f("voided", "voided", "PrivateNote", "TotalAmt"),
    ),
    "Payment": (*_TXN, _f("unapplied_amt", "money0", "UnappliedAmt")),
    "SalesReceipt": _TXN,
    "CreditMemo": (*_TXN, _f("balance", "money0", "RemainingCredit", "Balance")),
    "Estimate": (
        *_TXN,
        _f("txn_status", "text", "TxnStatus"),
        _f("expiration_date", "date", "ExpirationDate"),
    ),
}

#: child rows: a SalesItemLine (top level or inside a group line) -> sales_lines
SALES_LINE = (
    _f("item_id", "ref", "SalesItemLineDetail.ItemRef.value"),
    _f("class_id", "ref", "SalesItemLineDetail.ClassRef.value"),  # else the transaction's ClassRef
    _f("qty", "money", "SalesItemLineDetail.Qty"),
    _f("amount", "money0", "Amount"),
)

#: child rows: one per (payment line, LinkedTxn with a TxnId) -> payment_links; the amount is the line's
PAYMENT_LINK = (
    _f("txn_id", "text", "TxnId"),
    _f("txn_type", "text", "TxnType", default=""),
)


def fields(entity: str) -> tuple[Field, ...]:
    try:
        return (*COMMON, *FIELDS[entity])
    except KeyError:
        raise ValueError(f"qbsync does not mirror {entity}") from None


def is_deleted_stub(obj: JsonDict) -> bool:
    """A CDC ``{"status": "Deleted", "Id": ...}`` stub of a hard-deleted transaction."""
    return str(obj.get("status", "")).lower() == "deleted"


def is_voided(obj: JsonDict) -> bool:
    """The ``voided`` kind read from one object in Python (``jsonsql`` compiles the same rule to SQL):
    PrivateNote starts with "Voided" (case and surrounding blanks aside) and TotalAmt is 0 to the cent."""
    note = obj.get("PrivateNote")
    if not isinstance(note, str) or not note.strip(" \t\r\n").lower().startswith("voided"):
        return False
    amount = obj.get("TotalAmt")
    if isinstance(amount, bool) or not isinstance(amount, int | float | str):
        return True  # absent or not a number: the column reads it as 0
    try:
        return Decimal(str(amount).strip()).quantize(Decimal("0.01"), ROUND_HALF_UP) == 0
    except InvalidOperation:
        return True


def parse_time(value: Any) -> datetime | None:
    """An ISO date-time with offset (QBO MetaData) as an aware UTC datetime; no offset means UTC."""
    if not value or not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)
