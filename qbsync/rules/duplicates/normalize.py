"""Normalising customer fields for matching: names, company names, emails, phones and addresses."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import phonenumbers

_DELETED = re.compile(r"\s*\((deleted|supprim[ée]|gelöscht)\)\s*$", re.IGNORECASE)
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_DIGITS = re.compile(r"\D+")

#: Legal-form words dropped from company names: "Acme, Inc." and "ACME Incorporated" are one company.
LEGAL_SUFFIXES = frozenset({
    "inc", "incorporated", "llc", "llp", "lp", "ltd", "limited", "corp", "corporation", "co", "company",
    "plc", "pty", "pvt", "gmbh", "ag", "kg", "ohg", "ug", "mbh", "sa", "sas", "sarl", "srl", "spa", "bv",
    "nv", "oy", "ab", "as", "aps", "kk", "pc", "pllc", "lda", "sl", "se", "the",
})

#: Honorifics and generational suffixes that say nothing about who a person is.
_NAME_NOISE = frozenset({"mr", "mrs", "ms", "miss", "dr", "prof", "jr", "sr", "ii", "iii", "iv", "mx"})

#: Common English nicknames -> the formal given name ("Bill Smith" is William Smith's record too).
NICKNAMES = {
    "bill": "william", "will": "william", "billy": "william", "liam": "william", "bob": "robert",
    "rob": "robert", "bobby": "robert", "dick": "richard", "rick": "richard", "rich": "richard",
    "jim": "james", "jimmy": "james", "mike": "michael", "mick": "michael", "liz": "elizabeth",
    "beth": "elizabeth", "betty": "elizabeth", "kate": "katherine", "kathy": "katherine",
    "katie": "katherine", "jen": "jennifer", "jenny": "jennifer", "tom": "thomas", "tommy": "thomas",
    "joe": "joseph", "joey": "joseph", "chris": "christopher", "dan": "daniel", "danny": "daniel",
    "matt": "matthew", "tony": "anthony", "peggy": "margaret", "maggie": "margaret", "meg": "margaret",
    "pat": "patricia", "patty": "patricia", "steve": "steven", "ed": "edward", "eddie": "edward",
    "ted": "edward", "hans": "johannes", "alex": "alexander", "sam": "samuel", "ben": "benjamin",
    "nick": "nicholas", "andy": "andrew", "drew": "andrew", "dave": "david", "greg": "gregory",
    "jon": "jonathan", "josh": "joshua", "sue": "susan", "suzy": "susan", "vicky": "victoria",
    "fred": "frederick", "charlie": "charles", "chuck": "charles", "larry": "lawrence", "jack": "john",
    "johnny": "john", "abby": "abigail", "becky": "rebecca", "debbie": "deborah", "cathy": "catherine",
}

#: Street-type words to one spelling each (USPS / Australia Post abbreviations).
STREET_TYPES = {
    "street": "st", "str": "st", "road": "rd", "avenue": "ave", "av": "ave", "boulevard": "blvd",
    "drive": "dr", "lane": "ln", "court": "ct", "place": "pl", "circuit": "cct", "crescent": "cres",
    "close": "cl", "terrace": "tce", "parade": "pde", "highway": "hwy", "square": "sq", "parkway": "pkwy",
    "way": "wy", "circle": "cir", "trail": "trl", "grove": "gr", "esplanade": "esp", "mount": "mt",
    "bd": "blvd", "strasse": "str", "straße": "str", "chaussee": "ch", "chemin": "ch", "allee": "al",
    "suite": "ste", "apartment": "apt", "unit": "unit", "floor": "fl", "north": "n", "south": "s",
    "east": "e", "west": "w", "saint": "st",
}

#: Country names and codes as they appear in QuickBooks addresses -> ISO 3166 alpha-2.
_COUNTRIES = {
    "us": "US", "usa": "US", "united states": "US", "united states of america": "US", "america": "US",
    "ca": "CA", "can": "CA", "canada": "CA", "gb": "GB", "uk": "GB", "united kingdom": "GB",
    "great britain": "GB", "england": "GB", "au": "AU", "aus": "AU", "australia": "AU", "nz": "NZ",
    "new zealand": "NZ", "ie": "IE", "ireland": "IE", "in": "IN", "india": "IN", "fr": "FR",
    "france": "FR", "de": "DE", "germany": "DE", "deutschland": "DE", "es": "ES", "spain": "ES",
    "it": "IT", "italy": "IT", "nl": "NL", "netherlands": "NL", "mx": "MX", "mexico": "MX",
    "za": "ZA", "south africa": "ZA", "sg": "SG", "singapore": "SG",
}


#: Letters that Unicode does not decompose into a base letter plus an accent.
_LETTERS = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE",
                          "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "þ": "th", "Þ": "TH", "ı": "i"})


@lru_cache(maxsize=1 << 18)
def fold(text: str | None) -> str:
    """Lower case, accents removed, punctuation to single spaces: "Zoë O'Neil-Smith" -> "zoe o neil smith"."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LETTERS))
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NON_ALNUM.sub(" ", ascii_only.lower()).strip()


