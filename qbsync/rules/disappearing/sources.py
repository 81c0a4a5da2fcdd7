"""Purchase histories from a CSV log (one row per purchase), for the disappearing rule without a cache.

The log is what a till, a web shop or another ledger exports: a customer and a date per row,
optionally an amount and a name. Rows with a negative amount are returns: they lower revenue and
are not purchase days. Rows without a customer (cash sales) are skipped and counted.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np

from qbsync.errors import InputError
from qbsync.rules.activity import CustomerActivity

FIELDS = ("customer_id", "date", "amount", "name")

#: Header spellings (lower case, spaces/underscores/dashes dropped) -> field.
_ALIASES = {
    "customerid": "customer_id", "customer": "customer_id", "custid": "customer_id", "id": "customer_id",
    "clientid": "customer_id", "date": "date", "txndate": "date", "invoicedate": "date",
    "orderdate": "date", "purchasedate": "date", "transactiondate": "date", "amount": "amount",
    "total": "amount", "totalamt": "amount", "sales": "amount", "revenue": "amount", "value": "amount",
    "name": "name", "customername": "name", "displayname": "name",
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


def _key(header: str) -> str:
    return "".join(ch for ch in header.lower() if ch.isalnum())


def _column_map(header: list[str], columns: Mapping[str, str] | None) -> dict[str, str]:
    """field -> CSV column."""
    unknown = set(columns or {}) - set(FIELDS)
    if unknown:
        raise InputError(f"unknown field(s) {', '.join(sorted(unknown))} in --columns",
                         hint=f"fields are {', '.join(FIELDS)}")
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
    """Per-customer purchase days and revenue from a CSV log, counting nothing after ``as_of``."""
    days: dict[str, set[date]] = {}
    purchases: dict[str, int] = {}
    revenue: dict[str, Decimal] = {}
    recent: dict[str, list[tuple[date, Decimal]]] = {}
    names: dict[str, str] = {}
    rows = skipped = later = 0
    last: date | None = None
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            mapping = _column_map(list(reader.fieldnames or []), columns)
            for line, row in enumerate(reader, start=2):
                rows += 1
                cid = (row.get(mapping["customer_id"]) or "").strip()
                if not cid:
                    skipped += 1
                    continue
                raw_date = (row.get(mapping["date"]) or "").strip()
                try:
                    day = _parse_date(raw_date, date_format)
                except ValueError:
                    raise InputError(f"{path}, line {line}: cannot read the date '{raw_date}'",
                                     hint="give its format, e.g. --date-format '%d/%m/%Y %H:%M'") from None
                if as_of is not None and day > as_of:
                    later += 1
                    continue
                amount = Decimal(0)
                if "amount" in mapping:
                    raw_amount = (row.get(mapping["amount"]) or "").strip().replace(",", "")
                    try:
                        amount = Decimal(raw_amount) if raw_amount else Decimal(0)
                    except InvalidOperation:
                        raise InputError(f"{path}, line {line}: the amount '{raw_amount}' is not a number",
                                         hint="map the right column with --columns amount=COLUMN") from None
                if "name" in mapping and row.get(mapping["name"]):
                    names.setdefault(cid, row[mapping["name"]].strip())
                revenue[cid] = revenue.get(cid, Decimal(0)) + amount
                recent.setdefault(cid, []).append((day, amount))
                if amount >= 0:
                    days.setdefault(cid, set()).add(day)
                    purchases[cid] = purchases.get(cid, 0) + 1
                    last = day if last is None or day > last else last
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", hint="check the path") from exc
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text", hint="save the log as UTF-8 CSV") from None
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
    return PurchaseLog(activities, last, rows, skipped, later)
