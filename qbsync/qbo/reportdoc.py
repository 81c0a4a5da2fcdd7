"""A QuickBooks report's JSON (Header, Columns, Rows) read into plain rows, sections kept as paths.

QuickBooks' Reports API answers every report in one shape: ``Columns.Column`` (``ColTitle``,
``ColType``, ``MetaData`` with the ``ColKey``) and ``Rows.Row``, where a row is either data
(``ColData``: one ``{"value", "id"}`` per column; amounts are strings, "" for nothing) or a section
(``Header``, nested ``Rows``, ``Summary``: a group such as a parent customer with its jobs, or an
aging period). This module knows that shape and nothing of what a report means.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from qbsync.errors import ServerError


@dataclass(frozen=True)
class Cell:
    value: str
    id: str | None = None

    def money(self) -> Decimal:
        """The cell as an amount: "" is zero; thousands separators and a trailing % are not expected."""
        text = self.value.strip().replace(",", "")
        if not text:
            return Decimal("0.00")
        try:
            return Decimal(text).quantize(Decimal("0.01"))
        except InvalidOperation:
            raise ServerError(f"QuickBooks' report has {self.value!r} where an amount should be") from None


@dataclass(frozen=True)
class ReportColumn:
    title: str
    type: str
    key: str  # MetaData ColKey when given, else the type


@dataclass
class Section:
    """A group of rows: its header cells, its rows (data rows and sub-sections) and its summary."""

    header: list[Cell]
    rows: list[Row | Section] = field(default_factory=list)
    summary: list[Cell] | None = None
    group: str | None = None

    @property
    def id(self) -> str | None:
        return self.header[0].id if self.header else None


@dataclass
class Row:
    cells: list[Cell]
    group: str | None = None

    @property
    def id(self) -> str | None:
        return self.cells[0].id if self.cells else None


@dataclass
class ReportDoc:
    name: str
    options: dict[str, str]
    header: dict[str, Any]
    columns: list[ReportColumn]
    body: Section  # the whole report as one section (no header)

    def column(self, *keys: str) -> int:
        """The index of the first column whose key, type or title is one of ``keys``."""
        for n, col in enumerate(self.columns):
            if col.key in keys or col.type in keys or col.title in keys:
                return n
        raise ServerError(f"QuickBooks' {self.name} report has no column {' / '.join(keys)}",
                          hint="the report's columns: " + ", ".join(c.title or c.type for c in self.columns))

    def data_rows(self) -> Iterator[tuple[tuple[Section, ...], Row]]:
        """Every data row with the sections it sits in (outermost first)."""
        def walk(section: Section, path: tuple[Section, ...]) -> Iterator[tuple[tuple[Section, ...], Row]]:
            for item in section.rows:
                if isinstance(item, Row):
                    yield path, item
                else:
                    yield from walk(item, (*path, item))
        yield from walk(self.body, ())

    def sections(self) -> Iterator[Section]:
        def walk(section: Section) -> Iterator[Section]:
            for item in section.rows:
                if isinstance(item, Section):
                    yield item
                    yield from walk(item)
        yield from walk(self.body)


def _cells(raw: Any) -> list[Cell]:
    out = []
    for c in raw or []:
        if isinstance(c, Mapping):
            ident = c.get("id")
            out.append(Cell(str(c.get("value", "") or ""), str(ident) if ident not in (None, "") else None))
    return out


def _rows(raw: Any) -> list[Row | Section]:
    rows: list[Row | Section] = []
    for r in (raw or {}).get("Row") or [] if isinstance(raw, Mapping) else []:
        if not isinstance(r, Mapping):
            continue
        if "Header" in r or "Rows" in r or r.get("type") == "Section":
            summary = r.get("Summary")
            rows.append(Section(_cells((r.get("Header") or {}).get("ColData")), _rows(r.get("Rows")),
                                _cells(summary.get("ColData")) if isinstance(summary, Mapping) else None,
                                r.get("group")))
        elif "ColData" in r:
            rows.append(Row(_cells(r.get("ColData")), r.get("group")))
        elif isinstance(r.get("Summary"), Mapping):  # a lone summary row (a grand total)
            rows.append(Section([], [], _cells(r["Summary"].get("ColData")), r.get("group")))
    return rows


def parse(doc: Mapping[str, Any]) -> ReportDoc:
    header = doc.get("Header")
    if not isinstance(header, Mapping):
        raise ServerError("QuickBooks sent a report without its Header")
    columns = []
    for col in (doc.get("Columns") or {}).get("Column") or []:
        meta = {m.get("Name"): m.get("Value") for m in col.get("MetaData") or [] if isinstance(m, Mapping)}
        ctype = str(col.get("ColType", ""))
        columns.append(ReportColumn(str(col.get("ColTitle", "")), ctype, str(meta.get("ColKey") or ctype)))
    options = {str(o.get("Name")): str(o.get("Value")) for o in header.get("Option") or []
               if isinstance(o, Mapping)}
    return ReportDoc(str(header.get("ReportName", "")), options, dict(header), columns,
                     Section([], _rows(doc.get("Rows"))))
