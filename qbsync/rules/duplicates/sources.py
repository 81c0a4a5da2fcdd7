"""Where customer records come from: the cache, a CSV of customers, or a FEBRL evaluation file."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TextIO

import sqlalchemy as sa

from qbsync.cache.models import ENTITY_MODELS, Customer, Realm
from qbsync.csvfile import reading
from qbsync.errors import InputError
from qbsync.rules.activity import HISTORY_ENTITIES, counted
from qbsync.rules.duplicates.records import CustomerRecord
from qbsync.rules.duplicates.survivor import History

#: Header spellings -> CustomerRecord field. Keys are squashed (lower case, letters and digits only),
#: so "First Name", "first_name", "FirstName" and "BillAddr.Line1" / "Billing Address Line 1" meet.
#: They cover QuickBooks' own field names (the API's, dotted as JSON flattens them), the columns of
#: QuickBooks Online's customer import and export spreadsheets (Display Name As, Company, Street
#: Address, Billing Address Line 1..., Phone Numbers, Open Balance), QuickBooks Desktop's IIF names
#: (BADDR1, PHONE1) and what people commonly write. Earlier spellings of one field win over later ones.
_ALIASES: dict[str, tuple[str, ...]] = {
    "customer_id": ("id", "customerid", "customer_id", "listid", "refnum", "customerno", "customernumber"),
    "display_name": ("displayname", "displaynameas", "name", "customer", "customername", "customerfullname",
                     "fullyqualifiedname", "fullname", "contact", "contactname", "printoncheckname"),
    "given_name": ("givenname", "firstname", "first", "forename", "christianname"),
    "family_name": ("familyname", "lastname", "last", "surname"),
    "company_name": ("companyname", "company", "business", "businessname", "organization", "organisation"),
    "email": ("primaryemailaddr", "primaryemailaddraddress", "email", "emailaddress", "emailaddr", "mail"),
    "phone": ("primaryphone", "primaryphonefreeformnumber", "phone", "phonenumber", "phonenumbers",
              "telephone", "tel", "phone1", "workphone", "businessphone", "homephone"),
    "mobile": ("mobile", "mobilefreeformnumber", "mobilephone", "mobilenumber", "cell", "cellphone",
               "alternatephone", "alternatephonefreeformnumber", "altphone", "phone2"),
    "bill_line1": ("billaddrline1", "line1", "billingaddressline1", "billingstreet", "billstreet",
                   "billaddress1", "billingaddress1", "baddr1", "streetaddress", "street", "address1",
                   "addressline1", "address"),
    "bill_line2": ("billaddrline2", "line2", "billingaddressline2", "billaddress2", "billingaddress2",
                   "baddr2", "address2", "addressline2", "streetaddress2", "street2"),
    "bill_city": ("billaddrcity", "city", "billingaddresscity", "billingcity", "billcity", "citytown",
                  "towncity", "town", "suburb"),
    "bill_region": ("billaddrcountrysubdivisioncode", "countrysubdivisioncode", "billingaddressstate",
                    "billingstate", "billstate", "state", "region", "province", "stateprovince",
                    "stateprovinceregion", "provinceterritory", "stateterritory", "county"),
    "bill_postal_code": ("billaddrpostalcode", "postalcode", "billingaddresspostalcode", "billingzip",
                         "billzip", "billingpostalcode", "zip", "zipcode", "postcode", "zippostalcode",
                         "postal"),
    "bill_country": ("billaddrcountry", "country", "billingaddresscountry", "billingcountry", "billcountry",
                     "countryregion"),
    "active": ("active", "isactive", "status"),
    "balance": ("balance", "openbalance", "balancewithjobs", "balancetotal"),
    "created": ("metadatacreatetime", "createtime", "created", "createdat", "datecreated", "customersince"),
}
#: A one-cell address (QuickBooks Online's Customer Contact List export): split into its parts.
_WHOLE_ADDRESS = ("billaddr", "billingaddress", "billaddress", "billto")
_FIELD_OF = {alias: field for field, aliases in _ALIASES.items() for alias in aliases}
_RANK = {alias: rank for aliases in _ALIASES.values() for rank, alias in enumerate(aliases)}
_RECORD_FIELDS = {f.name for f in fields(CustomerRecord)}
_CSV_FIELDS = set(_ALIASES)
_TEXT_FIELDS = _CSV_FIELDS - {"active", "balance", "created"}


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


def squash(header: str) -> str:
    """A header as the alias table spells it: lower case, letters and digits only."""
    return "".join(ch for ch in header.lower() if ch.isalnum())


@dataclass(frozen=True)
class Ignored:
    """A column the reader left out, and the ``--columns`` line that would use it (None: no field fits)."""

    column: str
    suggestion: str | None

    def line(self) -> str:
        if self.suggestion is None:
            return f"'{self.column}' (no customer field)"
        return f"'{self.column}' (to use it: --columns {self.suggestion}={_quoted(self.column)})"


def _quoted(column: str) -> str:
    return column if re.fullmatch(r"[\w.-]+", column) else "'" + column.replace("'", "'\\''") + "'"


def _suggest(column: str) -> str | None:
    """The field a column probably holds, for the hint: its alias nearest by spelling."""
    import difflib

    key = squash(column)
    close = difflib.get_close_matches(key, list(_FIELD_OF), n=1, cutoff=0.75) if key else []
    return _FIELD_OF[close[0]] if close else None


@dataclass(frozen=True)
class ColumnMap:
    """How a header maps: column index -> field, a whole-address column, and what is left out."""

    at: dict[int, str]
    address_at: int | None
    ignored: list[Ignored]


def column_map(header: list[str], columns: Mapping[str, str] | None = None) -> ColumnMap:
    """Which column holds which field: ``--columns`` (field=column) first, then known spellings."""
    for target, col in (columns or {}).items():
        if target not in _CSV_FIELDS:
            raise InputError(f"unknown customer field '{target}' in --columns",
                             hint=f"use one of: {', '.join(sorted(_CSV_FIELDS))}")
        if col not in header:
            raise InputError(f"column '{col}' is not in the CSV header",
                             hint=f"header is: {', '.join(header)}")
    chosen: dict[str, tuple[tuple[int, int], int]] = {}  # field -> (priority, column index)
    for i, col in enumerate(header):
        key = squash(col)
        field = _FIELD_OF.get(key) or (key if key in _CSV_FIELDS else None)
        if field is None:
            raw = re.sub(r"[\s]+", "_", col.strip().lower())
            field = raw if raw in _CSV_FIELDS else None
        if field is not None:
            rank = (1, _RANK.get(key, 0))
            if field not in chosen or rank < chosen[field][0]:
                chosen[field] = (rank, i)
    for target, col in (columns or {}).items():
        chosen[target] = ((0, 0), header.index(col))
    at = {i: field for field, (_, i) in chosen.items()}
    address_at = next((i for i, col in enumerate(header) if squash(col) in _WHOLE_ADDRESS and i not in at),
                      None)
    if address_at is not None and "bill_line1" in at.values():
        address_at = None  # the address's own columns are there: they win
    ignored = [Ignored(col, _suggest(col)) for i, col in enumerate(header)
               if i not in at and i != address_at and col.strip()]
    return ColumnMap(at, address_at, ignored)


def split_address(text: str) -> dict[str, str]:
    """A one-cell address ("12 High St, Unit 4, Springfield, IL 62701, USA") as its parts, read from
    the end: a country QuickBooks would write, then region and postcode, then the city; the first
    part is line 1 and whatever is left between is line 2."""
    from qbsync.rules.duplicates.normalize import country_code

    parts = [p.strip() for p in re.split(r"[,\n]+", text) if p.strip()]
    out: dict[str, str] = {}
    if len(parts) > 1 and country_code(parts[-1]) and not re.search(r"\d", parts[-1]):
        out["bill_country"] = parts.pop()
    if len(parts) > 1:
        m = re.fullmatch(r"(?:(?P<region>[^\d]+?)\s+)?(?P<postcode>[A-Za-z]{0,2}\d[\w -]{1,9})", parts[-1])
        if m:
            parts.pop()
            out["bill_postal_code"] = m["postcode"].strip()
            if m["region"]:
                out["bill_region"] = m["region"].strip()
        elif len(parts) > 2 and len(parts[-1]) <= 3:
            out["bill_region"] = parts.pop()
    if len(parts) > 1:
        out["bill_city"] = parts.pop()
    if parts:
        out["bill_line1"] = parts.pop(0)
    if parts:
        out["bill_line2"] = ", ".join(parts)
    return out


def _active(text: str) -> bool | None:
    low = text.strip().lower()
    if low in ("true", "yes", "y", "1", "active"):
        return True
    if low in ("false", "no", "n", "0", "inactive", "deleted"):
        return False
    return None


def _amount(text: str) -> Decimal | None:
    cleaned = re.sub(r"[^\d.,()-]", "", text)
    negative = cleaned.startswith("(") or cleaned.startswith("-")
    cleaned = cleaned.strip("()-").replace(",", "")
    try:
        value = Decimal(cleaned) if cleaned else None
    except InvalidOperation:
        return None
    return -value if value is not None and negative else value


def _created(text: str) -> date | None:
    try:
        return datetime.fromisoformat(text.strip()[:10]).date()
    except ValueError:
        return None


def _dialect_reader(fh: TextIO) -> Iterator[list[str]]:
    """Rows of a CSV whose header shows its delimiter: a comma, or a semicolon or tab (what
    spreadsheets write where the comma is the decimal mark)."""
    first = fh.readline()
    fh.seek(0)
    delimiter = max((",", ";", "\t"), key=first.count)
    return csv.reader(fh, delimiter=delimiter if first.count(delimiter) else ",")


@dataclass
class CustomerCsv:
    """The customers of a CSV file, and how its columns were read."""

    records: list[CustomerRecord]
    fields: dict[str, str]  # field -> the column it came from
    ignored: list[Ignored]


def read_customers(path: Path, columns: Mapping[str, str] | None = None) -> CustomerCsv:
    """Customers from a CSV file with a header; ids default to the line number.

    Rows stream from the file one at a time into compact records (no per-row dict), so reading costs
    what the records cost and nothing more.
    """
    with reading(path) as fh:
        rows = _dialect_reader(fh)
        header = next(rows, [])
        cmap = column_map(header, columns)
        names = {"display_name", "given_name", "family_name", "company_name"}
        if not names & set(cmap.at.values()):
            hint = ("name one with --columns display_name=COLUMN (or given_name, family_name, company_name)"
                    + (f"; columns left out: {', '.join(i.line() for i in cmap.ignored)}" if cmap.ignored
                       else ""))
            raise InputError(f"{path}: no name column found", hint=hint)
        text = [(i, f) for i, f in cmap.at.items() if f in _TEXT_FIELDS]
        other = [(i, f) for i, f in cmap.at.items() if f not in _TEXT_FIELDS]
        whole = cmap.address_at
        records = []
        for n, row in enumerate(rows, start=1):
            if not row:
                continue
            width = len(row)
            values: dict[str, Any] = {}
            for i, f in text:
                v = row[i].strip() if i < width else ""
                if v:
                    values[f] = v
            if whole is not None and whole < width and row[whole].strip():
                for f, v in split_address(row[whole]).items():
                    values.setdefault(f, v)
            for i, f in other:
                raw = row[i].strip() if i < width else ""
                parsed = (_active(raw) if f == "active" else _amount(raw) if f == "balance" else _created(raw)
                          ) if raw else None
                if parsed is not None:
                    values[f] = parsed
            values["customer_id"] = values.get("customer_id") or str(n)
            if not values.get("display_name"):
                values["display_name"] = " ".join(
                    v for v in (values.get("given_name"), values.get("family_name")) if v
                ) or values.get("company_name") or ""
            records.append(CustomerRecord(**values))
    used = {f: header[i] for i, f in cmap.at.items()}
    if whole is not None:
        used["address (split)"] = header[whole]
    return CustomerCsv(records, used, cmap.ignored)


def load_csv(path: Path, columns: Mapping[str, str] | None = None) -> list[CustomerRecord]:
    """Customers from a CSV file with a header (see ``read_customers``)."""
    return read_customers(path, columns).records


def load_truth(path: Path, column: str, id_column: str | None) -> dict[str, str]:
    """Each row's true entity from ``column`` of a labelled customer CSV, keyed like ``load_csv``."""
    with reading(path) as fh:
        delimiter_rows = _dialect_reader(fh)
        header = next(delimiter_rows, [])
        if column not in header:
            raise InputError(f"--truth-column '{column}' is not in the CSV header",
                             hint=f"header is: {', '.join(header)}")
        ids = id_column or next((h for i, h in enumerate(header)
                                 if column_map(header).at.get(i) == "customer_id"), None)
        at, id_at = header.index(column), header.index(ids) if ids else None
        return {(row[id_at].strip() if id_at is not None else "") or str(n): row[at]
                for n, row in enumerate(delimiter_rows, start=1) if row}


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
