"""Pure re-check of one planned Active change against what QuickBooks holds now: write, already, or skip.

The plan was made from the cache; before anything is written the customer is read again. The change
goes ahead only if nothing it was based on has moved: same SyncToken, same Active flag, no open
balance (never deactivate one), no new sales activity, no active jobs left under a parent. An undo
accepts other edits made since its run, as long as Active is still what the run set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

JsonDict = dict[str, Any]

#: How new sales activity is judged before a deactivation:
#: "none" (reactivations), "since_seen" (a txn dated after the last one the plan saw, or changed
#: after ``changed_since``), "any" (duplicates: any transaction at all), "changed_since" (undo).
ActivityMode = Literal["none", "since_seen", "any", "changed_since"]

Outcome = Literal["write", "already", "skip"]


@dataclass(frozen=True)
class Expectation:
    """What a change assumes about the customer: the state the plan (or the undone run) saw."""

    customer_id: str
    display_name: str
    expected_active: bool
    new_active: bool
    expected_token: str
    activity_mode: ActivityMode = "none"
    last_activity_seen: date | None = None
    changed_since: datetime | None = None
    level: int = 0
    plan_seq: int | None = None
    #: Undo: edits since the run (a note, an address) do not block putting Active back; only Active
    #: itself must still be what the run left, and a deactivation keeps every other check.
    other_edits_ok: bool = False


@dataclass(frozen=True)
class Txn:
    """A sales-side transaction of a customer, as re-read from QuickBooks."""

    kind: str  # QBO entity name: Invoice, SalesReceipt, Payment, CreditMemo, Estimate
    id: str
    customer_id: str
    txn_date: date | None
    updated: datetime | None
    doc_number: str | None = None


@dataclass
class Fresh:
    """Current QuickBooks state of one customer (``customer`` None when it no longer exists)."""

    customer: JsonDict | None
    txns: list[Txn] = field(default_factory=list)
    active_jobs: list[str] = field(default_factory=list)  # Ids of active direct sub-customers


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str


def money(value: Any) -> Decimal:
    return Decimal(str(value if value is not None else 0))


def _describe(txn: Txn) -> str:
    what = {"SalesReceipt": "sales receipt", "CreditMemo": "credit memo"}.get(txn.kind, txn.kind.lower())
    number = f" {txn.doc_number}" if txn.doc_number else f" (Id {txn.id})"
    dated = f" dated {txn.txn_date.isoformat()}" if txn.txn_date else ""
    return f"{what}{number}{dated}"


def new_activity(exp: Expectation, txns: list[Txn]) -> list[Txn]:
    """The transactions that count as activity the plan did not know about."""
    if exp.activity_mode == "none":
        return []
    if exp.activity_mode == "any":
        return list(txns)
    found: list[Txn] = []
    for txn in txns:
        changed = (exp.changed_since is not None and txn.updated is not None
                   and txn.updated > exp.changed_since)
        if exp.activity_mode == "changed_since":
            if changed:
                found.append(txn)
            continue
        later = exp.last_activity_seen is None or (txn.txn_date is not None
                                                   and txn.txn_date > exp.last_activity_seen)
        if later or changed:
            found.append(txn)
    return found


def recheck(exp: Expectation, fresh: Fresh) -> Verdict:
    """Decide one change on current data. Order matters: "already done" wins over "changed"."""
    cust = fresh.customer
    if cust is None:
        return Verdict("skip", f"customer Id {exp.customer_id} no longer exists in QuickBooks")
    active = bool(cust.get("Active", True))
    token = str(cust.get("SyncToken", ""))
    if active == exp.new_active:
        return Verdict("already", f"already {'active' if active else 'inactive'} in QuickBooks "
                                  f"(SyncToken {token}): nothing to do")
    if active != exp.expected_active:
        return Verdict("skip", f"Active is {active} but the plan saw {exp.expected_active}")
    if token != exp.expected_token and not exp.other_edits_ok:
        return Verdict("skip", f"changed in QuickBooks since the plan: SyncToken was {exp.expected_token}, "
                               f"now {token}; make a new plan to include it")
    edited = token != exp.expected_token  # only an undo gets here with other edits since
    unchanged = ("Active still as the run left it (other fields edited since)" if edited
                 else "unchanged since the plan")
    if exp.new_active:
        return Verdict("write", unchanged)
    balance, with_jobs = money(cust.get("Balance")), money(cust.get("BalanceWithJobs"))
    if balance != 0 or with_jobs != 0:
        return Verdict("skip", f"open balance {balance:.2f} (with jobs {with_jobs:.2f}): "
                               "a customer with a balance is never deactivated")
    activity = new_activity(exp, fresh.txns)
    if activity:
        shown = ", ".join(_describe(t) for t in activity[:3])
        more = f" and {len(activity) - 3} more" if len(activity) > 3 else ""
        seen = exp.last_activity_seen
        dated_later = any(t.txn_date is not None and (seen is None or t.txn_date > seen) for t in activity)
        # Found only by when it was entered: say so, since its date may be one the plan already saw.
        since = (f"; entered or changed after {exp.changed_since:%Y-%m-%d %H:%M} UTC, a few minutes before "
                 "the plan was made, to allow for clock differences"
                 if exp.changed_since and not dated_later else "")
        return Verdict("skip", f"new activity since the plan: {shown}{more}{since}")
    if fresh.active_jobs:
        jobs = ", ".join(fresh.active_jobs[:5])
        return Verdict("skip", f"has active sub-customers (Id {jobs}); deactivate them first or keep "
                               "the parent")
    return Verdict("write", f"{unchanged}; no balance, no new activity")
