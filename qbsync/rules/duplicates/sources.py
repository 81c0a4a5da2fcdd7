"""Where customer records come from: the cache, a CSV of customers, or a FEBRL evaluation file."""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import fields
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, TextIO

import sqlalchemy as sa

from qbsync.cache.models import ENTITY_MODELS, Customer, Realm
from qbsync.csvfile import reading
from qbsync.errors import InputError
from qbsync.rules.activity import HISTORY_ENTITIES, counted
from qbsync.rules.duplicates.records import CustomerRecord
from qbsync.rules.duplicates.survivor import History

#: CSV header -> CustomerRecord field, for headers that QuickBooks exports or people commonly write.
_ALIASES = {
    "id": "customer_id", "customer id": "customer_id", "customer": "display_name", "name": "display_name",
    "display name": "display_name", "first name": "given_name", "given name": "given_name",
    "last name": "family_name", "family name": "family_name", "surname": "family_name",
    "company": "company_name", "company name": "company_name", "e-mail": "email", "email address": "email",
    "phone number": "phone", "mobile number": "mobile", "street": "bill_line1", "address": "bill_line1",
    "address line 1": "bill_line1", "address line 2": "bill_line2", "city": "bill_city",
    "state": "bill_region", "region": "bill_region", "zip": "bill_postal_code",
    "postal code": "bill_postal_code", "postcode": "bill_postal_code", "country": "bill_country",
}
_RECORD_FIELDS = {f.name for f in fields(CustomerRecord)}
_TEXT_FIELDS = _RECORD_FIELDS - {"active", "balance", "created", "job"}


def load_cache(engine: sa.Engine, realm_id: str, as_of: date | None = None) -> list[CustomerRecord]:
    """Every customer of ``realm_id`` that existed on ``as_of`` (its current fields: the cache keeps
    no field history), jobs included: a job is matched like any other customer."""
    stmt = sa.select(Customer).where(Customer.realm_id == realm_id).order_by(Customer.id)
    if as_of is not None:
        end = datetime.combine(as_of, time.max, tzinfo=UTC)
        stmt = stmt.where(sa.or_(Customer.created_at.is_(None), Customer.created_at <= end))
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [CustomerRecord.from_row(row) for row in rows]


def realm_country(engine: sa.Engine, realm_id: str) -> str | None:
    """The company's own country (ISO code): the country of phones whose address names none."""
    from qbsync.rules.duplicates.normalize import country_code

    with engine.connect() as conn:
        country = conn.execute(sa.select(Realm.country).where(Realm.realm_id == realm_id)).scalar()
    return country_code(country)


def load_history(engine: sa.Engine, realm_id: str, as_of: date | None = None) -> dict[str, History]:
    """Per customer: sales-side transactions up to ``as_of``, at any date, and the last date.

    A customer with no transaction at all cannot owe or be owed anything (an opening balance is an
    invoice in QuickBooks), so this is enough to decide deactivate vs merge, at the cost of one
    GROUP BY per table instead of the full activity facts.
    """
    counts: dict[str, list[Any]] = {}
    day = as_of or date.max
    for entity in HISTORY_ENTITIES:  # what the activity rules count, voids left out
        model: Any = ENTITY_MODELS[entity]
        upto = sa.func.sum(sa.case((model.txn_date <= day, 1), else_=0))
        last = sa.func.max(sa.case((model.txn_date <= day, model.txn_date), else_=None))
        stmt = (sa.select(model.customer_id, upto, sa.func.count(), last)
                .where(model.realm_id == realm_id, *counted(model))
                .group_by(model.customer_id))
        with engine.connect() as conn:
            for cid, n_upto, n_all, last_day in conn.execute(stmt):
                entry = counts.setdefault(str(cid), [0, 0, None])
                # Estimates are not purchases: they count only as "has history".
                entry[0] += int(n_upto or 0) if entity != "Estimate" else 0
                entry[1] += int(n_all or 0)
                if last_day is not None and entity != "Estimate":
                    last_iso = str(last_day)[:10]
                    entry[2] = max(entry[2] or "", last_iso)
    return {cid: History(c[0], c[1], c[2]) for cid, c in counts.items()}


