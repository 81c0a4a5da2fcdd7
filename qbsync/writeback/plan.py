"""Turning findings into a reviewable write-back plan saved in the cache (nothing is written to QuickBooks).

Each deactivate/reactivate finding becomes one plan item with the customer's state as the cache
shows it (Active, SyncToken, balance), the proposed Active value, the rule and its reason. Some
items are listed but never written: ``blocked`` (an open balance in the cache) and ``manual_merge``
(a duplicate with its own history: QuickBooks' API cannot merge, so the item carries the exact
steps to merge it by hand).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from qbsync.cache.audit_models import WritebackPlan, WritebackPlanItem
from qbsync.cache.mapping import plain_name
from qbsync.cache.models import Customer
from qbsync.cache.read import chunked
from qbsync.clock import Clock
from qbsync.errors import InputError
from qbsync.rules.activity import HISTORY_ENTITIES, activity_entities, last_activity
from qbsync.rules.findings import Finding
from qbsync.writeback.audit import new_id

log = logging.getLogger("qbsync.writeback")

WRITABLE_ACTIONS = frozenset({"deactivate", "reactivate"})


@dataclass
class PlanSummary:
    plan: WritebackPlan
    items: list[WritebackPlanItem]
    ignored: list[str]  # findings left out, with why

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for item in self.items:
            out[item.disposition] = out.get(item.disposition, 0) + 1
        return out


def _names_taken(session: Session, realm_id: str, customers: Iterable[Customer]) -> dict[str, Customer]:
    """Inactive customer Id -> the active customer now holding its name. Reactivating gives the
    customer its name back without " (deleted)", which QuickBooks refuses (6240) when another
    active customer has it: usually a duplicate typed in since, to be merged rather than revived."""
    wanted = {plain_name(c.display_name).casefold(): c for c in customers if not c.active}
    if not wanted:
        return {}
    holders = session.scalars(sa.select(Customer).where(
        Customer.realm_id == realm_id, Customer.active.is_(True),
        sa.func.lower(Customer.display_name).in_(sorted(wanted))))
    return {wanted[h.display_name.casefold()].id: h for h in holders if h.display_name.casefold() in wanted}


def _customers(session: Session, realm_id: str, ids: Sequence[str]) -> dict[str, Customer]:
    out: dict[str, Customer] = {}
    for part in chunked(ids):
        rows = session.scalars(sa.select(Customer).where(Customer.realm_id == realm_id,
                                                         Customer.id.in_(part)))
        out.update({c.id: c for c in rows})
    return out


def _name_of(session: Session, realm_id: str, customer_id: str | None) -> str | None:
    if not customer_id:
        return None
    row = session.get(Customer, (realm_id, customer_id))
    return row.display_name if row else None


def merge_steps(dup_name: str, dup_id: str, survivor_name: str | None, survivor_id: str | None,
                has_jobs: bool, inactive: bool = False) -> str:
    """The exact steps to merge a duplicate into its survivor in QuickBooks Online (the API cannot),
    after Intuit's "Merge duplicate customers in QuickBooks Online" article."""
    target = (f"'{survivor_name}' (Id {survivor_id})" if survivor_name
              else "the customer it duplicates (no survivor proposed: pick the one with the most history)")
    exact = f"exactly '{survivor_name}'" if survivor_name else "exactly the survivor's Display name"
    steps = []
    if has_jobs:
        steps.append("It has sub-customers: first make them regular customers or move them under the "
                     "survivor (Edit > 'Is a sub-customer'), because QuickBooks does not merge a customer "
                     "that has sub-customers.")
    if inactive:
        steps.append(f"'{dup_name}' is inactive and hidden from the Customers list: show inactive customers "
                     "(the list's filter or settings), open it and select Make active.")
    steps += [
        f"In QuickBooks Online go to Customers and open '{dup_name}' (Id {dup_id}): the one you don't keep.",
        f"Select the arrow next to Edit > Merge contacts and choose {target} under Into (or, on screens "
        f"without Merge contacts: Edit, set the Display name to {exact}, Save, and answer Yes).",
        "The merge cannot be undone: every transaction moves to the survivor and the duplicate becomes "
        "inactive. Run `qbsync sync` afterwards.",
    ]
    return "\n".join(f"{n}. {step}" for n, step in enumerate(steps, 1))


