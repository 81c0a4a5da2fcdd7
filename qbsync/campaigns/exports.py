"""Outreach files of a campaign: generic, Mailchimp or HubSpot marketing list, call list, collections list.

Only contacted members are exported (the control group is held back). Members are merged into
one contact per person: the same email address (case-insensitive) or the same duplicate cluster
(when the duplicates rule is installed) make one row, carrying the email of the member with the
highest lifetime value, so every email address appears at most once. A contact with any member
on the do-not-contact list is left out entirely. Contacts without a usable email go to the call
list; contacts with an open balance go to the collections list (unless ``include_balance``).

Each file is written for its reader (``qbsync.csvfile``): the Mailchimp and HubSpot marketing lists
are for their importers (values exactly as they are, phone numbers in E.164 where they parse for the
contact's country or else the company's, no apostrophes and no BOM); the generic list, the call list
and the collections list are for a person in a spreadsheet (formula-safe, every cell quoted,
optional BOM for Excel). All are UTF-8 and written atomically.

Column names follow the tools' documented import fields: Mailchimp ("Email Address", "First
Name", "Last Name", "Address" as one cell with parts separated by two spaces, "Phone Number",
"Tags") and HubSpot contact properties ("Email", "First name", "Last name", "Phone number",
"Company name", "Street address", "City", "State/Region", "Postal code", "Country/Region").
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from qbsync.cache.campaign_models import Campaign, CampaignExport, CampaignMember
from qbsync.cache.models import Customer, Invoice, Item, SalesLine, SalesReceipt
from qbsync.campaigns.campaign import get, members
from qbsync.clock import Clock
from qbsync.csvfile import IMPORTER, SPREADSHEET, Audience, Phone, SafeCell, write_csv
from qbsync.customers.outreach import ItemSpec
from qbsync.errors import InputError
from qbsync.reports.source import ZERO, plain_name
from qbsync.rules.duplicates import find_duplicates
from qbsync.rules.duplicates.normalize import country_code
from qbsync.rules.duplicates.sources import realm_country
from qbsync.rules.findings import Finding

FORMATS = ("generic", "mailchimp", "hubspot")
#: Who reads each format's file: the marketing tools' importers, or a person in a spreadsheet.
AUDIENCE: dict[str, Audience] = {"generic": SPREADSHEET, "mailchimp": IMPORTER, "hubspot": IMPORTER}
#: (realm, as_of) -> the duplicates rule's findings, for a caller that has already run the rule.
FindDuplicates = Callable[[str, date], Iterable[Finding]]
EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")

GENERIC_COLUMNS = ["Customer Id", "Merged Ids", "Name", "Company", "First Name", "Last Name", "Email",
                   "Phone", "Address", "City", "Region", "Postal Code", "Country", "Last Purchase",
                   "Days Inactive", "Lifetime Value", "Top Items", "Balance", "Segment", "Offer Tier"]
MAILCHIMP_COLUMNS = ["Email Address", "First Name", "Last Name", "Address", "Phone Number", "Tags"]
HUBSPOT_COLUMNS = ["Email", "First name", "Last name", "Phone number", "Company name", "Street address",
                   "City", "State/Region", "Postal code", "Country/Region"]


def usable_email(raw: str | None) -> str | None:
    """The first well-formed address of a QBO email field (it may hold several, comma-separated)."""
    for part in re.split(r"[,;\s]+", raw or ""):
        if EMAIL.match(part):
            return part
    return None


def phone_digits(raw: str | None) -> str:
    return re.sub(r"\D", "", raw or "")


@dataclass(frozen=True)
class DoNotContact:
    """Emails (case-insensitive), customer Ids (``id:123``) and phone numbers (digits compared)."""

    emails: frozenset[str] = frozenset()
    ids: frozenset[str] = frozenset()
    phones: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, lines: Iterable[str]) -> DoNotContact:
        emails, ids, phones = set(), set(), set()
        for line in lines:
            entry = line.split("#", 1)[0].strip()
            if not entry:
                continue
            if entry.lower().startswith("id:"):
                ids.add(entry[3:].strip())
            elif "@" in entry:
                emails.add(entry.lower())
            elif len(phone_digits(entry)) >= 7:
                phones.add(phone_digits(entry)[-10:])
            else:
                raise InputError(f"do-not-contact entry {entry!r} is not an email, id:N or phone number",
                                 hint="one entry per line: name@example.com, id:123 or +1 555 0100")
        return cls(frozenset(emails), frozenset(ids), frozenset(phones))

    @classmethod
    def load(cls, path: Path | None) -> DoNotContact:
        if path is None:
            return cls()
        try:
            return cls.parse(Path(path).read_text(encoding="utf-8-sig").splitlines())
        except FileNotFoundError:
            raise InputError(f"do-not-contact file {path} does not exist",
                             hint="check the --do-not-contact path") from None

    def blocks(self, person: Person) -> bool:
        if person.customer_id in self.ids or (person.email or "").lower() in self.emails:
            return True
        digits = phone_digits(person.phone)
        return bool(digits) and digits[-10:] in self.phones


@dataclass
class Person:
    customer_id: str
    name: str
    company: str | None
    first_name: str | None
    last_name: str | None
    email: str | None
    raw_email: str | None
    phone: str | None
    line1: str | None
    line2: str | None
    city: str | None
    region: str | None
    postal: str | None
    country: str | None
    last_purchase: date | None
    lifetime_value: Decimal
    balance: Decimal
    reason: str | None


@dataclass
class Contact:
    """One row of an outreach file: a person, possibly merged from several customer records."""

    main: Person
    merged: list[Person]
    top_items: list[str] = field(default_factory=list)
    tier: str = ""

    @property
    def ids(self) -> list[str]:
        return [p.customer_id for p in self.merged]

    @property
    def balance(self) -> Decimal:
        return sum((p.balance for p in self.merged), ZERO)

    @property
    def lifetime_value(self) -> Decimal:
        return sum((p.lifetime_value for p in self.merged), ZERO)

    @property
    def last_purchase(self) -> date | None:
        return max((p.last_purchase for p in self.merged if p.last_purchase), default=None)

    @property
    def email(self) -> str | None:
        return next((p.email for p in sorted(self.merged, key=_rank) if p.email), None)

    @property
    def phone(self) -> str | None:
        return next((p.phone for p in sorted(self.merged, key=_rank) if p.phone), None)


def _rank(p: Person) -> tuple[Any, ...]:
    return (-p.lifetime_value, -(p.last_purchase or date.min).toordinal(), p.customer_id)


def clusters_of(findings: Iterable[Finding]) -> dict[str, str]:
    """customer id -> cluster id from the duplicates rule's findings; pure."""
    return {f.customer_id: str(f.facts["cluster_id"]) for f in findings
            if f.facts.get("cluster_id") is not None}


