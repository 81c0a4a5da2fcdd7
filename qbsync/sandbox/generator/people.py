"""Names, companies, emails and addresses in several countries' formats, from seeded pools (pooldata)."""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass, field, replace

from . import pooldata
from .phones import STYLES, Phone, new_phone
from .seeding import pick

LOCALES = pooldata.LOCALES
COUNTRY_NAMES = {
    "US": "USA",
    "CA": "Canada",
    "GB": "United Kingdom",
    "AU": "Australia",
    "DE": "Germany",
    "FR": "France",
}
LEGAL_SUFFIXES: dict[str, tuple[str, ...]] = {
    "US": ("Inc", "Inc.", "LLC", "Corp.", "Co."),
    "CA": ("Inc.", "Ltd.", "Corp."),
    "GB": ("Ltd", "Ltd.", "PLC", "LLP"),
    "AU": ("Pty Ltd", "Pty. Ltd."),
    "DE": ("GmbH", "AG", "GmbH & Co. KG", "KG"),
    "FR": ("SARL", "SA", "SAS"),
}
ALL_SUFFIXES = sorted(
    {s for v in LEGAL_SUFFIXES.values() for s in v}
    | {"Ltd", "LLC", "PLC", "Inc", "Group", "KGaA", "e.V.", "OHG", "S.A.", "SNC"},
    key=len,
    reverse=True,
)
_TRADES = {
    "en": (
        "Plumbing",
        "Bakery",
        "Landscaping",
        "Dental",
        "Auto Repair",
        "Consulting",
        "Design Studio",
        "Electric",
        "Catering",
        "Fitness",
        "Florist",
        "Roofing",
        "Cafe",
        "Books",
        "Veterinary Clinic",
    ),
    "de": (
        "Bäckerei",
        "Elektro",
        "Gartenbau",
        "Zahnarztpraxis",
        "Autohaus",
        "Beratung",
        "Malerbetrieb",
        "Metzgerei",
        "Blumen",
        "Sanitär",
    ),
    "fr": (
        "Boulangerie",
        "Électricité",
        "Paysagiste",
        "Cabinet Dentaire",
        "Garage",
        "Conseil",
        "Fleuriste",
        "Traiteur",
        "Librairie",
        "Plomberie",
    ),
}
_TLD = {"US": "com", "CA": "ca", "GB": "co.uk", "AU": "com.au", "DE": "de", "FR": "fr"}
_BOXES = ("info", "contact", "accounts", "office", "billing", "hello", "admin")
_TRANSLIT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})


