"""Sample companies with ground truth: ``seed_realm(store, realm_id, CompanySpec(...))``.

Modules: spec (knobs), seeding (random streams), people/phones (identities), duplicates (planted
duplicates), rhythms (purchase dates), transactions (a household's books), catalog (company lists),
render (wire shapes), truth (ground truth), company (orchestration), timeforward (play time forward).
"""

from __future__ import annotations

from .company import GeneratedCompany, generate_company, seed_realm
from .spec import CompanySpec
from .truth import payment_class, write_truth

__all__ = [
    "CompanySpec",
    "GeneratedCompany",
    "generate_company",
    "payment_class",
    "seed_realm",
    "write_truth",
]
