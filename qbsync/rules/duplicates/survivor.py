"""Which record of a duplicate cluster should survive: most activity, then most complete, then active."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from qbsync.rules.activity import CustomerActivity
from qbsync.rules.duplicates.records import CustomerRecord


@dataclass(frozen=True)
class History:
    """The little duplicates need to know about a customer's transactions (see ``sources.load_history``)."""

    txn_count: int  # sales-side transactions dated up to as_of
    ever: int  # the same at any date: one dated after as_of still makes deactivating unsafe
    last_activity: str | None = None


#: Activity per customer id: ``History``, the full facts from ``load_activity``, or a plain count.
Activity = Mapping[str, "History | CustomerActivity | int"]


@dataclass(frozen=True)
class MemberFacts:
    """What write-back needs to decide between deactivating a duplicate and a manual merge."""

    txn_count: int | None  # None: activity unknown (not loaded)
    has_transactions: bool | None
    open_balance: Decimal
    unapplied_credit: Decimal
    last_activity: str | None
    completeness: int

    @property
    def safe_to_deactivate(self) -> bool:
        """No transactions (known), no balance, no credit: deactivating loses nothing."""
        return (self.has_transactions is False and self.open_balance == 0 and self.unapplied_credit == 0)


def facts(record: CustomerRecord, activity: Activity | None) -> MemberFacts:
    act = activity.get(record.customer_id) if activity is not None else None
    count: int | None
    has: bool | None
    if isinstance(act, CustomerActivity):
        count = max(act.txn_count, getattr(act, "activity_count", 0))
        # Transactions dated after as_of still make deactivating unsafe.
        has = bool(count) or act.last_activity is not None or bool(getattr(act, "later_activity", False))
        balance = max(act.open_balance, record.balance)
        credit = act.unapplied_credit
        last = act.last_activity.isoformat() if act.last_activity else None
    elif isinstance(act, History):
        count, has, balance, credit = act.txn_count, act.ever > 0, record.balance, Decimal(0)
        last = act.last_activity
    elif isinstance(act, int):
        count, has, balance, credit, last = act, act > 0, record.balance, Decimal("0"), None
    else:
        # Unknown activity when a whole table was given but this customer is absent from it means none.
        known = activity is not None
        count, has = (0, False) if known else (None, None)
        balance, credit, last = record.balance, Decimal("0"), None
    return MemberFacts(count, has, Decimal(balance), Decimal(credit), last, record.completeness())


def txn_counts(records: Sequence[CustomerRecord], activity: Activity | None) -> list[int | None] | None:
    """Transactions per record up to as_of (None where unknown), or None without any activity."""
    if activity is None:
        return None
    return [facts(r, activity).txn_count for r in records]


def choose(records: Sequence[CustomerRecord], member_facts: Sequence[MemberFacts]) -> int:
    """Index of the proposed survivor among ``records``.

    Order of preference: active over inactive (the customer must keep a record in use: deactivating
    the active one in favour of one already retired would leave none), then more transactions
    (history lives there; merging moves the least), more filled-in contact fields, then the oldest
    (lowest creation date, then Id).
    """
    def key(k: int) -> tuple[int, int, int, int, str]:
        rec, f = records[k], member_facts[k]
        created = rec.created.toordinal() if rec.created else 10**7
        cid = rec.customer_id
        return (0 if rec.active else 1, -(f.txn_count or 0), -f.completeness, created,
                cid.zfill(20) if cid.isdigit() else cid)

    return min(range(len(records)), key=key)
