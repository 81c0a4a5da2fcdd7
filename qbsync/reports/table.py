"""The one shape every report hands to the renderer: typed columns, rows of exact values, totals, notes."""

from __future__ import annotations

from dataclasses import dataclass, field
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
