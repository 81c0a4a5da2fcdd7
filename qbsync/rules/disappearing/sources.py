"""Purchase histories from a CSV log (one row per purchase), for the disappearing rule without a cache.

The log is what a till, a web shop or another ledger exports: a customer and a date per row,
optionally an amount and a name. Rows with a negative amount are returns: they lower revenue and
are not purchase days. Rows without a customer (cash sales) are skipped and counted. Fields are
separated by commas, semicolons, tabs or runs of spaces (CDNOW's transaction files); a log without a
header row names its columns by position (``customer_id=1``).
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np

from qbsync.csvfile import reading
from qbsync.errors import InputError
from qbsync.rules.activity import CustomerActivity

FIELDS = ("customer_id", "date", "amount", "name")

#: Header spellings (lower case, letters and digits only) -> field: common ones, QuickBooks' field
#: names (CustomerRef, CustomerRef.value / .name, TxnDate, TotalAmt) and the columns of its Sales by
#: Customer Detail and Transaction List exports (Date, Customer, Amount).
_ALIASES = {
    "customerid": "customer_id", "customer": "customer_id", "custid": "customer_id", "id": "customer_id",
    "clientid": "customer_id", "customerref": "customer_id", "customerrefvalue": "customer_id",
    "date": "date", "txndate": "date", "invoicedate": "date", "orderdate": "date", "purchasedate": "date",
    "transactiondate": "date", "amount": "amount", "total": "amount", "totalamt": "amount",
    "sales": "amount", "revenue": "amount", "value": "amount", "name": "name", "customername": "name",
    "displayname": "name", "customerrefname": "name",
}
#: Tried in order when no --date-format is given: ISO dates (with or without a time), CDNOW's YYYYMMDD.
_DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y%m%d")


@dataclass(frozen=True)
class PurchaseLog:
    """Each customer's activity, the last date in the log, and what was left out."""

    activities: dict[str, CustomerActivity]
    last_date: date | None
    rows: int
    skipped_no_customer: int
    after_as_of: int
    #: what each purchase day came to, aligned with ``purchase_dates`` (None: the log has no amounts)
    spend: dict[str, list[float]] | None = None
    #: header columns the reader left out (``left_out`` says how to use one)
    ignored: tuple[str, ...] = ()


def _key(header: str) -> str:
    return "".join(ch for ch in header.lower() if ch.isalnum())


def _column_map(header: list[str], columns: Mapping[str, str] | None) -> dict[str, str]:
    """field -> CSV column."""
    out = {}
    for h in header:
        field = _ALIASES.get(_key(h))
        if field and field not in out:
            out[field] = h
    for field, column in (columns or {}).items():
        if column not in header:
            raise InputError(f"--columns {field}={column}: no column '{column}' in the file",
                             hint=f"its columns are {', '.join(header)}")
        out[field] = column
    for needed in ("customer_id", "date"):
        if needed not in out:
            raise InputError(f"no {needed} column found (columns: {', '.join(header)})",
                             hint=f"name it with --columns {needed}=COLUMN")
    return out


def _positions(first: list[str], columns: Mapping[str, str] | None) -> dict[str, int]:
    """field -> 0-based position, for a log without a header."""
    preview = ", ".join(f"{k}={v!r}" for k, v in enumerate(first, start=1))
    if not columns or not {"customer_id", "date"} <= set(columns):
        raise InputError(f"the log has no header row (its first row: {preview})",
                         hint="name the columns by position, e.g. --columns customer_id=1 --columns date=2")
    out = {}
    for field, column in columns.items():
        if not column.isdigit() or not 1 <= int(column) <= len(first):
            raise InputError(f"--columns {field}={column}: the log has no header, so columns are numbers "
                             f"1 to {len(first)}", hint=f"its first row: {preview}")
        out[field] = int(column) - 1
    return out


def _is_date(text: str, date_format: str | None) -> bool:
    try:
        _parse_date(text, date_format)
    except ValueError:
        return False
    return True


def left_out(column: str) -> str:
    """A column the reader left out, with the ``--columns`` line that would use it."""
    import difflib

    close = difflib.get_close_matches(_key(column), list(_ALIASES), n=1, cutoff=0.75)
    if not close:
        return f"'{column}' (not a purchase field)"
    return f"'{column}' (to use it: --columns {_ALIASES[close[0]]}='{column}')"


