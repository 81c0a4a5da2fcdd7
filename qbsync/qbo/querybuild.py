"""Build QuickBooks query statements safely: quoting, Id lists, paging in a stable order."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

MAX_RESULTS = 1000

#: A name list (customers, items, ...) answers only its active rows unless the WHERE clause mentions
#: Active; this condition asks for both. Which entities are name lists: ``qbsync.cache.models.ENTITIES``.
ACTIVE_OR_NOT = "Active IN (true, false)"


def quote(value: str) -> str:
    """A QBO string literal: single quotes, with backslash and apostrophe escaped by a backslash."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def id_list(ids: Iterable[str]) -> str:
    """``('1', '2')`` for an ``Id IN`` clause; Ids are digit strings, anything else is refused."""
    out = []
    for i in ids:
        s = str(i)
        if not s.isdigit():
            raise ValueError(f"not a QuickBooks Id: {s!r}")
        out.append(quote(s))
    if not out:
        raise ValueError("empty Id list")
    return "(" + ", ".join(out) + ")"


def qbo_datetime(dt: datetime) -> str:
    """An aware datetime as QBO expects it in queries and CDC (ISO 8601 with offset, UTC)."""
    if dt.tzinfo is None:
        raise ValueError("QuickBooks times must be timezone-aware")
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def select(entity: str, where: Sequence[str] = (), *, order_by: str | None = "Id",
           start: int | None = None, max_results: int | None = None,
           include_inactive: bool = False) -> str:
    """``SELECT * FROM entity [WHERE ...] [ORDERBY ...] [STARTPOSITION n] [MAXRESULTS m]``.

    ``include_inactive`` (for a name list) adds ``ACTIVE_OR_NOT`` unless a condition mentions Active.
    """
    conds = list(where)
    if include_inactive and not any("active" in c.lower() for c in conds):
        conds.append(ACTIVE_OR_NOT)
    parts = [f"SELECT * FROM {entity}"]
    if conds:
        parts.append("WHERE " + " AND ".join(conds))
    if order_by:
        parts.append(f"ORDERBY {order_by}")
    if start is not None:
        if start < 1:
            raise ValueError("STARTPOSITION is 1-based")
        parts.append(f"STARTPOSITION {start}")
    if max_results is not None:
        if not 1 <= max_results <= MAX_RESULTS:
            raise ValueError(f"MAXRESULTS must be 1..{MAX_RESULTS}")
        parts.append(f"MAXRESULTS {max_results}")
    return " ".join(parts)


def count(entity: str, where: str | None = None) -> str:
    return f"SELECT COUNT(*) FROM {entity}" + (f" WHERE {where}" if where else "")


_FROM = re.compile(r"\bFROM\s+([A-Za-z]+)", re.IGNORECASE)


def entity_of(statement: str) -> str:
    """The entity a statement reads (``SELECT ... FROM Invoice ...`` -> ``Invoice``; "" if none)."""
    m = _FROM.search(statement)
    return m.group(1) if m else ""
