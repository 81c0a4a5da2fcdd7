"""What a transaction posts to its customers' Accounts Receivable: the open amount per customer."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from qbsync.sandbox import wire

AR_NAME_PREFIX = "accounts receivable"


def is_ar_account(ref: Any, ar_ids: frozenset[str]) -> bool:
    """An ``AccountRef`` names Accounts Receivable: an Account of that type in the company, or (for a
    company whose chart of accounts the sandbox does not hold) a name starting "Accounts Receivable"."""
    if not isinstance(ref, dict):
        return False
    if str(ref.get("value", "")) in ar_ids:
        return True
    return str(ref.get("name", "")).strip().lower().startswith(AR_NAME_PREFIX)


def journal_lines(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The journal lines of a JournalEntry (its ``JournalEntryLineDetail`` lines)."""
    return [line for line in obj.get("Line", []) or []
            if isinstance(line, dict) and isinstance(line.get("JournalEntryLineDetail"), dict)]


def line_customer(detail: dict[str, Any]) -> int | None:
    entity = detail.get("Entity")
    if not isinstance(entity, dict) or str(entity.get("Type", "")).lower() != "customer":
        return None
    ref = entity.get("EntityRef")
    value = str(ref.get("value", "")) if isinstance(ref, dict) else ""
    return int(value) if value.isdigit() else None


def journal_ar(obj: dict[str, Any], ar_ids: frozenset[str]) -> dict[int, Decimal]:
    """Per customer, what a JournalEntry adds to Accounts Receivable: debits less credits of its lines
    posted to an A/R account with a Customer entity. QuickBooks counts them in the customer's balance."""
    out: dict[int, Decimal] = {}
    for line in journal_lines(obj):
        detail = line["JournalEntryLineDetail"]
        cid = line_customer(detail)
        if cid is None or not is_ar_account(detail.get("AccountRef"), ar_ids):
            continue
        amount = wire.to_decimal(line.get("Amount"))
        sign = -1 if str(detail.get("PostingType", "")).lower() == "credit" else 1
        out[cid] = out.get(cid, Decimal(0)) + sign * amount
    return out

