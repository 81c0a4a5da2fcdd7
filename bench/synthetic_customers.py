"""Synthetic customer lists with planted duplicates, for the duplicates benchmark (seeded, fast)."""

from __future__ import annotations

import random
from decimal import Decimal

from faker import Faker

from qbsync.rules.duplicates.records import CustomerRecord


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word + word[-1:]
    i = rng.randrange(1, len(word) - 1)
    op = rng.randrange(3)
    if op == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if op == 1:
        return word[:i] + word[i + 1:]
    return word[:i] + rng.choice("aeiounrst") + word[i + 1:]


def customers(n: int, duplicate_share: float = 0.05,
              seed: int = 7) -> tuple[list[CustomerRecord], dict[str, str]]:
    """``n`` US customer records, ``duplicate_share`` of them planted duplicates; (records, truth)."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    given = [fake.first_name() for _ in range(3000)]
    family = [fake.last_name() for _ in range(8000)]
    streets = [fake.street_name() for _ in range(20000)]
    cities = [(fake.city(), fake.state_abbr(), fake.zipcode()) for _ in range(3000)]
    domains = ["gmail.com", "yahoo.com", "outlook.com", "aol.com", "icloud.com"]
    companies = [fake.company() for _ in range(20000)]
    n_orig = int(n * (1 - duplicate_share))
    records: list[CustomerRecord] = []
    truth: dict[str, str] = {}
    for i in range(n_orig):
        g, f = rng.choice(given), rng.choice(family)
        city, state, zipc = rng.choice(cities)
        business = rng.random() < 0.3
        # Real customer lists rarely hold two different customers under one company name.
        company = f"{rng.choice(companies)} {rng.choice(family)}" if business else None
        rec = CustomerRecord(
            customer_id=str(i + 1), display_name=company or f"{g} {f}", given_name=g, family_name=f,
            company_name=company,
            email=(f"{g}.{f}{rng.randrange(100)}@{rng.choice(domains)}".lower()
                   if rng.random() < 0.8 else None),
            phone=(f"({rng.randrange(200, 999)}) {rng.randrange(200, 999)}-{rng.randrange(10000):04d}"
                   if rng.random() < 0.7 else None),
            bill_line1=(f"{rng.randrange(1, 9999)} {rng.choice(streets)}" if rng.random() < 0.85 else None),
            bill_city=city, bill_region=state, bill_postal_code=zipc, bill_country="US",
            balance=Decimal("0"))
        records.append(rec)
        truth[rec.customer_id] = rec.customer_id
    for j in range(n - n_orig):
        orig = records[rng.randrange(n_orig)]
        cid = str(n_orig + j + 1)
        kind = rng.randrange(4)
        g, f = orig.given_name or "", orig.family_name or ""
        email, phone, line1 = orig.email, orig.phone, orig.bill_line1
        if kind == 0:
            f = _typo(rng, f)
        elif kind == 1:
            g, f = f, g
        elif kind == 2:
            g = _typo(rng, g)
            email = None
        else:
            phone = phone.replace("(", "").replace(") ", "-") if phone else None
            line1 = (line1 or "").upper() or None
        if rng.random() < 0.3:
            email = None
        if rng.random() < 0.3:
            phone = None
        dup = CustomerRecord(
            customer_id=cid, display_name=orig.company_name or f"{g} {f}", given_name=g, family_name=f,
            company_name=orig.company_name, email=email, phone=phone, bill_line1=line1,
            bill_city=orig.bill_city, bill_region=orig.bill_region, bill_postal_code=orig.bill_postal_code,
            bill_country="US")
        records.append(dup)
        truth[cid] = truth[orig.customer_id]
    return records, truth
