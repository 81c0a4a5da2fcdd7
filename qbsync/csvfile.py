"""The one CSV writer: every CSV file or CSV output qbsync produces goes through here, shaped for its reader.

(It also opens the CSV files users give qbsync, ``reading``: one place that turns a file that is not
UTF-8 text, or is broken, into one clear error.)

A CSV has one of two readers, and the writer is told which (``Audience``):

``SPREADSHEET``  a person opens it in Excel, LibreOffice or Google Sheets (rule findings, plans,
                 reports, call and collections lists). A text cell starting with ``=``, ``+``,
                 ``-``, ``@``, TAB or CR is taken for a formula, so it gets a leading apostrophe
                 (OWASP "CSV Injection"); every cell is quoted, so a ``;`` or a CR inside a cell
                 cannot start a new cell or row in any locale; lines end CRLF (RFC 4180); ``bom``
                 puts a UTF-8 byte-order mark first, which Excel needs to read UTF-8 on double-click.
``IMPORTER``     a program reads it (Mailchimp, HubSpot). Cells go out exactly as they are: an
                 apostrophe would be imported as part of the value (neither importer strips it);
                 phone numbers (``Phone`` cells) are written in E.164 (``+61288209162``) where they
                 parse as a full number of their country, as written otherwise; quoting only where
                 needed; no BOM (both importers read plain UTF-8).

Values we format ourselves are not user text and are never neutralised: numbers (``-12.50`` is a
negative amount, not a formula), dates, booleans, and ``SafeCell`` strings.
"""

from __future__ import annotations

import contextlib
import csv
import enum
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from qbsync.errors import InputError
from qbsync.files import atomic_writer

#: What makes Excel, LibreOffice and Google Sheets read a cell as a formula (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


class Audience(enum.Enum):
    """Who reads the file: a person in a spreadsheet, or a program's importer."""

    SPREADSHEET = "spreadsheet"
    IMPORTER = "importer"


SPREADSHEET = Audience.SPREADSHEET
IMPORTER = Audience.IMPORTER


def neutralise(text: str) -> str:
    """``text`` made inert for spreadsheets: a leading apostrophe before any formula trigger."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class SafeCell(str):
    """A string we produced ourselves (a formatted amount like ``-12.50``): written as is."""

    __slots__ = ()


@dataclass(frozen=True)
class Phone:
    """A phone number as the customer record holds it, and the country (ISO alpha-2) to read it in."""

    raw: str
    region: str | None = None

    def e164(self) -> str | None:
        """``+61288209162`` when the number parses as a full number of its country (the length its
        numbering plan allows, area code included), else None. Full, not "valid": phonenumbers' list of
        assigned ranges lags the numbering plans, and a number outside it is still that number."""
        import phonenumbers  # only exports need it; keeps the CLI's start-up light

        try:
            parsed = phonenumbers.parse(self.raw, self.region)
        except phonenumbers.NumberParseException:
            return None
        if phonenumbers.is_possible_number_with_reason(parsed) != phonenumbers.ValidationResult.IS_POSSIBLE:
            return None  # too short or long, or a local number without its area code: nothing to guess
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def cell(value: Any, audience: Audience = SPREADSHEET) -> str:
    """One value as the text of a cell for ``audience``."""
    kind = type(value)
    if kind is str:  # the commonest first: text, made inert for a spreadsheet
        return neutralise(value) if audience is SPREADSHEET else value
    if kind is SafeCell:
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Phone):
        if audience is IMPORTER:
            return value.e164() or value.raw.strip()
        return neutralise(value.raw)
    text = str(value)
    return neutralise(text) if audience is SPREADSHEET else text


class CsvWriter:
    """Rows written one at a time to a text handle, for ``audience`` (see the module docstring)."""

    def __init__(self, out: TextIO, header: Sequence[str], *, audience: Audience = SPREADSHEET,
                 bom: bool = False) -> None:
        self.audience = audience
        if bom and audience is SPREADSHEET:
            out.write(BOM)
        if audience is SPREADSHEET:
            self._writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        else:
            self._writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        self._writer.writerow([cell(h, audience) for h in header])
        self.rows = 0

    def row(self, values: Iterable[Any]) -> None:
        self._writer.writerow([cell(v, self.audience) for v in values])
        self.rows += 1

    def rows_from(self, rows: Iterable[Iterable[Any]]) -> int:
        for values in rows:
            self.row(values)
        return self.rows


def csv_text(header: Sequence[str], rows: Iterable[Iterable[Any]], *, audience: Audience = SPREADSHEET,
             bom: bool = False) -> str:
    """The whole CSV as a string (for printing, or ``--output`` through an atomic write)."""
    buf = io.StringIO()
    CsvWriter(buf, header, audience=audience, bom=bom).rows_from(rows)
    return buf.getvalue()


def write_csv(path: Path | str, header: Sequence[str], rows: Iterable[Iterable[Any]], *,
              audience: Audience = SPREADSHEET, bom: bool = False) -> int:
    """Stream ``rows`` into ``path`` atomically (never a half-written file); returns the row count."""
    with atomic_writer(path) as fh:
        return CsvWriter(fh, header, audience=audience, bom=bom).rows_from(rows)


@contextlib.contextmanager
def reading(path: Path) -> Iterator[TextIO]:
    """A user's CSV opened as UTF-8 text (a BOM is fine); whatever breaks while the block reads it is
    one InputError naming the file and the fix: missing, binary, not UTF-8, or a field the csv module
    refuses (over its 128 KiB limit: nearly always a quote opened and never closed)."""
    try:
        with path.open("rb") as raw:
            binary = b"\0" in raw.read(8192)
        fh = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", hint="check the path") from None
    with fh:
        if binary:
            raise InputError(f"{path} is not a text file (it holds binary data)",
                             hint="export the data as CSV (comma, semicolon or tab separated) and pass that")
        try:
            yield fh
        except UnicodeDecodeError as exc:
            raise InputError(f"{path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
                             f"{exc.start:,} of a block)",
                             hint="save it as 'CSV UTF-8' (Excel: File > Save As > CSV UTF-8; LibreOffice: "
                                  "character set Unicode (UTF-8))") from None
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise InputError(f"{path}: a field is longer than {csv.field_size_limit():,} characters, "
                                 "which is nearly always a quote opened and never closed",
                                 hint="open the file in a text editor and close the quote (or remove the "
                                      "stray one) where the field starts") from None
            raise InputError(f"{path} is not a CSV file qbsync can read: {exc}",
                             hint="export it again as CSV") from None
