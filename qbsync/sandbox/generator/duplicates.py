"""Planted duplicates: a second customer record for the same real customer, of a known kind."""

from __future__ import annotations

import random
import re

from .people import LEGAL_SUFFIXES, Identity, Pools, person_display, person_email
from .phones import STYLES
from .seeding import pick

KINDS = (
    "case_punct",
    "legal_suffix",
    "typo",
    "swapped_names",
    "same_email",
    "phone_format",
    "own_transactions",
)
# Which originals a kind can be planted on.
NEEDS = {"case_punct": "business", "legal_suffix": "business", "swapped_names": "person"}
_NICK = {
    "William": "Bill",
    "Robert": "Bob",
    "Richard": "Dick",
    "James": "Jim",
    "Michael": "Mike",
    "Elizabeth": "Liz",
    "Katherine": "Kate",
    "Jennifer": "Jen",
    "Thomas": "Tom",
    "Joseph": "Joe",
    "Christopher": "Chris",
    "Daniel": "Dan",
    "Matthew": "Matt",
    "Anthony": "Tony",
    "Margaret": "Peggy",
    "Patricia": "Pat",
    "Steven": "Steve",
    "Edward": "Ed",
    "Johannes": "Hans",
    "Alexander": "Alex",
}
_ABBREV = (
    (" Street", " St"),
    (" Avenue", " Ave"),
    (" Road", " Rd"),
    ("straße", "str."),
    (" Drive", " Dr"),
    ("Straße", "Str."),
    (" Lane", " Ln"),
    ("avenue ", "av. "),
    ("boulevard ", "bd "),
)


def typo(rng: random.Random, word: str) -> str:
    letters = [i for i, ch in enumerate(word) if ch.isalpha()]
    if len(letters) < 3:
        return word + word[-1]
    for _ in range(8):
        op = int(rng.random() * 4)
        i = letters[1 + int(rng.random() * (len(letters) - 2))]
        if op == 0 and i + 1 < len(word) and word[i + 1].isalpha() and word[i] != word[i + 1]:
            out = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        elif op == 1 and len(letters) > 4:
            out = word[:i] + word[i + 1 :]
        elif op == 2:
            out = word[:i] + word[i] + word[i:]
        else:
            repl = pick(rng, "aeiou" if word[i].lower() in "aeiou" else "nmrstl")
            out = word[:i] + (repl.upper() if word[i].isupper() else repl) + word[i + 1 :]
        if out != word:
            return out
    return word + word[-1]


def _case_punct(rng: random.Random, name: str) -> str:
    out = name
    swaps = [(" & ", " and "), (" and ", " & "), ("'", ""), (",", ""), ("-", " "), (".", "")]
    rng.shuffle(swaps)
    for a, b in swaps[:3]:
        out = out.replace(a, b)
    style = int(rng.random() * 3)
    out = (out.upper(), out.lower(), out.title())[style]
    if out.casefold() == name.casefold():
        out = out + "."
    return re.sub(r"\s+", " ", out).strip()


def _same_address(rng: random.Random, addr: dict[str, str] | None) -> dict[str, str] | None:
    if addr is None:
        return None
    out = dict(addr)
    if rng.random() < 0.35:
        line = out["Line1"]
        for a, b in _ABBREV:
            if a in line:
                out["Line1"] = line.replace(a, b)
                break
        else:
            out["Line1"] = line.upper() if rng.random() < 0.5 else line
    if rng.random() < 0.3:
        out.pop("Country", None)
    return out


def mutate(rng: random.Random, orig: Identity, kind: str, pools: Pools) -> tuple[Identity, str]:
    """The duplicate record for ``orig``; returns it and the name variant used (for own_transactions)."""
    dup = orig.copy()
    variant = kind
    if kind == "own_transactions":
        options = (
            ["typo", "case_punct", "legal_suffix"] if orig.kind == "business" else ["typo", "swapped_names"]
        )
        variant = pick(rng, options)
    share = {
        "case_punct": (0.7, 0.5, 0.8),
        "legal_suffix": (0.6, 0.6, 0.8),
        "typo": (0.5, 0.5, 0.7),
        "swapped_names": (0.6, 0.5, 0.8),
        "same_email": (1.0, 0.0, 0.3),
        "phone_format": (0.0, 1.0, 0.5),
        "own_transactions": (0.5, 0.5, 0.8),
    }[kind]
    if variant == "case_punct":
        dup.display = _case_punct(rng, orig.display)
        dup.company_base, dup.suffix = dup.display, ""
    elif variant == "legal_suffix":
        choices = [s for s in LEGAL_SUFFIXES[orig.country] if s != orig.suffix]
        if orig.suffix and rng.random() < 0.35:
            dup.suffix = ""
        else:
            dup.suffix = pick(rng, choices) if choices else "Inc"
        dup.display = dup.company
    elif variant == "typo":
        if orig.kind == "business":
            words = orig.company_base.split(" ")
            longest = max(range(len(words)), key=lambda i: len(words[i]))
            words[longest] = typo(rng, words[longest])
            dup.company_base = " ".join(words)
            dup.display = dup.company
        else:
            if rng.random() < 0.6:
                dup.family = typo(rng, orig.family)
            else:
                dup.given = typo(rng, orig.given)
            dup.display = person_display(dup)
    elif variant == "swapped_names":
        if rng.random() < 0.5:
            dup.display = f"{orig.family}, {orig.given}"
        else:
            dup.given, dup.family = orig.family, orig.given
            dup.display = f"{dup.given} {dup.family}"
    elif kind == "same_email":
        if orig.kind == "business":
            dup.kind, dup.company_base, dup.suffix = "person", "", ""
            dup.display = f"{orig.given} {orig.family}"
        elif orig.given in _NICK and rng.random() < 0.8:
            dup.given = _NICK[orig.given]
            dup.display = person_display(dup)
        else:
            dup.display = f"{orig.given[0]}. {orig.family}"
    elif kind == "phone_format":
        if orig.kind == "business":
            city = (orig.address or {}).get("City") or orig.family
            dup.display = f"{orig.display} - {city}"
        else:
            dup.middle = pick(rng, "ABCDEFGHJKLMNPRSTW") + "."
            dup.display = person_display(dup)
    p_email, p_phone, p_addr = share
    if rng.random() >= p_email or orig.email is None:
        if rng.random() < 0.5 or dup.kind == "business":
            dup.email = None
        else:
            dup.email = person_email(rng, dup.given, dup.family, pick(rng, pools.free_domains))
    if kind == "phone_format" and orig.phone is not None:
        dup.phone_style = orig.phone_style + 1 + int(rng.random() * (STYLES[orig.country] - 1))
        dup.phone_style %= STYLES[orig.country]
    elif rng.random() >= p_phone:
        dup.phone = None
    dup.address = _same_address(rng, orig.address) if rng.random() < p_addr else None
    return dup, variant