def strip_deleted(name: str | None) -> str:
    """The name without QuickBooks' " (deleted)" suffix that deleted list entries carry."""
    return _DELETED.sub("", name or "").strip()


@lru_cache(maxsize=1 << 18)
def person_name(name: str | None) -> str:
    """A given or family name for comparison: folded, honorifics dropped, apostrophes joined."""
    # "O'Neil" and "ONeil" are the same surname; "O Neil" would split it into two tokens.
    text = strip_deleted(name).replace("'", "").replace("’", "")
    return " ".join(t for t in fold(text).split() if t not in _NAME_NOISE)


def company_name(name: str | None) -> str:
    """A company name without legal form, "the" or "&": "The ACME Co., Inc." -> "acme"."""
    text = strip_deleted(name).replace("&", " and ").replace("'", "")
    tokens = [t for t in fold(text).split() if t not in LEGAL_SUFFIXES and t != "and"]
    return " ".join(tokens)


def looks_like_company(name: str | None) -> bool:
    """Whether a display name carries a legal form (so it names a company, not a person)."""
    return any(t in LEGAL_SUFFIXES - {"the", "co", "as", "se"} for t in fold(strip_deleted(name)).split())


def split_display_name(display: str | None) -> tuple[str, str]:
    """(given, family) read from a display name: "Smith, John" and "John Smith" both -> ("john", "smith")."""
    text = strip_deleted(display)
    if "," in text:
        family, _, given = text.partition(",")
        return person_name(given), person_name(family)
    tokens = person_name(text).split()
    if not tokens:
        return "", ""
    if len(tokens) == 1:
        return "", tokens[0]
    return tokens[0], tokens[-1]


def email(address: str | None) -> str:
    """An email address as a mailbox: lower case, "+tag" dropped, Gmail's ignored dots removed."""
    if not address or "@" not in address:
        return ""
    local, _, domain = address.strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    domain = domain.strip(". ")
    if domain in ("gmail.com", "googlemail.com"):
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}" if local and domain else ""


def country_code(country: str | None) -> str | None:
    """ISO alpha-2 code of a country as written in an address, or None when unknown."""
    if not country:
        return None
    key = fold(country)
    compact = key.replace(" ", "")  # "U.K." and "U.S.A." fold to spaced letters
    for k in (key, compact):
        if k in _COUNTRIES:
            return _COUNTRIES[k]
    key = compact if len(compact) <= 3 else key
    return key.upper() if len(key) == 2 and key.isalpha() else None


@lru_cache(maxsize=200_000)
def phone(number: str | None, region: str | None = None) -> str:
    """A phone number in E.164 when it parses for ``region`` (or carries a +code), else its digits.

    Without a known country the national digits are kept as they are; two numbers written with and
    without a country code then still share their last digits (see ``compare``).
    """
    if not number:
        return ""
    digits = _DIGITS.sub("", number)
    if len(digits) < 6:
        return ""
    if region in ("US", "CA") and not number.lstrip().startswith("+"):
        # North American numbers are 10 digits after an optional 1: E.164 without the parser's cost.
        if len(digits) == 10 and digits[0] not in "01":
            return "+1" + digits
        if len(digits) == 11 and digits[0] == "1":
            return "+" + digits
    if region or number.lstrip().startswith("+"):
        try:
            parsed = phonenumbers.parse(number, region)
        except phonenumbers.NumberParseException:
            return digits
        if phonenumbers.is_possible_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return digits


def street(line: str | None) -> tuple[str, str]:
    """(house number, street) of an address line: "12B Main Street." -> ("12b", "main st")."""
    # German streets are one word: "Hauptstraße" and "Hauptstr." are one street.
    tokens = [t[:-7] + "str" if t.endswith("strasse") and len(t) > 7 else STREET_TYPES.get(t, t)
              for t in fold(line).split()]
    number = ""
    rest: list[str] = []
    for tok in tokens:
        if not number and tok[0].isdigit():
            number = tok
        else:
            rest.append(tok)
    return number, " ".join(rest)


def postcode(code: str | None) -> str:
    """A postal code without spaces or dashes, upper case: "sw1a 1aa" -> "SW1A1AA"."""
    return _NON_ALNUM.sub("", fold(code)).upper()
