"""Duplicate customers: normalise, block, compare, Fellegi-Sunter by EM, cluster, propose a survivor.

The matcher (numpy, rapidfuzz) loads on first use of one of its names, so importing this package
(for its defaults, say) costs nothing: the command line's ``--help`` stays fast.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from qbsync.rules.duplicates.defaults import DEACTIVATE_AT, MAX_CLUSTER, REVIEW, THRESHOLD

if TYPE_CHECKING:
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

__all__ = ["DEACTIVATE_AT", "MAX_CLUSTER", "REVIEW", "THRESHOLD", "CustomerRecord", "DuplicateCluster",
           "DuplicateFindings", "DuplicateReport", "FieldEvidence", "Member", "PairMatch",
           "detect_duplicates", "find_duplicates", "run_on_cache"]

_LAZY = {"DuplicateCluster": "detect", "DuplicateReport": "detect", "FieldEvidence": "detect",
         "Member": "detect", "PairMatch": "detect", "detect_duplicates": "detect",
         "CustomerRecord": "records"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f"qbsync.rules.duplicates.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run_on_cache(engine: sa.Engine, realm_id: str, as_of: date, *, threshold: float = THRESHOLD,
                 default_country: str | None = None, deactivate_at: float = DEACTIVATE_AT,
                 max_cluster: int = MAX_CLUSTER) -> DuplicateReport:
    """Load the realm's customers and their activity as of ``as_of`` and detect duplicates."""
    from qbsync.rules.duplicates import detect_duplicates  # through the package: tests may replace it
    from qbsync.rules.duplicates.sources import load_cache, load_history, realm_country

    records = load_cache(engine, realm_id, as_of)
    activity = load_history(engine, realm_id, as_of)
    default_country = default_country or realm_country(engine, realm_id)
    return detect_duplicates(records, activity=activity, threshold=threshold, default_country=default_country,
                             deactivate_at=deactivate_at, max_cluster=max_cluster)


def find_duplicates(engine: sa.Engine, realm_id: str, as_of: date, *, threshold: float = THRESHOLD,
                    deactivate_at: float = DEACTIVATE_AT, default_country: str | None = None,
                    max_cluster: int = MAX_CLUSTER) -> list[Finding]:
    """The duplicates rule's findings, as write-back, campaigns and reports use them."""
    return run_on_cache(engine, realm_id, as_of, threshold=threshold, deactivate_at=deactivate_at,
                        default_country=default_country, max_cluster=max_cluster).findings


class DuplicateFindings:
    """``find_duplicates`` over one cache, detected once per (realm, as_of) while this object lives.

    For a single run that asks more than once (the demo's rules step, then each export) and writes no
    customers or sales in between; make a new one per run so no finding outlives the cache it came from.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._found: dict[tuple[str, date], list[Finding]] = {}

    def __call__(self, realm_id: str, as_of: date) -> list[Finding]:
        key = (realm_id, as_of)
        if key not in self._found:
            self._found[key] = find_duplicates(self.engine, realm_id, as_of)
        return self._found[key]
