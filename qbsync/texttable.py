"""Plain aligned text tables and human times for a terminal (CSV and JSON keep values whole)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any


def human_time(value: datetime | date) -> str:
    """``2026-12-05 14:03:07 UTC``: to the second, with the zone; a date as ``2026-12-05``."""
    if not isinstance(value, datetime):
        return value.isoformat()
    text = value.strftime("%Y-%m-%d %H:%M:%S")
    if value.tzinfo is None:
        return text
    offset = value.utcoffset()
    return f"{text} UTC" if not offset else f"{text} {value.strftime('%z')[:3]}:{value.strftime('%z')[3:]}"


def shown(value: Any) -> str:
    """One value as a person reads it in a table."""
    if value is None:
        return ""
    if isinstance(value, dict):  # counts: "applied 38, skipped 2", not a Python dict
        return ", ".join(f"{k} {n}" for k, n in sorted(value.items()))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime | date):
        return human_time(value)
    return str(value).replace("\n", " ")


def aligned(columns: Sequence[str], rows: Sequence[dict[str, Any]], *, width: int = 60) -> str:
    """Rows (dicts) under their column names, left-aligned; long cells are cut at ``width``."""
    def cell(v: Any) -> str:
        text = shown(v)
        return text if len(text) <= width else text[:width - 1] + "…"

    cells = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines) + "\n"