def build_plan(session: Session, clock: Clock, realm_id: str, rule: str, as_of: date,
               findings: Sequence[Finding], *, include_estimates: bool = False,
               params: dict[str, Any] | None = None) -> PlanSummary:
    """Save a plan for the deactivate/reactivate/merge findings of ``rule`` and return it."""
    wanted = [f for f in findings if f.realm_id == realm_id and
              (f.action in WRITABLE_ACTIONS or (f.action == "merge" and rule == "duplicates"))]
    ignored: list[str] = []
    ids = list(dict.fromkeys(f.customer_id for f in wanted))
    cached = _customers(session, realm_id, ids)
    # The rule's own definition of activity: the date the plan shows is the one the rule judged by.
    last_seen = last_activity(session, realm_id, ids, as_of, activity_entities(include_estimates))
    ever = last_activity(session, realm_id, ids, None, HISTORY_ENTITIES) if rule == "duplicates" else {}
    parents = set(session.scalars(sa.select(Customer.parent_id).where(
        Customer.realm_id == realm_id, Customer.parent_id.is_not(None))).all()) if ids else set()
    plan = WritebackPlan(id=new_id("P"), realm_id=realm_id, rule=rule, as_of=as_of, created_at=clock.now(),
                         params={**(params or {}), "include_estimates": include_estimates})
    taken = _names_taken(session, realm_id, [cached[f.customer_id] for f in wanted
                                             if f.action == "reactivate" and f.customer_id in cached])
    items: list[WritebackPlanItem] = []
    seen: set[str] = set()
    for f in wanted:
        cust = cached.get(f.customer_id)
        if f.customer_id in seen:
            continue
        seen.add(f.customer_id)
        if cust is None:
            ignored.append(f"{f.display_name} (Id {f.customer_id}): not in the cache; run `qbsync sync`")
            continue
        balance = Decimal(cust.balance or 0)
        with_jobs = Decimal(cust.balance_with_jobs or 0)
        disposition, steps = "change", None
        reason = f.reason
        if f.action == "merge" or (rule == "duplicates" and f.customer_id in ever):
            disposition = "manual_merge"
            survivor_id = f.facts.get("survivor_id")
            survivor_id = str(survivor_id) if survivor_id is not None else None
            survivor_name = f.facts.get("survivor_name") or _name_of(session, realm_id, survivor_id)
            steps = merge_steps(cust.display_name, cust.id, survivor_name, survivor_id, cust.id in parents,
                                inactive=not cust.active)
            if f.action == "deactivate":
                reason += "; has transactions, so it is merged by hand rather than deactivated"
        new_active = f.action == "reactivate"
        if disposition == "change" and cust.active == new_active:
            state = "active" if new_active else "inactive"
            ignored.append(f"{cust.display_name} (Id {cust.id}): already {state}")
            continue
        if disposition == "change" and not new_active and (balance != 0 or with_jobs != 0):
            disposition = "blocked"
            reason += f"; blocked: open balance {balance:.2f} (with jobs {with_jobs:.2f}) in the cache"
        holder = taken.get(cust.id) if new_active else None
        if disposition == "change" and holder is not None:
            disposition = "blocked"
            reason += (f"; blocked: its name now belongs to active customer '{holder.display_name}' "
                       f"(Id {holder.id}), so QuickBooks would refuse it: merge the two instead "
                       "(see `qbsync rules duplicates`)")
        items.append(WritebackPlanItem(
            plan_id=plan.id, seq=0, customer_id=cust.id, display_name=cust.display_name,
            disposition=disposition, current_active=cust.active,
            new_active=new_active if disposition != "manual_merge" else cust.active,
            sync_token=cust.sync_token, balance=balance, level=cust.level or 0,
            last_activity=last_seen.get(cust.id), rule=f.rule, action=f.action, reason=reason,
            facts=dict(f.facts), steps=steps))
    # Deactivations deepest first (jobs before parents); reactivations parents first.
    items.sort(key=lambda i: (i.new_active, i.level if i.new_active else -i.level,
                              i.display_name.casefold(), i.customer_id))
    for seq, item in enumerate(items, 1):
        item.seq = seq
    session.add(plan)
    session.flush()
    session.add_all(items)
    session.commit()
    log.info("plan %s: %d items from %d %s findings (%s)", plan.id, len(items), len(findings), rule,
             ", ".join(f"{k} {v}" for k, v in PlanSummary(plan, items, ignored).counts().items()) or "empty")
    return PlanSummary(plan, items, ignored)


def counted_entities(plan: WritebackPlan | None) -> tuple[str, ...]:
    """The transactions whose appearance stops a deactivation of ``plan`` at write time: those the
    rule counted as activity, or, for duplicates, any transaction at all (as the plan judged)."""
    if plan is not None and plan.rule == "duplicates":
        return HISTORY_ENTITIES
    return activity_entities(bool(plan and plan.params.get("include_estimates")))


def load_plan(session: Session, plan_id: str) -> PlanSummary:
    plan = session.get(WritebackPlan, plan_id)
    if plan is None:
        raise InputError(f"no write-back plan '{plan_id}' in this cache",
                         hint="list plans with `qbsync writeback log --plans`, or make one with "
                              "`qbsync writeback plan --rule inactive`")
    items = list(session.scalars(sa.select(WritebackPlanItem).where(WritebackPlanItem.plan_id == plan_id)
                                 .order_by(WritebackPlanItem.seq)))
    return PlanSummary(plan, items, [])


def plans(session: Session, realm_id: str | None = None) -> list[WritebackPlan]:
    stmt = sa.select(WritebackPlan).order_by(WritebackPlan.created_at)
    if realm_id:
        stmt = stmt.where(WritebackPlan.realm_id == realm_id)
    return list(session.scalars(stmt))
