"""Ground truth of a generated company: what was planted, per customer and company-wide, as JSON."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

TRUTH_FORMAT = 1
INACTIVE_DAYS = 365
NON_PAYER_DAYS = 90


def cents_text(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def payment_class(invoices: Iterable[tuple[int, int | None, int]], as_of: int) -> str | None:
    """Class from data. ``invoices`` are (due day, day settled or None, open cents) as of ``as_of``.

    Matured invoices are those due before ``as_of``. One is late when settled after its due date,
    or still open past it. non_payer: some invoice open more than 90 days past due; otherwise
    on_time (no late one), sometimes_late (under half late) or chronically_late (half or more)."""
    matured = late = 0
    for due, settled, open_cents in invoices:
        if due >= as_of:
            continue
        matured += 1
        if open_cents > 0 or settled is None:
            if as_of - due > NON_PAYER_DAYS:
                return "non_payer"
            late += 1
        elif settled > due:
            late += 1
    if matured == 0:
        return None
    if late == 0:
        return "on_time"
    return "sometimes_late" if late * 2 < matured else "chronically_late"


class TruthBuilder:
    """Collects per-customer truth while the company streams out; ``result()`` is JSON-able."""

    def __init__(self, spec_json: dict[str, Any], as_of: date, realm_id: str | None) -> None:
        self.spec = spec_json
        self.as_of = as_of
        self.realm_id = realm_id
        self.customers: dict[str, dict[str, Any]] = {}
        self.clusters: dict[str, list[str]] = {}
        self.counts: dict[str, int] = {}
        self.open_invoice_cents = 0
        self.unapplied_credit_cents = 0
        self.unapplied_payment_cents = 0
        self.journal_cents = 0

    def add_customer(self, cid: str, record: dict[str, Any]) -> None:
        self.customers[cid] = {
            k: v for k, v in record.items() if v is not None and (v is not False or k == "active_in_qbo")
        }

    def add_duplicate(self, original: str, dup: str) -> None:
        self.clusters.setdefault(original, [original]).append(dup)

    def count(self, entity: str, n: int) -> None:
        self.counts[entity] = self.counts.get(entity, 0) + n

    def result(self) -> dict[str, Any]:
        as_of = self.as_of.toordinal()

        def ids(pred: Any) -> list[str]:
            return sorted((c for c, r in self.customers.items() if pred(r)), key=int)

        def age(r: dict[str, Any]) -> int:
            last = r.get("last_activity")
            return as_of - date.fromisoformat(last).toordinal() if last else -1

        return {
            "format": TRUTH_FORMAT,
            "generator": "qbsync.sandbox.generator",
            "realm_id": self.realm_id,
            "as_of": self.as_of.isoformat(),
            "spec": self.spec,
            "counts": dict(sorted(self.counts.items())),
            "totals": {
                "open_invoices": cents_text(self.open_invoice_cents),
                "unapplied_credit": cents_text(self.unapplied_credit_cents),
                "unapplied_payments": cents_text(self.unapplied_payment_cents),
                "journal_ar": cents_text(self.journal_cents),
                # What QuickBooks' A/R aging totals to: the sum of every customer's Balance.
                "ar_total": cents_text(self.open_invoice_cents - self.unapplied_credit_cents
                                       - self.unapplied_payment_cents + self.journal_cents),
            },
            "customers": self.customers,
            "duplicate_clusters": sorted(
                (sorted(c, key=int) for c in self.clusters.values()), key=lambda c: int(c[0])
            ),
            "churned": ids(lambda r: "churned_on" in r),
            "came_back": ids(lambda r: "came_back_on" in r),
            "brand_new": ids(lambda r: r.get("brand_new")),
            "inactive_in_qbo": ids(lambda r: not r.get("active_in_qbo")),
            "inactive_in_qbo_but_active": ids(
                lambda r: not r.get("active_in_qbo") and 0 <= age(r) <= INACTIVE_DAYS
            ),
            "no_activity_365": ids(lambda r: age(r) > INACTIVE_DAYS),
        }


def write_truth(truth: dict[str, Any], path: Path) -> None:
    """Atomic, deterministic JSON (sorted keys, no timestamps): same seed, same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(truth, fh, sort_keys=True, ensure_ascii=False, indent=1)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
