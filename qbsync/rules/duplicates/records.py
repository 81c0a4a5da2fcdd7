"""The customer row duplicate detection reads, and its normalised column-wise form for matching."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np

from qbsync.rules.duplicates import normalize as nz


@dataclass(frozen=True)
class CustomerRecord:
    """The fields of one customer that matter for duplicates (a cache row, a CSV line, a test case)."""

    customer_id: str
    display_name: str = ""
    given_name: str | None = None
    family_name: str | None = None
    company_name: str | None = None
    email: str | None = None
    phone: str | None = None
    mobile: str | None = None
    bill_line1: str | None = None
    bill_line2: str | None = None
    bill_city: str | None = None
    bill_region: str | None = None
    bill_postal_code: str | None = None
    bill_country: str | None = None
    active: bool = True
    balance: Decimal = Decimal("0")
    realm_id: str = ""
    sync_token: str | None = None
    created: date | None = None
    job: bool = False
    parent_id: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> CustomerRecord:
        """From anything with the cache's Customer attribute names (an ORM object or a Row)."""
        created = getattr(row, "created_at", None)
        return cls(
            customer_id=str(row.id), display_name=row.display_name or "", given_name=row.given_name,
            family_name=row.family_name, company_name=row.company_name, email=row.email, phone=row.phone,
            mobile=row.mobile, bill_line1=row.bill_line1, bill_line2=row.bill_line2,
            bill_city=row.bill_city, bill_region=row.bill_region, bill_postal_code=row.bill_postal_code,
            bill_country=row.bill_country, active=bool(row.active),
            balance=row.balance if row.balance is not None else Decimal("0"), realm_id=row.realm_id,
            sync_token=row.sync_token, created=created.date() if created is not None else None,
            job=bool(getattr(row, "job", False)), parent_id=getattr(row, "parent_id", None))

    def completeness(self) -> int:
        """How many contact fields are filled: the survivor should be the richest record."""
        values = (self.given_name, self.family_name, self.company_name, self.email, self.phone,
                  self.mobile, self.bill_line1, self.bill_city, self.bill_region, self.bill_postal_code,
                  self.bill_country)
        return sum(1 for v in values if v and str(v).strip())


def matchable(records: Sequence[CustomerRecord]) -> list[CustomerRecord]:
    """The records duplicate detection compares: top-level customers only.

    A job (sub-customer) copies its parent's company, contact and address by design; compared, jobs
    look like duplicates of their parent and of each other, and they skew the learned weights.
    """
    return [r for r in records if not r.job and not r.parent_id]


#: The normalised columns, in the order ``Prepared.columns`` holds them.
COLUMNS = ("given", "family", "company", "email", "phone1", "phone2", "street_no", "street", "line2",
           "city", "postcode", "region")


@dataclass
class Prepared:
    """Normalised fields of every record as parallel arrays ("" = missing), ready for vector work."""

    records: Sequence[CustomerRecord]
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    #: One vocabulary over every column, so any two columns' values compare by integer code.
    vocab: np.ndarray = field(default_factory=lambda: np.array([""], dtype=object))
    codes: dict[str, np.ndarray] = field(default_factory=dict)
    #: Each record's rank in creation order (creation date, then numeric Id: QBO numbers in order).
    age_rank: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    _lengths: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def lengths(self) -> np.ndarray:
        """The length of every vocabulary value, by code."""
        if self._lengths is None:
            self._lengths = np.fromiter((len(v) for v in self.vocab), np.int64, len(self.vocab))
        return self._lengths

    def col(self, name: str) -> np.ndarray:
        return self.columns[name]


_PAREN = re.compile(r"\([^)]*\)")


