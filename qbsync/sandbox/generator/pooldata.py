"""Name and address pools per country, drawn once from Faker and shipped as data with the sandbox.

The generator combines these pools with seeded random streams, so a generated company needs no
sample-data library at run time: `pip install qbsync` stays lean for a user who syncs a real
company, and `qbsync demo` still runs after a plain install. Each pool keeps Faker's frequencies
(a value and how often it was drawn). Regenerate the file after a Faker upgrade with
``python -m qbsync.sandbox.generator.pooldata`` (needs `pip install faker`, in the `dev` extra).
"""

from __future__ import annotations

import functools
import gzip
import json
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

POOL_FILE = Path(__file__).resolve().parents[1] / "data" / "people_pools.json.gz"
LOCALES = {"US": "en_US", "CA": "en_CA", "GB": "en_GB", "AU": "en_AU", "DE": "de_DE", "FR": "fr_FR"}

#: field -> how many values to draw from Faker per country. Names come from short lists (en_US: 690
#: given names, 1,000 family names), drawn often enough that every one appears with its frequency;
#: the other fields are built from patterns, so they get ten times what the largest company draws,
#: which keeps two customers sharing a street or postcode about as rare as with Faker itself.
DRAWS = {"given": 60000, "family": 60000, "companies": 12000, "streets": 12000, "numbers": 6000,
         "cities": 12000, "subdivisions": 3000, "postcodes": 12000, "free_domains": 2000}

Pool = tuple[tuple[str, ...], tuple[int, ...]]  # values, how often each was drawn


@functools.cache
def pools() -> dict[str, dict[str, Pool]]:
    """country -> field -> (values, weights), read once from the shipped file."""
    with gzip.open(POOL_FILE, "rt", encoding="utf-8") as fh:
        raw: dict[str, dict[str, list[list[Any]]]] = json.load(fh)
    return {country: {name: (tuple(str(v) for v, _ in pairs), tuple(int(n) for _, n in pairs))
                      for name, pairs in fields.items()} for country, fields in raw.items()}


def draw(rng: random.Random, country: str, name: str, k: int) -> list[str]:
    """``k`` values of pool ``name`` with Faker's frequencies, from ``rng`` (repeats possible)."""
    values, weights = pools()[country][name]
    return rng.choices(values, weights=weights, k=k)


def _subdivision(fk: Any, country: str) -> Callable[[], str]:
    makers: dict[str, Callable[[], str]] = {
        "US": lambda: fk.state_abbr(include_territories=False), "CA": lambda: fk.province_abbr(),
        "AU": lambda: fk.state_abbr(), "GB": lambda: fk.county(), "DE": lambda: fk.administrative_unit()}
    return makers.get(country, lambda: "")


def build(seed: int = 20261205) -> dict[str, dict[str, list[list[Any]]]]:
    """Draw every pool from Faker (development only: the result is what ships)."""
    from faker import Faker

    out: dict[str, dict[str, list[list[Any]]]] = {}
    for country, locale in LOCALES.items():
        fk = Faker(locale)
        fk.seed_instance(seed + sum(map(ord, country)))
        makers: dict[str, Callable[[], str]] = {
            "given": fk.first_name, "family": fk.last_name, "companies": fk.company,
            "streets": fk.street_name, "numbers": fk.building_number, "cities": fk.city,
            "subdivisions": _subdivision(fk, country), "postcodes": fk.postcode,
            "free_domains": fk.free_email_domain}
        fields: dict[str, list[list[Any]]] = {}
        for name, count in DRAWS.items():
            drawn = Counter(v for v in (makers[name]() for _ in range(count)) if v and ":" not in v)
            fields[name] = [[v, n] for v, n in sorted(drawn.items())] or [["", 1]]
        out[country] = fields
    return out


def main() -> None:
    POOL_FILE.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(build(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    with gzip.GzipFile(POOL_FILE, "wb", mtime=0) as fh:  # mtime 0: the same pools give the same bytes
        fh.write(data.encode("utf-8"))
    print(f"wrote {POOL_FILE} ({POOL_FILE.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