def duplicate_clusters(engine: sa.Engine, realm_id: str, as_of: date,
                       duplicates: FindDuplicates | None = None) -> dict[str, str]:
    """customer id -> cluster id from the duplicates rule's findings.

    ``duplicates`` answers (realm, as_of) with findings the caller already holds for this cache
    (e.g. a ``qbsync.rules.duplicates.DuplicateFindings``); without it the rule runs now.
    """
    find = duplicates or (lambda realm, day: find_duplicates(engine, realm, day))
    return clusters_of(find(realm_id, as_of))


def merge(people: list[Person], clusters: dict[str, str]) -> list[Contact]:
    """Union people sharing an email (case-insensitive) or a duplicate cluster; pure."""
    parent = {p.customer_id: p.customer_id for p in people}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    first_by: dict[str, str] = {}
    for p in people:
        for key in ([f"e:{p.email.lower()}"] if p.email else []) + \
                   ([f"c:{clusters[p.customer_id]}"] if p.customer_id in clusters else []):
            if key in first_by:
                union(first_by[key], p.customer_id)
            else:
                first_by[key] = p.customer_id
    groups: dict[str, list[Person]] = defaultdict(list)
    for p in people:
        groups[find(p.customer_id)].append(p)
    contacts = []
    for group in groups.values():
        group.sort(key=_rank)
        contacts.append(Contact(group[0], group))
    contacts.sort(key=lambda c: (c.main.name.casefold(), c.main.customer_id))
    return contacts


def tiers(contacts: list[Contact]) -> None:
    """Offer tier by lifetime value among the exported contacts: gold top 20 %, silver next 30 %, bronze."""
    ranked = sorted(contacts, key=lambda c: (-c.lifetime_value, c.main.customer_id))
    n = len(ranked)
    for i, c in enumerate(ranked):
        c.tier = "gold" if i < max(1, round(n * 0.2)) else "silver" if i < round(n * 0.5) else "bronze"


