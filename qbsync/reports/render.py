"""Rendering a report Table as a terminal table, CSV or JSON; the one place amounts are rounded.

Money is rounded half-up to the cent and shares to 0.1 % (table) or 4 decimals (CSV, JSON) here
and nowhere else. JSON carries money as strings ("1234.50") so no reader turns it into a float.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from qbsync.csvfile import SafeCell, csv_text
from qbsync.errors import InputError
from qbsync.files import write_atomic
from qbsync.reports.table import Column, Kind, Table
from qbsync.texttable import human_time

FORMATS = ("table", "csv", "json")
CENT = Decimal("0.01")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _money_text(value: Any) -> str:
    return str(money(value if isinstance(value, Decimal) else Decimal(value)))


def _share_text(value: Any) -> str:
    return str(Decimal(value).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def _number_text(value: Any) -> str:
    return str(Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _other(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


#: how each kind of column is written out (a value that is not None); any other kind: ``_other``
_PLAIN: dict[str, Callable[[Any], Any]] = {"money": _money_text, "share": _share_text, "number": _number_text,
                                           "int": int}


def _plain(value: Any, kind: Kind) -> Any:
    """A JSON-able, rounded value (money and shares as strings, dates ISO)."""
    if value is None:
        return None
    return _PLAIN.get(kind, _other)(value)


def _shown(value: Any, kind: Kind) -> str:
    if value is None:
        return ""
    if kind == "money":
        return f"{money(Decimal(value)):,}"
    if kind == "share":
        pct = (Decimal(value) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        return f"{pct}%"
    if kind in ("int", "number"):
        return str(_plain(value, kind))
    if isinstance(value, datetime | date):
        return human_time(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def to_text(table: Table, *, max_width: int = 40) -> str:
    cols = table.columns
    body = [[_shown(row.get(c.key), c.kind) for c in cols] for row in table.rows]
    foot = [_shown(table.totals.get(c.key), c.kind) for c in cols] if table.totals else None
    cells = [[c.title for c in cols], *body, *([foot] if foot else [])]
    widths = [min(max_width, max(len(r[i]) for r in cells)) for i in range(len(cols))]

    def line(values: list[str]) -> str:
        parts = []
        for value, width, col in zip(values, widths, cols, strict=True):
            value = value if len(value) <= width else value[: width - 1] + "…"
            right = col.kind in ("money", "int", "share", "number")
            parts.append(value.rjust(width) if right else value.ljust(width))
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out = [table.title, line([c.title for c in cols]), rule, *(line(r) for r in body)]
    if foot:
        out += [rule, line(foot)]
    out += table.notes
    return "\n".join(out) + "\n"


def plain(value: Any, kind: Kind) -> Any:
    """A value as JSON carries it (money "1234.50", shares "0.1234", dates ISO)."""
    return _plain(value, kind)


def shown(value: Any, kind: Kind) -> str:
    """A value as the terminal table shows it (money "1,234.50", shares "12.3%")."""
    return _shown(value, kind)


#: kinds whose cells qbsync formats itself (e.g. "-12.50"): written as they are, not as user text
_OWN_FORMAT = frozenset({"money", "share", "number", "int", "date"})


def _csv_cell(kind: Kind) -> Callable[[Any], Any]:
    """The converter of a column's values to CSV cells, chosen once per column (not per cell: a
    100,000-line statement has 1.8 million cells)."""
    plain = _PLAIN.get(kind, _other)
    if kind in _OWN_FORMAT:
        return lambda value: None if value is None else SafeCell(str(plain(value)))
    return lambda value: None if value is None else plain(value)


def csv_rows(table: Table) -> tuple[list[str], list[list[Any]]]:
    header = [c.title for c in table.columns]
    cells = [(c.key, _csv_cell(c.kind)) for c in table.columns]
    rows = [[to_cell(row.get(key)) for key, to_cell in cells] for row in table.rows]
    if table.totals:
        rows.append([to_cell(table.totals.get(key)) for key, to_cell in cells])
    return header, rows


def to_csv(table: Table, *, bom: bool = False) -> str:
    header, rows = csv_rows(table)
    return csv_text(header, rows, bom=bom)


def to_json(table: Table) -> str:
    def obj(row: dict[str, Any]) -> dict[str, Any]:
        return {c.key: _plain(row.get(c.key), c.kind) for c in table.columns}

    doc: dict[str, Any] = {
        "title": table.title,
        "meta": {k: _plain(v, "text") for k, v in table.meta.items()},
        "columns": [{"key": c.key, "title": c.title, "kind": c.kind} for c in table.columns],
        "rows": [obj(r) for r in table.rows],
        "totals": obj(table.totals) if table.totals else None,
        "notes": table.notes,
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render(table: Table, fmt: str, *, bom: bool = False) -> str:
    if fmt == "table":
        return to_text(table)
    if fmt == "csv":
        return to_csv(table, bom=bom)
    if fmt == "json":
        return to_json(table)
    raise InputError(f"unknown format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")


def write(table: Table, fmt: str, path: Path, *, bom: bool = False) -> None:
    write_atomic(path, render(table, fmt, bom=bom))


__all__ = ["FORMATS", "Column", "Table", "csv_rows", "money", "plain", "render", "shown", "to_csv", "to_json",
           "to_text", "write"]