def _names(rec: CustomerRecord) -> tuple[str, str, str]:
    given, family = nz.person_name(rec.given_name), nz.person_name(rec.family_name)
    company = nz.company_name(rec.company_name)
    display = nz.strip_deleted(rec.display_name)
    if not given and not family and display and not company:
        if nz.looks_like_company(display):
            company = nz.company_name(display)
        else:
            given, family = nz.split_display_name(display)
    elif display and not company:
        # A display name that is not the person's own name ("Smith Plumbing") names the business;
        # initials, numbers and a parenthesis ("John Q. Smith", "John Smith 2", "John Smith (Boston)")
        # are how QuickBooks users tell namesakes apart, not a business name.
        person_tokens = set(f"{given} {family}".split())
        shown = {t for t in nz.person_name(_PAREN.sub(" ", display)).split()
                 if len(t) > 1 and not t.isdigit()}
        if not shown <= person_tokens:
            company = nz.company_name(display)
    return given, family, company


def _postcode(rec: CustomerRecord, region: str | None) -> str:
    code = nz.postcode(rec.bill_postal_code)
    if region == "US" and len(code) == 9 and code.isdigit():
        return code[:5]  # ZIP+4 and ZIP name the same place
    return code


def _history(count: int | None) -> str:
    if count is None:
        return ""  # unknown (a CSV, FEBRL): the comparison is missing and weighs nothing
    return "no transactions" if count == 0 else f"{count} transaction{'' if count == 1 else 's'}"


def prepare(records: Sequence[CustomerRecord], default_country: str | None = None,
            txn_counts: Sequence[int | None] | None = None) -> Prepared:
    """Normalise every record once; ``default_country`` is used for phones of addresses without one.

    ``txn_counts`` (sales-side transactions per record, None = unknown) becomes the "history" column
    that the activity comparison reads."""
    out: dict[str, list[str]] = {c: [] for c in COLUMNS}
    for rec in records:
        given, family, company = _names(rec)
        region = nz.country_code(rec.bill_country) or default_country
        phones = [p for p in (nz.phone(rec.phone, region), nz.phone(rec.mobile, region)) if p]
        if len(phones) == 2 and phones[0] == phones[1]:
            phones.pop()
        number, street = nz.street(rec.bill_line1)
        line2_number, line2 = nz.street(rec.bill_line2)
        if not street and line2:
            # A street written on the second line (first line empty or only a number).
            street, line2 = line2, ""
            number = number or line2_number
        values = (given, family, company, nz.email(rec.email), phones[0] if phones else "",
                  phones[1] if len(phones) > 1 else "", number, street, line2, nz.fold(rec.bill_city),
                  _postcode(rec, region), nz.fold(rec.bill_region))
        for name, value in zip(COLUMNS, values, strict=True):
            out[name].append(value)
    # Street-like values also without spaces: "aurora cl" and "auroracl" are one street.
    out["street_ns"] = [v.replace(" ", "") for v in out["street"]]
    out["given_formal"] = [nz.NICKNAMES.get(v, v) for v in out["given"]]
    out["line2_ns"] = [v.replace(" ", "") for v in out["line2"]]
    counts = txn_counts if txn_counts is not None else [None] * len(records)
    out["history"] = [_history(c) for c in counts]
    columns = {name: np.array(values, dtype=object) for name, values in out.items()}
    index: dict[str, int] = {"": 0}  # code 0 is "missing" in every column
    codes = {name: np.fromiter((index.setdefault(v, len(index)) for v in values), np.int64, len(values))
             for name, values in out.items()}
    vocab = np.array(list(index), dtype=object)
    return Prepared(records=records, columns=columns, vocab=vocab, codes=codes, age_rank=_age_rank(records))


def _age_rank(records: Sequence[CustomerRecord]) -> np.ndarray:
    def key(k: int) -> tuple[int, int, str]:
        rec = records[k]
        cid = rec.customer_id
        return (rec.created.toordinal() if rec.created else 0, int(cid) if cid.isdigit() else 0, cid)

    rank = np.empty(len(records), dtype=np.int64)
    rank[sorted(range(len(records)), key=key)] = np.arange(len(records))
    return rank