def _people(engine: sa.Engine, realm_id: str, mem: list[CampaignMember]) -> list[Person]:
    by_id = {m.customer_id: m for m in mem}
    out: list[Person] = []
    with Session(engine) as session:
        ids = list(by_id)
        for start in range(0, len(ids), 5000):
            rows = session.scalars(sa.select(Customer).where(Customer.realm_id == realm_id,
                                                             Customer.id.in_(ids[start:start + 5000])))
            for c in rows:
                m = by_id[c.id]
                out.append(Person(c.id, plain_name(c.display_name), c.company_name, c.given_name,
                                  c.family_name, usable_email(c.email), c.email, c.phone or c.mobile,
                                  c.bill_line1, c.bill_line2, c.bill_city, c.bill_region, c.bill_postal_code,
                                  c.bill_country, m.last_purchase, m.lifetime_value, m.balance, m.reason))
    return out


def top_items(engine: sa.Engine, realm_id: str, customer_ids: set[str], as_of: date,
              n: int = 3) -> dict[str, list[str]]:
    totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    with engine.connect() as conn:
        names = dict(conn.execute(sa.select(Item.id, Item.name).where(Item.realm_id == realm_id)).all())
        for model, kind in ((Invoice, "Invoice"), (SalesReceipt, "SalesReceipt")):
            q = (sa.select(model.customer_id, SalesLine.item_id, SalesLine.amount)
                 .join(model, sa.and_(model.realm_id == SalesLine.realm_id, model.id == SalesLine.txn_id))
                 .where(SalesLine.realm_id == realm_id, SalesLine.txn_type == kind, model.txn_date <= as_of,
                        SalesLine.item_id.is_not(None)))
            for cid, item, amount in conn.execute(q):
                if cid in customer_ids and item is not None:
                    totals[cid][item] += amount
    return {cid: [names.get(i, i) for i, _ in sorted(items.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]
            for cid, items in totals.items()}


def _address_one_cell(p: Person) -> str:
    parts = [p.line1, p.line2, p.city, p.region, p.postal, p.country]
    return "  ".join(x.strip() for x in parts if x and x.strip())


def _names(c: Contact) -> tuple[str, str]:
    p = c.main
    if p.first_name or p.last_name:
        return p.first_name or "", p.last_name or ""
    if p.company:
        return "", ""
    first, _, last = p.name.partition(" ")
    return first, last


def _money(v: Decimal) -> SafeCell:
    return SafeCell(f"{v.quantize(Decimal('0.01'))}")


def phone_of(c: Contact, company_country: str | None = None) -> Phone | None:
    """The contact's phone, to be read in the country of the person it came from (else the company's)."""
    for p in sorted(c.merged, key=_rank):
        if p.phone:
            return Phone(p.phone, country_code(p.country) or company_country)
    return None


def row_of(fmt: str, c: Contact, segment: str, as_of: date, company_country: str | None = None) -> list[Any]:
    p = c.main
    first, last = _names(c)
    phone = phone_of(c, company_country)
    if fmt == "mailchimp":
        tags = ",".join(t for t in (segment, c.tier) if t)
        return [c.email, first, last, _address_one_cell(p), phone, tags]
    if fmt == "hubspot":
        street = ", ".join(x for x in (p.line1, p.line2) if x)
        return [c.email, first, last, phone, p.company, street, p.city, p.region, p.postal, p.country]
    last_purchase = c.last_purchase
    return [p.customer_id, " ".join(i for i in c.ids if i != p.customer_id), p.name, p.company, first, last,
            c.email, phone, ", ".join(x for x in (p.line1, p.line2) if x), p.city, p.region, p.postal,
            p.country, last_purchase.isoformat() if last_purchase else None,
            SafeCell(str((as_of - last_purchase).days)) if last_purchase else None,
            _money(c.lifetime_value), "; ".join(c.top_items), _money(c.balance), segment, c.tier]


def header_of(fmt: str) -> list[str]:
    return {"generic": GENERIC_COLUMNS, "mailchimp": MAILCHIMP_COLUMNS, "hubspot": HUBSPOT_COLUMNS}[fmt]


@dataclass
class ExportResult:
    campaign: str
    files: dict[str, Path]  # list kind -> path
    rows: dict[str, int]
    excluded_do_not_contact: int
    merged_records: int  # customer records folded into another row
    campaign_id: int | None = None
    contacts: dict[str, list[Contact]] = field(default_factory=dict)  # list kind -> its rows


def split(contacts: list[Contact], dnc: DoNotContact,
          include_balance: bool) -> tuple[list[Contact], list[Contact], list[Contact], int]:
    """(marketing, call, collections, blocked) — pure."""
    marketing: list[Contact] = []
    call: list[Contact] = []
    collections: list[Contact] = []
    blocked = 0
    for c in contacts:
        if any(dnc.blocks(p) for p in c.merged):
            blocked += 1
        elif c.balance > 0 and not include_balance:
            collections.append(c)
        elif c.email is None:
            call.append(c)
        else:
            marketing.append(c)
    return marketing, call, collections, blocked


def export(engine: sa.Engine, realm_id: str, name: str, out_dir: Path, clock: Clock, *, fmt: str = "generic",
           do_not_contact: DoNotContact = DoNotContact(), include_balance: bool = False, bom: bool = False,
           as_of: date | None = None, duplicates: FindDuplicates | None = None) -> ExportResult:
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}", hint=f"use one of: {', '.join(FORMATS)}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--dir {out_dir} is a file, not a directory",
                         hint="pass a directory (it is created when missing)")
    camp: Campaign = get(engine, realm_id, name)
    day = as_of or camp.as_of
    contacted = [m for m in members(engine, camp.id) if not m.control]
    people = _people(engine, realm_id, contacted)
    contacts = merge(people, duplicate_clusters(engine, realm_id, camp.as_of, duplicates))
    items = top_items(engine, realm_id, {p.customer_id for p in people}, camp.as_of)
    for c in contacts:
        merged_items: dict[str, int] = {}
        for p in c.merged:
            for rank, item in enumerate(items.get(p.customer_id, [])):
                merged_items[item] = min(merged_items.get(item, 99), rank)
        c.top_items = sorted(merged_items, key=lambda i: (merged_items[i], i))[:3]
    tiers(contacts)
    marketing, call, collections, blocked = split(contacts, do_not_contact, include_balance)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "campaign"
    lists = {"marketing": (marketing, fmt, f"{safe}-{fmt}.csv"),
             "call": (call, "generic", f"{safe}-call-list.csv"),
             "collections": (collections, "generic", f"{safe}-collections.csv")}
    files: dict[str, Path] = {}
    rows: dict[str, int] = {}
    now = clock.now()
    country = realm_country(engine, realm_id)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create --dir {out_dir}: {exc.strerror}",
                         hint="choose a directory you can write to") from None
    with engine.begin() as conn:
        for kind, (group, list_fmt, filename) in lists.items():
            path = out_dir / filename
            write_csv(path, header_of(list_fmt),
                      (row_of(list_fmt, c, camp.segment, day, country) for c in group),
                      audience=AUDIENCE[list_fmt], bom=bom)
            files[kind], rows[kind] = path, len(group)
            conn.execute(sa.insert(CampaignExport).values(
                campaign_id=camp.id, created_at=now, list_kind=kind, fmt=list_fmt, path=str(path),
                rows=len(group), params={"include_balance": include_balance, "bom": bom,
                                         "do_not_contact_excluded": blocked}))
    return ExportResult(name, files, rows, blocked, len(people) - len(contacts), camp.id,
                        {kind: group for kind, (group, _, _) in lists.items()})


#: the outreach kind and channel each list is recorded with in the customer file
LIST_OUTREACH = {"marketing": ("campaign", "email"), "call": ("call", "phone"),
                 "collections": ("collections", "")}


def outreach_items(result: ExportResult) -> list[ItemSpec]:
    """One customer-file item per customer record on the lists (merged records included)."""
    out: list[ItemSpec] = []
    for kind, group in result.contacts.items():
        item_kind, channel = LIST_OUTREACH[kind]
        for c in group:
            via = channel or ("email" if c.email else "phone")
            for p in c.merged:
                out.append(ItemSpec(p.customer_id, item_kind, via, None,
                                    {"list": kind, "file": str(result.files[kind]),
                                     **({"merged_into": c.main.customer_id}
                                        if p.customer_id != c.main.customer_id else {})}))
    return out