def _rows(path: Path, columns: Mapping[str, str] | None, date_format: str | None,
          ignored: list[str] | None = None) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, field -> raw text) for every data row of the log."""
    unknown = set(columns or {}) - set(FIELDS)
    if unknown:
        raise InputError(f"unknown field(s) {', '.join(sorted(unknown))} in --columns",
                         hint=f"fields are {', '.join(FIELDS)}")
    with reading(path) as fh:
        first_line = fh.readline()
        sep = next((c for c in (",", "\t", ";") if c in first_line), None)
        first = [f.strip() for f in (next(csv.reader([first_line], delimiter=sep), []) if sep
                                     else first_line.split())]
        # A header names columns: a first row holding a date is already data (CDNOW has no header).
        header = not any(_is_date(f, date_format) for f in first)
        if header:
            named = _column_map(first, columns)
            at = {field: first.index(column) for field, column in named.items()}
            if ignored is not None:
                ignored.extend(c for c in first if c and c not in named.values())
        else:
            at = _positions(first, columns)
        lines = fh if header else itertools.chain([first_line], fh)
        offset = 1 if header else 0
        if sep:
            reader = csv.reader(lines, delimiter=sep)
            rows: Iterator[tuple[int, list[str]]] = ((reader.line_num + offset, values) for values in reader)
        else:
            rows = ((n + offset, text.split()) for n, text in enumerate(lines, start=1))
        for line, values in rows:
            if not any(v.strip() for v in values):
                continue
            yield line, {field: values[k].strip() if k < len(values) else "" for field, k in at.items()}


def _parse_date(text: str, date_format: str | None) -> date:
    formats = (date_format,) if date_format else _DATE_FORMATS
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def load_purchases(path: Path, columns: Mapping[str, str] | None = None, *, as_of: date | None = None,
                   date_format: str | None = None) -> PurchaseLog:
    """Per-customer purchase days and revenue from a purchase log, counting nothing after ``as_of``.

    ``columns`` maps fields (``FIELDS``) to header names, or to 1-based positions when the log has
    no header row.
    """
    days: dict[str, dict[date, Decimal]] = {}  # purchase day -> what was bought that day
    has_amounts = False
    purchases: dict[str, int] = {}
    revenue: dict[str, Decimal] = {}
    recent: dict[str, list[tuple[date, Decimal]]] = {}
    names: dict[str, str] = {}
    rows = skipped = later = 0
    last: date | None = None
    ignored: list[str] = []
    for line, row in _rows(path, columns, date_format, ignored):
        rows += 1
        cid = row["customer_id"]
        if not cid:
            skipped += 1
            continue
        raw_date = row["date"]
        try:
            day = _parse_date(raw_date, date_format)
        except ValueError:
            iso = len(raw_date) >= 10 and raw_date[4] == "-" and raw_date[:4].isdigit()
            hint = ("it looks like a date but is not one on the calendar: correct that row" if iso
                    else "give its format, e.g. --date-format '%d/%m/%Y %H:%M'")
            raise InputError(f"{path}, line {line}: cannot read the date '{raw_date}'",
                             hint=hint) from None
        if as_of is not None and day > as_of:
            later += 1
            continue
        amount = Decimal(0)
        raw_amount = row.get("amount", "").replace(",", "")
        if raw_amount:
            has_amounts = True
            try:
                amount = Decimal(raw_amount)
            except InvalidOperation:
                raise InputError(f"{path}, line {line}: the amount '{raw_amount}' is not a number",
                                 hint="map the right column with --columns amount=COLUMN") from None
        if row.get("name"):
            names.setdefault(cid, row["name"])
        revenue[cid] = revenue.get(cid, Decimal(0)) + amount
        recent.setdefault(cid, []).append((day, amount))
        if amount >= 0:
            on = days.setdefault(cid, {})
            on[day] = on.get(day, Decimal(0)) + amount
            purchases[cid] = purchases.get(cid, 0) + 1
            last = day if last is None or day > last else last
    end = as_of or last
    activities = {}
    for cid, seen in days.items():
        dates = sorted(seen)
        year_ago = end - timedelta(days=365) if end else None
        gaps = np.diff(np.array([d.toordinal() for d in dates]))
        activities[cid] = CustomerActivity(
            customer_id=cid, display_name=names.get(cid, cid), active=True, parent_id=None, job=False,
            created=dates[0], customer_type_id=None, department_id=None, first_activity=dates[0],
            last_activity=dates[-1], last_activity_kind="purchase", txn_count=purchases[cid],
            purchase_dates=dates, lifetime_revenue=revenue[cid].quantize(Decimal("0.01")),
            revenue_12m=sum((a for d, a in recent[cid] if year_ago is None or d > year_ago),
                            Decimal(0)).quantize(Decimal("0.01")),
            usual_gap_days=float(np.median(gaps)) if len(gaps) else None, activity_count=len(recent[cid]),
            last_purchase=dates[-1])
    spend = ({cid: [float(on[d]) for d in sorted(on)] for cid, on in days.items()} if has_amounts else None)
    return PurchaseLog(activities, last, rows, skipped, later, spend, tuple(ignored))
