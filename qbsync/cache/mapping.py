"""How a QBO JSON field fills a cache column: the vocabulary each mirrored column is declared with.

A mirrored model declares every column QBO fills with ``qbo_column(kind, *paths)`` (``models.py``);
``jsonsql`` compiles those declarations to SQL, so a page of JSON becomes rows inside the database.
Child rows (a transaction's sales lines, a payment's links) are declared once here as ``Child``
tables that an entity lists. Unknown fields are ignored (newer minor versions add some), absent
optional fields become NULL, MetaData times are read with their offsets into UTC, and names are
kept exactly as QBO sends them (a deactivated record's " (deleted)" suffix included: the rules
strip it). Where a column lists several paths, the first one present wins.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Literal

from sqlalchemy import Boolean, Date, Integer, String
from sqlalchemy.orm import MappedColumn, mapped_column
from sqlalchemy.types import TypeEngine

from qbsync.cache.types import Money, UTCDateTime

JsonDict = dict[str, Any]
Path = tuple[str, ...]

#: how a JSON value becomes a column value:
#: text (as sent), ref (a Ref's non-empty ``value``), bool (true/false or "true"), money (2 places, NULL
#: when absent), money0 (absent is 0), int0 (absent is 0), time (UTC), date (first 10 characters),
#: txn_date (TxnDate, else the UTC day of CreateTime: the column is NOT NULL), voided (PrivateNote
#: starts with "Voided" and TotalAmt is 0: how QBO keeps a voided transaction)
Kind = Literal["text", "ref", "bool", "money", "money0", "int0", "time", "date", "txn_date", "voided"]

#: the column type each kind gets unless the declaration names one (text always names its own)
_TYPES: dict[str, TypeEngine[Any] | None] = {
    "text": None, "ref": String(32), "bool": Boolean(), "money": Money(), "money0": Money(),
    "int0": Integer(), "time": UTCDateTime(), "date": Date(), "txn_date": Date(), "voided": Boolean(),
}
#: what an ORM insert that leaves the column out stores (the JSON mapping has its own defaults)
_ORM_DEFAULTS: dict[str, Any] = {"money0": Decimal("0"), "int0": 0, "voided": False}


@dataclass(frozen=True)
class Field:
    """One cache column filled from the first present of ``paths`` in the QBO object."""

    column: str
    kind: Kind
    paths: tuple[Path, ...] = ()
    default: str | bool | None = None  # text: value when absent; bool: value when absent


def _paths(paths: tuple[str, ...]) -> tuple[Path, ...]:
    return tuple(tuple(p.split(".")) for p in paths)


def qbo_column(kind: Kind, *paths: str, type_: TypeEngine[Any] | None = None,
               default: str | bool | None = None) -> MappedColumn[Any]:
    """A mirrored column, filled from the first present of ``paths`` (dotted) as ``kind`` says."""
    column_type = type_ if type_ is not None else _TYPES[kind]
    if column_type is None:
        raise ValueError(f"a {kind} column names its type (e.g. String(100))")
    orm_default = default if kind == "bool" else _ORM_DEFAULTS.get(kind)
    extra: dict[str, Any] = {} if orm_default is None else {"default": orm_default}
    return mapped_column(column_type, info={"qbo": (kind, _paths(paths), default)}, **extra)


def fields_of(model: type) -> tuple[Field, ...]:
    """The ``qbo_column`` declarations of ``model``, the most basic class's first (as declared)."""
    table = model.__table__  # type: ignore[attr-defined]
    out: list[Field] = []
    for cls in reversed(model.__mro__):
        for name in inspect.get_annotations(cls):
            col = table.columns.get(name)
            if col is not None and "qbo" in col.info and all(f.column != name for f in out):
                out.append(Field(name, *col.info["qbo"]))
    return tuple(out)


@dataclass(frozen=True)
class Child:
    """A table of child rows filled from each object's ``Line`` array, replaced whenever it is written.

    ``shape`` names the JSON structure: ``lines``, one row per line whose DetailType is ``detail``
    (a group line's inner lines included when ``group_lines``); ``links``, one row per (line,
    ``LinkedTxn`` with a TxnId), ``fields`` read from the linked entry and ``line_fields`` from its
    line. Rows are keyed by realm, ``parent`` (the object's Id), and ``txn_type`` (the entity) when
    ``typed``, then ``line_no`` (1, 2, ... in document order). ``inherit`` gives a column the
    object's own Ref (e.g. a line without a class takes the transaction's ClassRef).
    """

    table: str
    shape: Literal["lines", "links"]
    fields: tuple[Field, ...]
    parent: str = "txn_id"
    typed: bool = True
    detail: str = ""
    group_lines: bool = False
    line_fields: tuple[Field, ...] = ()
    inherit: dict[str, Path] = field(default_factory=dict)


def _f(column: str, kind: Kind, *paths: str, default: str | bool | None = None) -> Field:
    return Field(column, kind, _paths(paths), default)


#: a SalesItemLine (top level or inside a group line) of a sales document -> sales_lines
SALES_LINES = Child(
    "sales_lines", "lines", (
        _f("item_id", "ref", "SalesItemLineDetail.ItemRef.value"),
        _f("class_id", "ref", "SalesItemLineDetail.ClassRef.value"),  # else the transaction's ClassRef
        _f("qty", "money", "SalesItemLineDetail.Qty"),
        _f("amount", "money0", "Amount"),
    ),
    detail="SalesItemLineDetail", group_lines=True, inherit={"class_id": ("ClassRef", "value")})

#: one per (payment line, LinkedTxn with a TxnId) -> payment_links; the amount is the line's
PAYMENT_LINKS = Child(
    "payment_links", "links", (_f("txn_id", "text", "TxnId"), _f("txn_type", "text", "TxnType", default="")),
    parent="payment_id", typed=False, line_fields=(_f("amount", "money0", "Amount"),))


#: what QBO appends to the name of a deactivated name-list record; the cache keeps names as sent
DELETED_SUFFIX = " (deleted)"


def plain_name(name: str) -> str:
    """A name as a person reads it, without the " (deleted)" QBO appends to inactive records."""
    return name[: -len(DELETED_SUFFIX)] if name.endswith(DELETED_SUFFIX) else name


#: one per line of a journal entry -> journal_lines (A/R lines carry the customer in Entity)
JOURNAL_LINES = Child(
    "journal_lines", "lines", (
        _f("posting_type", "text", "JournalEntryLineDetail.PostingType"),
        _f("account_id", "ref", "JournalEntryLineDetail.AccountRef.value"),
        _f("entity_type", "text", "JournalEntryLineDetail.Entity.Type"),
        _f("entity_id", "ref", "JournalEntryLineDetail.Entity.EntityRef.value"),
        _f("class_id", "ref", "JournalEntryLineDetail.ClassRef.value"),
        _f("department_id", "ref", "JournalEntryLineDetail.DepartmentRef.value"),
        _f("amount", "money0", "Amount"),
    ),
    detail="JournalEntryLineDetail")


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