def _column_map(header: list[str], columns: Mapping[str, str] | None) -> dict[str, str]:
    """CSV column -> record field: explicit ``columns`` (field=column) first, then known names."""
    mapping: dict[str, str] = {}
    for col in header:
        key = col.strip()
        norm = re.sub(r"[_\s]+", " ", key.lower())
        target = key if key in _RECORD_FIELDS else _ALIASES.get(norm) or norm.replace(" ", "_")
        if target in _RECORD_FIELDS:
            mapping[col] = target
    for target, col in (columns or {}).items():
        if target not in _RECORD_FIELDS:
            raise InputError(f"unknown customer field '{target}' in --columns",
                             hint=f"use one of: {', '.join(sorted(_TEXT_FIELDS))}")
        if col not in header:
            raise InputError(f"column '{col}' is not in the CSV header",
                             hint=f"header is: {', '.join(header)}")
        mapping = {c: t for c, t in mapping.items() if t != target}
        mapping[col] = target
    return mapping


def _dict_reader(fh: TextIO) -> csv.DictReader[str]:
    """Rows of a CSV whose header shows its delimiter: a comma, or a semicolon or tab (what
    spreadsheets write where the comma is the decimal mark)."""
    first = fh.readline()
    fh.seek(0)
    delimiter = max((",", ";", "\t"), key=first.count)
    return csv.DictReader(fh, delimiter=delimiter if first.count(delimiter) else ",")


def load_csv(path: Path, columns: Mapping[str, str] | None = None) -> list[CustomerRecord]:
    """Customers from a CSV file with a header; ids default to the line number."""
    with reading(path) as fh:
        reader = _dict_reader(fh)
        mapping = _column_map(list(reader.fieldnames or []), columns)
        if not {"display_name", "given_name", "family_name", "company_name"} & set(mapping.values()):
            raise InputError(f"{path}: no name column found",
                             hint="name one with --columns display_name=COLUMN (or given_name, ...)")
        records = []
        for n, row in enumerate(reader, start=1):
            values = {t: (row.get(c) or "").strip() or None for c, t in mapping.items()
                      if t in _TEXT_FIELDS}
            values.setdefault("customer_id", str(n))
            values["customer_id"] = values["customer_id"] or str(n)
            if not values.get("display_name"):
                values["display_name"] = " ".join(
                    v for v in (values.get("given_name"), values.get("family_name")) if v
                ) or values.get("company_name") or ""
            records.append(CustomerRecord(**values))  # type: ignore[arg-type]
    return records


def load_truth(path: Path, column: str, id_column: str | None) -> dict[str, str]:
    """Each row's true entity from ``column`` of a labelled customer CSV, keyed like ``load_csv``."""
    with reading(path) as fh:
        reader = _dict_reader(fh)
        header = list(reader.fieldnames or [])
        if column not in header:
            raise InputError(f"--truth-column '{column}' is not in the CSV header",
                             hint=f"header is: {', '.join(header)}")
        ids = id_column or next((h for h in header if h.strip().lower() in ("customer_id", "id")), None)
        return {(row[ids] if ids else str(n)): row[column] for n, row in enumerate(reader, start=1)}


def load_febrl(path: Path) -> tuple[list[CustomerRecord], dict[str, str]]:
    """A FEBRL file as customers (names and address only) and the true entity of each record id.

    given_name/surname -> GivenName/FamilyName/DisplayName; street_number + address_1 -> Line1,
    address_2 -> Line2, suburb -> City, state -> region, postcode -> PostalCode. Date of birth and
    social security id are left out on purpose: a customer list has neither.
    """
    records: list[CustomerRecord] = []
    truth: dict[str, str] = {}
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh, skipinitialspace=True)
            header = [h.strip() for h in next(reader)]
            if "rec_id" not in header or "surname" not in header:
                raise InputError(f"{path} is not a FEBRL file (no rec_id/surname columns)",
                                 hint="use --input-csv for an ordinary customer CSV")
            for raw in reader:
                row = {h: v.strip() or None for h, v in zip(header, raw, strict=False)}
                rec_id = row["rec_id"] or ""
                given, family = row.get("given_name"), row.get("surname")
                line1 = " ".join(v for v in (row.get("street_number"), row.get("address_1")) if v) or None
                records.append(CustomerRecord(
                    customer_id=rec_id, display_name=" ".join(v for v in (given, family) if v),
                    given_name=given, family_name=family, bill_line1=line1, bill_line2=row.get("address_2"),
                    bill_city=row.get("suburb"), bill_region=row.get("state"),
                    bill_postal_code=row.get("postcode")))
                truth[rec_id] = "-".join(rec_id.split("-")[:2])
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", hint="check the path") from exc
    return records, truth
