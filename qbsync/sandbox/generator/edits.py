"""Everyday bookkeeping on a household's books: discounts and tax, refunds, voids, deletes, unapplied
payments and A/R journal entries (write-offs, finance charges). Off unless the spec's shares are set."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .spec import CompanySpec
from .transactions import Member, Txn

TAX_RATE_BP = 825  # 8.25 %, in basis points
DISCOUNTS = (5, 10, 15)  # percent
WRITE_OFF_AFTER = 120  # days past due before a non-payer's invoice is written off
FINANCE_AFTER = 30


def _pct(cents: int, pct: int) -> int:
    return (cents * pct + 50) // 100  # half up, as QuickBooks rounds cents


@dataclass
class Edits:
    """The household's own stream of bookkeeping decisions (independent of its purchase history)."""

    rng: random.Random
    spec: CompanySpec
    taxed: bool

    @classmethod
    def for_household(cls, rng: random.Random, spec: CompanySpec) -> Edits:
        return cls(rng, spec, rng.random() < spec.tax_share)

    def price(self, t: Txn) -> None:
        """Discount and tax of an invoice or sales receipt: TotalAmt = items - discount + tax."""
        items = t.items_total()
        if self.rng.random() < self.spec.discount_share:
            t.pct = DISCOUNTS[int(self.rng.random() * len(DISCOUNTS))]
            t.discount = _pct(items, t.pct)
        if self.taxed:
            t.tax = ((items - t.discount) * TAX_RATE_BP + 5000) // 10000
        t.total = items - t.discount + t.tax
        t.balance = t.total if t.kind == "Invoice" else 0

    def after(self, txns: list[Txn], members: list[Member], as_of: int) -> None:
        """Voids, deletes, refunds, unapplied payments and journal entries, once payments are known."""
        spec, rng = self.spec, self.rng
        added: list[Txn] = []
        for t in txns:
            untouched = t.kind == "Invoice" and not any(x.kind != "Estimate" for x in t.links)
            if untouched or t.kind == "SalesReceipt":
                if t.kind == "Invoice" and any(x.kind == "Estimate" for x in t.links):
                    pass  # an estimate points at it: voided at most, never deleted
                elif rng.random() < spec.delete_share:
                    t.deleted = True
                    continue
                if rng.random() < spec.void_share:
                    t.voided = True
                    t.balance = 0
                    t.settled = None
                    t.updated = (min(as_of, t.day + 1 + int(rng.random() * 10)), t.sec)
                    continue
            if t.kind == "SalesReceipt" and rng.random() < spec.refund_share:
                day = t.day + 1 + int(rng.random() * 20)
                if day <= as_of:
                    item, qty, unit = t.lines[0]
                    back = max(1, int(qty * rng.random()))
                    refund = Txn("RefundReceipt", t.member, day, min(86399, t.sec + 60), [(item, back, unit)],
                                 dept=t.dept, cls=t.cls, method=t.method)
                    refund.tax = ((back * unit) * TAX_RATE_BP + 5000) // 10000 if t.tax else 0
                    refund.total = back * unit + refund.tax
                    added.append(refund)
            if t.kind == "Payment" and t.total > 0 and rng.random() < spec.unapplied_payment_share:
                extra = max(100, int(t.total * (0.05 + rng.random() * 0.45)))
                t.total += extra
                t.unapplied = extra
        if rng.random() < spec.ar_journal_share:
            je = self._journal(txns, as_of)
            if je is not None:
                added.append(je)
        txns.extend(added)

    def _journal(self, txns: list[Txn], as_of: int) -> Txn | None:
        open_invoices = [t for t in txns if t.kind == "Invoice" and t.balance > 0 and not t.voided
                         and not t.deleted and t.due is not None]
        old = [t for t in open_invoices if t.due is not None and t.due + WRITE_OFF_AFTER <= as_of]
        if old:  # a bad-debt write-off: credit A/R for what the customer will never pay
            inv = old[int(self.rng.random() * len(old))]
            assert inv.due is not None
            je = Txn("JournalEntry", inv.member, inv.due + WRITE_OFF_AFTER, 61200)
            je.je, je.total, je.note = -inv.balance, inv.balance, "Bad debt write-off"
            return je
        late = [t for t in open_invoices if t.due is not None and t.due + FINANCE_AFTER <= as_of]
        if late:  # a finance charge: debit A/R
            inv = late[int(self.rng.random() * len(late))]
            assert inv.due is not None
            charge = max(100, _pct(inv.balance, 2))
            je = Txn("JournalEntry", inv.member, inv.due + FINANCE_AFTER, 61200)
            je.je, je.total, je.note = charge, charge, "Finance charge"
            return je
        return None
