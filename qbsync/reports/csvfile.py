"""Spreadsheet-safe CSV: formulas neutralised, every cell quoted, UTF-8 (optional BOM), atomic writes.

A cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return is taken for a formula by
Excel, LibreOffice and Google Sheets; OWASP's advice is to prefix such text with a single quote
and to quote every field (so a ``;`` inside a cell cannot start a new cell in locales that use it
as the separator). Numbers we format ourselves (``-12.50``) are not user text and stay numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from qbsync.files import write_atomic

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """``text`` made inert for spreadsheets: a leading quote before any formula trigger."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class SafeCell(str):
    """A string we produced ourselves (a formatted amount like ``-12.50``): written as is."""

    __slots__ = ()


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, SafeCell):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return neutralise(str(value))


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]], *, bom: bool = False) -> str:
    buf = io.StringIO()
    if bom:
        buf.write("\ufeff")
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in header])
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return buf.getvalue()


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]], *, bom: bool = False) -> None:
    write_atomic(path, csv_text(header, rows, bom=bom))