def ascii_slug(text: str, sep: str = "") -> str:
    folded = unicodedata.normalize("NFKD", text.translate(_TRANSLIT)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", sep, folded.lower()).strip(sep)


@dataclass
class Pools:
    """One company's values for one country, drawn from the shipped pools; combined with a seeded Random
    per customer."""

    country: str
    given: list[str]
    family: list[str]
    companies: list[str]
    streets: list[str]
    numbers: list[str]
    cities: list[str]
    subdivisions: list[str]
    postcodes: list[str]
    free_domains: list[str]


def _uniq(values: list[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v and ":" not in v))


def build_pools(country: str, seed: int, size: int = 600) -> Pools:
    """This company's pools: ``size``-scaled draws (with Faker's frequencies) from the shipped values."""
    rng = random.Random(seed * 7 + len(country) + ord(country[0]) * 31 + ord(country[1]))
    n = size

    def take(name: str, k: int) -> list[str]:
        return _uniq(pooldata.draw(rng, country, name, k))

    return Pools(
        country=country,
        given=take("given", n * 2),
        family=take("family", n * 2),
        companies=take("companies", n),
        streets=take("streets", n),
        numbers=take("numbers", n // 2),
        cities=take("cities", n),
        subdivisions=take("subdivisions", n // 4) or [""],
        postcodes=take("postcodes", n),
        free_domains=take("free_domains", 60),
    )


@dataclass
class Identity:
    """Who a customer record says it is (before Ids and QBO rendering)."""

    kind: str  # person | business
    country: str
    given: str
    family: str
    middle: str = ""
    company_base: str = ""  # business name without its legal suffix
    suffix: str = ""  # legal suffix as written ("Inc.", "GmbH", ...)
    display: str = ""
    email: str | None = None
    phone: Phone | None = None
    phone_style: int = 0
    address: dict[str, str] | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def company(self) -> str:
        if not self.company_base:
            return ""
        sep = ", " if self.suffix and self.suffix.endswith(".") and self.country in ("US", "CA") else " "
        return f"{self.company_base}{sep}{self.suffix}" if self.suffix else self.company_base

    def copy(self) -> Identity:
        return replace(self, extra=dict(self.extra), address=dict(self.address) if self.address else None)


def split_suffix(name: str) -> tuple[str, str]:
    for suffix in ALL_SUFFIXES:
        for sep in (", ", " "):
            if name.endswith(sep + suffix):
                return name[: -len(sep + suffix)], suffix
    return name, ""


def person_display(ident: Identity) -> str:
    middle = f" {ident.middle}" if ident.middle else ""
    return f"{ident.given}{middle} {ident.family}"


def make_address(rng: random.Random, pools: Pools) -> dict[str, str]:
    c = pools.country
    street, number = pick(rng, pools.streets), pick(rng, pools.numbers)
    if c == "DE":
        line1 = f"{street} {number}"
    elif c == "FR":
        line1 = f"{number}, {street}" if rng.random() < 0.6 else f"{number} {street}"
    else:
        line1 = f"{number} {street}"
    addr = {"Line1": line1, "City": pick(rng, pools.cities)}
    sub = pick(rng, pools.subdivisions)
    if sub and (c in ("US", "CA", "AU") or rng.random() < 0.3):
        addr["CountrySubDivisionCode"] = sub
    addr["PostalCode"] = pick(rng, pools.postcodes)
    if c != "US" or rng.random() < 0.4:
        addr["Country"] = COUNTRY_NAMES[c]
    return addr


def person_email(rng: random.Random, given: str, family: str, domain: str) -> str:
    g, f = ascii_slug(given), ascii_slug(family)
    g, f = g or "info", f or "mail"
    pattern = int(rng.random() * 6)
    local = (
        f"{g}.{f}",
        f"{g}{f}",
        f"{g[0]}{f}",
        f"{f}.{g}",
        f"{g}_{f}{int(rng.random() * 90) + 10}",
        f"{g}{f[0]}{int(rng.random() * 90) + 10}",
    )[pattern]
    return f"{local}@{domain}"


def business_email(rng: random.Random, base: str, country: str, given: str) -> str:
    slug = ascii_slug(base, "")[:24] or "company"
    box = ascii_slug(given) if rng.random() < 0.25 else pick(rng, _BOXES)
    return f"{box or 'info'}@{slug}.{_TLD[country]}"


def make_identity(
    rng: random.Random, pools: Pools, *, business: bool, need_email: bool = False, need_phone: bool = False
) -> Identity:
    c = pools.country
    ident = Identity(
        kind="business" if business else "person",
        country=c,
        given=pick(rng, pools.given),
        family=pick(rng, pools.family),
    )
    if business:
        if rng.random() < 0.55:
            base, suffix = split_suffix(pick(rng, pools.companies))
        else:
            lang = "de" if c == "DE" else ("fr" if c == "FR" else "en")
            trade = pick(rng, _TRADES[lang])
            base = f"{trade} {ident.family}" if lang == "fr" else f"{ident.family} {trade}"
            suffix = ""
        if not suffix and rng.random() < 0.45:
            suffix = pick(rng, LEGAL_SUFFIXES[c])
        ident.company_base, ident.suffix = base, suffix
        ident.display = ident.company
    else:
        ident.display = person_display(ident)
    if need_email or rng.random() < 0.9:
        if business:
            ident.email = business_email(rng, ident.company_base, c, ident.given)
        else:
            ident.email = person_email(rng, ident.given, ident.family, pick(rng, pools.free_domains))
    if need_phone or rng.random() < 0.85:
        ident.phone = new_phone(rng, c)
        ident.phone_style = int(rng.random() * STYLES[c])
        if rng.random() < 0.7:
            ident.phone_style = 0  # most people in one company's books type numbers one way
    if rng.random() < 0.9:
        ident.address = make_address(rng, pools)
    return ident
