"""The inactive rule (with its guardrails) and its opposite, reactivate: activity in, findings out.

A customer and its jobs (sub-customers, any depth) are judged together as one *family*: the family
is stale when none of its members did anything for longer than the threshold, and then every member
still active in QuickBooks is flagged — jobs follow their parent, and a parent whose jobs are busy
is never flagged. Guardrails, in order: exclusions (any excluded member protects the whole family),
recent activity, the grace period for new customers without transactions, and money: a stale
family that still has an open balance or unapplied credit gets a "collections" finding instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from qbsync.rules.activity import ZERO, CustomerActivity
from qbsync.rules.findings import Finding
from qbsync.rules.policy import InactivePolicy


def money(value: Decimal) -> str:
    return f"{value:.2f}"


def holds_money(act: CustomerActivity) -> bool:
    """An open balance or unapplied credit as of the rule's date.

    QBO's own Balance counts too when nothing in the cache is dated after ``as_of`` (then it
    describes the same moment), so a cache missing some invoices still cannot hide a balance.
    """
    if act.open_balance != ZERO or act.unapplied_credit > ZERO:
        return True
    return not act.later_activity and act.balance_now != ZERO


def _money_text(act: CustomerActivity) -> str:
    balance = act.open_balance
    if balance == ZERO and not act.later_activity:
        balance = act.balance_now
    text = f"balance {money(balance)}"
    if act.unapplied_credit != ZERO:
        text += f"; unapplied credit {money(act.unapplied_credit)}"
    return text


@dataclass(frozen=True)
class Family:
    """A top-level customer and all its jobs."""

    root: CustomerActivity
    jobs: tuple[CustomerActivity, ...] = ()

    @property
    def members(self) -> tuple[CustomerActivity, ...]:
        return (self.root, *self.jobs)

    def latest(self) -> CustomerActivity | None:
        """The member with the most recent activity (None if no member has any)."""
        with_activity = [m for m in self.members if m.last_activity is not None]
        if not with_activity:
            return None
        return max(with_activity, key=lambda m: (m.last_activity, m is self.root))


def families(activities: Mapping[str, CustomerActivity]) -> list[Family]:
    """Group customers into families by following ParentRef up to the top-level customer."""
    children: dict[str, list[CustomerActivity]] = defaultdict(list)
    roots: list[CustomerActivity] = []
    for act in activities.values():
        if act.parent_id is not None and act.parent_id in activities and act.parent_id != act.customer_id:
            children[act.parent_id].append(act)
        else:  # a job whose parent is not in the cache is judged on its own
            roots.append(act)
    out: list[Family] = []
    for root in sorted(roots, key=lambda a: a.customer_id):
        jobs: list[CustomerActivity] = []
        stack = list(children.get(root.customer_id, ()))
        seen = {root.customer_id}
        while stack:
            job = stack.pop()
            if job.customer_id in seen:  # a ParentRef cycle would be corrupt data; never loop on it
                continue
            seen.add(job.customer_id)
            jobs.append(job)
            stack.extend(children.get(job.customer_id, ()))
        out.append(Family(root, tuple(sorted(jobs, key=lambda a: a.customer_id))))
    return out


def family_of(customer_id: str, activities: Mapping[str, CustomerActivity]) -> Family | None:
    """The family ``customer_id`` belongs to (for re-checking one customer at write time)."""
    root = activities.get(customer_id)
    if root is None:
        return None
    seen = {root.customer_id}
    while root.parent_id is not None and root.parent_id in activities and root.parent_id not in seen:
        root = activities[root.parent_id]
        seen.add(root.customer_id)
    members = {root.customer_id: root}
    grew = True
    while grew:  # a few passes over the list: families are shallow (QBO allows 4 levels of jobs)
        grew = False
        for act in activities.values():
            if act.customer_id not in members and act.parent_id in members:
                members[act.customer_id] = act
                grew = True
    jobs = sorted((m for m in members.values() if m is not root), key=lambda a: a.customer_id)
    return Family(root, tuple(jobs))


def _finding(act: CustomerActivity, rule: str, action: Any, reason: str, facts: dict[str, Any],
             score: float | None) -> Finding:
    return Finding(realm_id=act.realm_id, customer_id=act.customer_id, display_name=act.name, rule=rule,
                   action=action, reason=reason, facts=facts, score=score, sync_token=act.sync_token,
                   active=act.active)


def _threshold(family: Family, policy: InactivePolicy) -> tuple[int, str]:
    return max(policy.threshold(m) for m in family.members)


def check_family(family: Family, policy: InactivePolicy, as_of: date) -> list[Finding]:
    """The inactive rule on one family: deactivate / collections findings, or none."""
    for member in family.members:
        if policy.excluded(member):
            return []
    threshold, source = _threshold(family, policy)
    latest = family.latest()
    root = family.root
    facts: dict[str, Any] = {"threshold_days": threshold, "threshold_source": source,
                             "as_of": as_of.isoformat(), "family_size": len(family.members)}
    if latest is not None:
        assert latest.last_activity is not None
        days = (as_of - latest.last_activity).days
        if days <= threshold:
            return []
        where = "" if latest is root else f" (job {latest.name})"
        what = f"last {latest.last_activity_kind} {latest.last_activity.isoformat()}{where}, {days} days ago"
        facts.update(last_activity=latest.last_activity.isoformat(),
                     last_activity_kind=latest.last_activity_kind, days_since=days)
    else:
        created = [m.created for m in family.members]
        if any(c is None for c in created):
            return []  # without a creation date "how long" is unknown: never guess towards deactivating
        newest = max(c for c in created if c is not None)
        days = (as_of - newest).days
        if days <= policy.grace_days or days <= threshold:
            return []
        what = f"no transactions; created {newest.isoformat()}, {days} days ago"
        facts.update(created=newest.isoformat(), days_since=days, grace_days=policy.grace_days)
    score = round(days / threshold, 3)
    money_holders = [m for m in family.members if holds_money(m)]
    if money_holders:
        out = []
        for m in money_holders:
            f = dict(facts, open_balance=money(m.open_balance), unapplied_credit=money(m.unapplied_credit),
                     balance_now=money(m.balance_now))
            reason = (f"{what}; threshold {threshold}; {_money_text(m)}; "
                      "settle the balance or credit before deactivating")
            out.append(_finding(m, "inactive", "collections", reason, f, score))
        return out
    out = []
    for m in family.members:
        if not m.active:
            continue
        f = dict(facts, open_balance=money(m.open_balance), unapplied_credit=money(m.unapplied_credit))
        reason = f"{what}; threshold {threshold}; {_money_text(m)}"
        if m is not root:
            reason = f"job of {root.name}, follows its parent: {reason}"
            f["parent_id"] = root.customer_id
        out.append(_finding(m, "inactive", "deactivate", reason, f, score))
    return out


def check_inactive(activity: CustomerActivity, policy: InactivePolicy, as_of: date,
                   jobs: Sequence[CustomerActivity] = ()) -> Finding | None:
    """Re-evaluate one customer (write-back calls this at write time): its finding, or None.

    ``jobs`` are the customer's jobs (all depths) when it is a parent; for a job, pass its family's
    root instead via ``recheck_inactive``.
    """
    for f in check_family(Family(activity, tuple(jobs)), policy, as_of):
        if f.customer_id == activity.customer_id:
            return f
    return None


def recheck_inactive(customer_id: str, activities: Mapping[str, CustomerActivity], policy: InactivePolicy,
                     as_of: date) -> Finding | None:
    """The inactive finding for ``customer_id`` judged with its whole family, or None."""
    family = family_of(customer_id, activities)
    if family is None:
        return None
    for f in check_family(family, policy, as_of):
        if f.customer_id == customer_id:
            return f
    return None


def find_inactive(activities: Mapping[str, CustomerActivity], policy: InactivePolicy,
                  as_of: date) -> list[Finding]:
    """Every inactive / collections finding, most overdue first."""
    out: list[Finding] = []
    for fam in families(activities):
        out.extend(check_family(fam, policy, as_of))
    return sorted(out, key=lambda f: (-(f.score or 0.0), f.display_name.casefold(), f.customer_id))


def check_reactivate(activity: CustomerActivity, policy: InactivePolicy, as_of: date) -> Finding | None:
    """A customer inactive in QuickBooks whose own activity is recent: it should be active again."""
    if activity.active or activity.last_activity is None or policy.excluded(activity):
        return None
    days = (as_of - activity.last_activity).days
    window = policy.reactivate_days or policy.threshold(activity)[0]
    if days > window:
        return None
    reason = (f"inactive in QuickBooks but last {activity.last_activity_kind} "
              f"{activity.last_activity.isoformat()}, {days} days ago; window {window}; "
              f"{_money_text(activity)}")
    facts = {"last_activity": activity.last_activity.isoformat(), "last_activity_kind":
             activity.last_activity_kind, "days_since": days, "window_days": window,
             "as_of": as_of.isoformat(), "open_balance": money(activity.open_balance)}
    score = round(1.0 - days / (window + 1), 3)
    return _finding(activity, "reactivate", "reactivate", reason, facts, score)


def find_reactivate(activities: Mapping[str, CustomerActivity], policy: InactivePolicy,
                    as_of: date) -> list[Finding]:
    """Inactive customers with recent activity, plus their inactive parents (a job needs its parent)."""
    found: dict[str, Finding] = {}
    for act in activities.values():
        f = check_reactivate(act, policy, as_of)
        if f is not None:
            found[act.customer_id] = f
    for f in list(found.values()):
        for parent in _inactive_ancestors(activities[f.customer_id], activities):
            if parent.customer_id in found or policy.excluded(parent):
                continue
            reason = f"inactive parent of {f.display_name}, which should be reactivated ({f.reason})"
            facts = {"child_id": f.customer_id, "as_of": f.facts["as_of"]}
            found[parent.customer_id] = _finding(parent, "reactivate", "reactivate", reason, facts, f.score)
    return sorted(found.values(), key=lambda f: (-(f.score or 0.0), f.display_name.casefold(), f.customer_id))


def _inactive_ancestors(act: CustomerActivity,
                        activities: Mapping[str, CustomerActivity]) -> Iterable[CustomerActivity]:
    seen = {act.customer_id}
    while act.parent_id is not None and act.parent_id in activities and act.parent_id not in seen:
        act = activities[act.parent_id]
        seen.add(act.customer_id)
        if not act.active:
            yield act
