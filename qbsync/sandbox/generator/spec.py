"""CompanySpec: every knob of a generated sample company, with realistic defaults."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

# Locale shares of top-level customers; the company itself is US-based (USD, -08:00).
DEFAULT_COUNTRY_MIX: dict[str, float] = {
    "US": 0.55,
    "CA": 0.12,
    "GB": 0.11,
    "AU": 0.08,
    "DE": 0.08,
    "FR": 0.06,
}
DEFAULT_RHYTHM_MIX: dict[str, float] = {
    "weekly": 0.05,
    "monthly": 0.17,
    "seasonal": 0.15,
    "irregular": 0.38,
    "one_off": 0.25,
}
DEFAULT_PAYMENT_MIX: dict[str, float] = {
    "on_time": 0.55,
    "sometimes_late": 0.25,
    "chronically_late": 0.12,
    "non_payer": 0.08,
}
DEFAULT_DUPLICATE_KINDS: dict[str, float] = {
    "case_punct": 0.16,
    "legal_suffix": 0.14,
    "typo": 0.18,
    "swapped_names": 0.12,
    "same_email": 0.14,
    "phone_format": 0.12,
    "own_transactions": 0.14,
}


@dataclass(frozen=True)
class CompanySpec:
    """What to generate. ``customers`` counts top-level customer records, planted duplicates
    included; jobs (sub-customers) come on top of it."""

    seed: int = 42
    customers: int = 2000
    years: int = 3
    end_date: date = date(2025, 6, 30)
    company_name: str | None = None
    tz_offset: str = "-08:00"
    country_mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_COUNTRY_MIX))
    rhythm_mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_RHYTHM_MIX))
    payment_mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_PAYMENT_MIX))
    duplicate_kinds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_DUPLICATE_KINDS))
    business_share: float = 0.35
    invoice_share_business: float = 0.8
    invoice_share_person: float = 0.25
    jobs_share: float = 0.08  # of business customers that have jobs
    duplicate_share: float = 0.04  # of top-level records that are planted duplicates
    brand_new_share: float = 0.015  # created in the last 30 days, no transactions
    never_bought_share: float = 0.02  # created long ago, no transactions
    churn_share: float = 0.30  # of repeat buyers that stop at a known date
    come_back_share: float = 0.25  # of churned customers that buy again later
    deactivate_share: float = 0.45  # of long-churned, settled customers the owner made inactive
    reactivate_share: float = 0.03  # of recently active, settled customers wrongly made inactive
    credit_memo_share: float = 0.10  # of invoiced customers that get a credit memo
    unapplied_credit_share: float = 0.35  # of credit memos left unapplied
    estimate_share: float = 0.25  # of invoiced customers that get estimates
    locations: int = 5
    chunk_customers: int = 500  # households per bulk_load round: bounds memory
    # Everyday bookkeeping (all off by default, so the default company and its ground truth stay as
    # they were; ``CompanySpec.everyday()`` turns them on). Drawn from their own random stream.
    discount_share: float = 0.0  # of invoices and sales receipts with a percent discount
    tax_share: float = 0.0  # of invoicing/receipt households whose sales are taxed
    refund_share: float = 0.0  # of sales receipts partly refunded by a RefundReceipt
    void_share: float = 0.0  # of unpaid invoices and of sales receipts voided
    delete_share: float = 0.0  # of unpaid invoices and of sales receipts deleted
    unapplied_payment_share: float = 0.0  # of payments paying more than they apply (customer in credit)
    ar_journal_share: float = 0.0  # of invoicing households with an A/R journal entry

    @classmethod
    def everyday(cls, **overrides: Any) -> CompanySpec:
        """A company with the edits a bookkeeper makes: discounts and tax, refunds, voids, deletes,
        unapplied payments and credits, jobs, A/R journal entries (write-offs, finance charges)."""
        shares: dict[str, Any] = {
            "discount_share": 0.12, "tax_share": 0.4, "refund_share": 0.06, "void_share": 0.03,
            "delete_share": 0.02, "unapplied_payment_share": 0.04, "ar_journal_share": 0.3,
            "jobs_share": 0.12, "credit_memo_share": 0.15}
        shares.update(overrides)
        return cls(**shares)

    @property
    def edits(self) -> bool:
        return any((self.discount_share, self.tax_share, self.refund_share, self.void_share,
                    self.delete_share, self.unapplied_payment_share, self.ar_journal_share))

    @property
    def start_date(self) -> date:
        return date.fromordinal(self.end_date.toordinal() - 365 * self.years)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["end_date"] = self.end_date.isoformat()
        return out
