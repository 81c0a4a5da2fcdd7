"""Duplicate customers: normalise, block, compare, Fellegi-Sunter by EM, cluster, propose a survivor."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from qbsync.rules.duplicates.detect import (
    DuplicateCluster,
    DuplicateReport,
    FieldEvidence,
    Member,
    PairMatch,
    detect_duplicates,
)
from qbsync.rules.duplicates.records import CustomerRecord
from qbsync.rules.findings import Finding

__all__ = ["CustomerRecord", "DuplicateCluster", "DuplicateReport", "FieldEvidence", "Member", "PairMatch",
           "detect_duplicates", "find_duplicates", "run_on_cache"]


def run_on_cache(engine: sa.Engine, realm_id: str, as_of: date, *, threshold: float = 0.5,
                 default_country: str | None = None) -> DuplicateReport:
    """Load the realm's customers and their activity as of ``as_of`` and detect duplicates."""
    from qbsync.rules.duplicates.sources import load_cache, load_history, realm_country

    records = load_cache(engine, realm_id, as_of)
    activity = load_history(engine, realm_id, as_of)
    default_country = default_country or realm_country(engine, realm_id)
    return detect_duplicates(records, activity=activity, threshold=threshold, default_country=default_country)


def find_duplicates(engine: sa.Engine, realm_id: str, as_of: date) -> list[Finding]:
    """The duplicates rule's findings (entry point write-back and reports look up by name)."""
    return run_on_cache(engine, realm_id, as_of).findings
