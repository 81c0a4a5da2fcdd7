"""The one shape every report hands to the renderer: typed columns, rows of exact values, totals, notes."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal

#: How a column's values are shown: money and shares are Decimals rounded only when rendered.
Kind = Literal["text", "money", "int", "share", "date", "number"]


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    kind: Kind = "text"


@dataclass
class Table:
    """A report ready to render: ``rows`` hold raw values (Decimal, date, int, str, None)."""

    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    totals: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)  # JSON-able facts about the run (as_of, period)


def record(obj: Any) -> dict[str, Any]:
    """A dataclass instance's fields as a table row (a new dict: the renderer may add keys to it).
    Works for classes with ``__slots__``, which ``vars`` does not."""
    return {f.name: getattr(obj, f.name) for f in fields(obj)}
