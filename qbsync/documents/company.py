"""The company a document comes from: name, address, contact details and locale, from its CompanyInfo.

The sync stores QuickBooks' CompanyInfo with the realm (``realms.raw_company_info``). A letter's
sender block uses the *customer communication* address when the company set one (the address
QuickBooks prints on sales forms), else the company address, else the legal address. The locale is
the company's country with its language (``SupportedLanguages``, else the country's main one), so
a Brazilian company gets ``pt_BR``; ``[documents] locale`` overrides it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from qbsync.cache.models import Realm
from qbsync.errors import InputError

#: the language of a country when CompanyInfo names none (QuickBooks Online's markets and the
#: countries of the five built-in translations)
COUNTRY_LANGUAGE = {"US": "en", "CA": "en", "GB": "en", "UK": "en", "AU": "en", "NZ": "en", "IE": "en",
                    "IN": "en", "SG": "en", "ZA": "en", "HK": "zh", "PH": "en", "MY": "en",
                    "BR": "pt", "PT": "pt", "FR": "fr", "BE": "fr", "LU": "fr", "MA": "fr", "ES": "es",
                    "MX": "es", "AR": "es", "CO": "es", "CL": "es", "PE": "es", "CN": "zh", "TW": "zh"}
#: QuickBooks writes some countries out in full
COUNTRY_NAMES = {"USA": "US", "UNITED STATES": "US", "CANADA": "CA", "UNITED KINGDOM": "GB",
                 "AUSTRALIA": "AU", "BRAZIL": "BR", "BRASIL": "BR", "FRANCE": "FR", "SPAIN": "ES",
                 "ESPAÑA": "ES", "MEXICO": "MX", "MÉXICO": "MX", "CHINA": "CN", "PORTUGAL": "PT",
                 "INDIA": "IN"}


def country_code(raw: str | None) -> str | None:
    if not raw:
        return None
    value = raw.strip().upper()
    return COUNTRY_NAMES.get(value, value if len(value) == 2 else None)


@dataclass(frozen=True)
class Company:
    realm_id: str
    name: str
    address: tuple[str, ...] = ()
    phone: str | None = None
    email: str | None = None
    website: str | None = None
    country: str | None = None  # ISO 3166 code
    currency: str = "USD"
    locale: str = "en_US"
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def language(self) -> str:
        return self.locale.split("_")[0]


def address_lines(addr: dict[str, Any] | None) -> tuple[str, ...]:
    """A QuickBooks address (Line1-5, City, CountrySubDivisionCode, PostalCode, Country) as lines."""
    if not isinstance(addr, dict):
        return ()
    lines = [str(addr[k]).strip() for k in ("Line1", "Line2", "Line3", "Line4", "Line5") if addr.get(k)]
    city = " ".join(str(addr[k]).strip() for k in ("City", "CountrySubDivisionCode", "PostalCode")
                    if addr.get(k))
    if city:
        lines.append(city)
    if addr.get("Country"):
        lines.append(str(addr["Country"]).strip())
    return tuple(line for line in lines if line)


def default_locale(info: dict[str, Any], country: str | None) -> str:
    languages = str(info.get("SupportedLanguages") or "").replace(" ", "").split(",")
    language = next((x for x in languages if x), None) or COUNTRY_LANGUAGE.get(country or "", "en")
    return f"{language.split('_')[0].split('-')[0].lower()}_{country}" if country else language


def company(engine: sa.Engine, realm_id: str, *, locale: str | None = None) -> Company:
    """The company of ``realm_id`` as its CompanyInfo describes it (``locale`` overrides the guess)."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(Realm.company_name, Realm.country, Realm.currency,
                                     Realm.raw_company_info)
                           .where(Realm.realm_id == realm_id)).first()
    if row is None:
        raise InputError(f"no company (realm) {realm_id} in the cache", hint="run `qbsync sync` first")
    info = dict(row.raw_company_info or {})
    addr = next((a for a in (info.get("CustomerCommunicationAddr"), info.get("CompanyAddr"),
                             info.get("LegalAddr")) if isinstance(a, dict) and a), None)
    country = country_code(row.country or info.get("Country") or (addr or {}).get("Country"))
    phone = (info.get("PrimaryPhone") or {}).get("FreeFormNumber") if isinstance(info.get("PrimaryPhone"),
                                                                                 dict) else None
    email = (info.get("Email") or {}).get("Address") if isinstance(info.get("Email"), dict) else None
    web = (info.get("WebAddr") or {}).get("URI") if isinstance(info.get("WebAddr"), dict) else None
    return Company(realm_id, row.company_name or info.get("CompanyName") or f"Company {realm_id}",
                   address_lines(addr), phone, email, web, country, row.currency or "USD",
                   locale or default_locale(info, country), info)
