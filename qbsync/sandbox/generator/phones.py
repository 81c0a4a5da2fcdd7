"""Phone numbers per country: one canonical number, rendered in the formats people really type."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .seeding import pick

_CALLING = {"US": "1", "CA": "1", "GB": "44", "AU": "61", "DE": "49", "FR": "33"}
# Real area codes (geographic or mobile prefixes); subscriber digits are random.
_AREAS: dict[str, tuple[tuple[str, int], ...]] = {
    "US": tuple(
        (a, 7)
        for a in (
            "212",
            "213",
            "305",
            "312",
            "415",
            "503",
            "512",
            "617",
            "650",
            "702",
            "206",
            "303",
            "404",
            "602",
            "713",
            "720",
            "808",
            "919",
            "971",
        )
    ),
    "CA": tuple((a, 7) for a in ("416", "604", "613", "514", "403", "780", "902", "204", "306", "905")),
    "GB": (
        ("20", 8),
        ("121", 7),
        ("161", 7),
        ("131", 7),
        ("141", 7),
        ("117", 7),
        ("113", 7),
        ("7700", 6),
        ("7911", 6),
        ("7423", 6),
    ),
    "AU": (("2", 8), ("3", 8), ("7", 8), ("8", 8), ("412", 6), ("438", 6), ("401", 6)),
    "DE": (("30", 8), ("40", 8), ("89", 8), ("69", 7), ("221", 7), ("711", 7), ("151", 8), ("176", 8)),
    "FR": (("1", 8), ("2", 8), ("3", 8), ("4", 8), ("5", 8), ("6", 8), ("7", 8)),
}
STYLES: dict[str, int] = {"US": 6, "CA": 6, "GB": 4, "AU": 4, "DE": 5, "FR": 4}


@dataclass(frozen=True, slots=True)
class Phone:
    """A number as area code + subscriber digits; ``render`` gives one written form of it."""

    country: str
    area: str
    subscriber: str

    @property
    def e164(self) -> str:
        return f"+{_CALLING[self.country]}{self.area}{self.subscriber}"

    def render(self, style: int) -> str:
        c, a, s = self.country, self.area, self.subscriber
        cc = _CALLING[c]
        style %= STYLES[c]
        if c in ("US", "CA"):
            return (
                f"({a}) {s[:3]}-{s[3:]}",
                f"{a}-{s[:3]}-{s[3:]}",
                f"{a}.{s[:3]}.{s[3:]}",
                f"+1 {a} {s[:3]} {s[3:]}",
                f"{a}{s}",
                f"1-{a}-{s[:3]}-{s[3:]}",
            )[style]
        if c == "GB":
            return (
                f"0{a} {s[:4]} {s[4:]}" if len(a) == 2 else f"0{a} {s}",
                f"+44 {a} {s[:4]} {s[4:]}" if len(a) == 2 else f"+44 {a} {s}",
                f"0{a}{s}",
                f"+{cc}{a}{s}",
            )[style]
        if c == "AU":
            if len(a) == 1:
                return (
                    f"(0{a}) {s[:4]} {s[4:]}",
                    f"0{a} {s[:4]} {s[4:]}",
                    f"+61 {a} {s[:4]} {s[4:]}",
                    f"0{a}{s}",
                )[style]
            return (f"0{a} {s[:3]} {s[3:]}", f"0{a}{s}", f"+61 {a} {s[:3]} {s[3:]}", f"+61{a}{s}")[style]
        if c == "DE":
            return (f"0{a} {s}", f"+49 {a} {s}", f"0{a}/{s}", f"(0{a}) {s}", f"+49 (0){a} {s}")[style]
        digits = a + s  # FR: 9 digits after the trunk 0, written in pairs
        pairs = " ".join(digits[i : i + 2] for i in range(1, 9, 2))
        return (
            f"0{digits[0]} {pairs}",
            f"+33 {digits[0]} {pairs}",
            f"0{digits}",
            f"0{digits[0]}." + pairs.replace(" ", "."),
        )[style]


def new_phone(rng: random.Random, country: str) -> Phone:
    area, length = pick(rng, _AREAS[country])
    first = str(2 + int(rng.random() * 8))  # subscriber numbers do not start with 0 or 1
    rest = "".join(str(int(rng.random() * 10)) for _ in range(length - 1))
    return Phone(country, area, first + rest)
