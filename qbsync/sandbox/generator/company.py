"""Orchestration: plan the customers, then stream households (customer, jobs, transactions) out."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .catalog import TERMS, Catalog, bookkeeping_lists, build_catalog, company_info, preferences
from .duplicates import NEEDS, mutate
from .edits import Edits
from .people import Identity, Pools, build_pools, make_identity, person_display
from .render import CURRENCY, day_iso, meta, money, ref, stamp
from .rhythms import Lifecycle, purchase_days, rhythm_params
from .seeding import sub_rng, weighted
from .spec import CompanySpec
from .transactions import Household, Member, Txn, build, render
from .truth import TruthBuilder, cents_text, payment_class, write_truth

if TYPE_CHECKING:
    from qbsync.sandbox.store import Store

LOAD_ORDER = ("Customer", "Estimate", "Invoice", "CreditMemo", "SalesReceipt", "Payment", "RefundReceipt",
              "JournalEntry")
_PROJECTS = (
    "Kitchen Remodel",
    "Office Fit-out",
    "Spring Cleanup",
    "Warehouse Lighting",
    "Roof Repair",
    "Annual Maintenance",
    "Garden Design",
    "Pool Installation",
    "Retail Store",
    "Head Office",
    "Branch Opening",
    "Parking Lot",
    "Irrigation",
    "Showroom",
    "Event Season",
)
_SPEND = {"weekly": 0.3, "monthly": 0.9, "seasonal": 1.4, "irregular": 1.0, "one_off": 1.5}


@dataclass(slots=True)
class Plan:
    """Cheap per-customer decisions made up front, so records can be emitted in creation order."""

    index: int
    country: str
    business: bool
    category: str  # buyer | brand_new | never_bought | duplicate
    created: int
    rhythm: str = "none"
    first: int = 0
    churned: int | None = None
    came_back: int | None = None
    dup_of: int = -1
    dup_kind: str = ""
    need_email: bool = False
    need_phone: bool = False
    dups_pending: int = 0


def plan_customers(spec: CompanySpec) -> list[Plan]:
    rng = sub_rng(spec.seed, "plan")
    start, end = spec.start_date.toordinal(), spec.end_date.toordinal()
    n_dup = round(spec.customers * spec.duplicate_share) if spec.customers >= 20 else 0
    n_real = spec.customers - n_dup
    plans: list[Plan] = []
    for i in range(n_real):
        country = weighted(rng, spec.country_mix)
        business = rng.random() < spec.business_share
        r = rng.random()
        if r < spec.brand_new_share:
            plans.append(Plan(i, country, business, "brand_new", end - int(rng.random() * 30)))
            continue
        if r < spec.brand_new_share + spec.never_bought_share:
            plans.append(
                Plan(i, country, business, "never_bought", start + int(rng.random() * (end - start - 120)))
            )
            continue
        rhythm = weighted(rng, spec.rhythm_mix)
        last_first = end if rhythm == "one_off" else end - 30
        first = start + int(rng.random() * (last_first - start + 1))
        p = Plan(
            i, country, business, "buyer", max(start - 30, first - int(rng.random() * 11)), rhythm, first
        )
        if rhythm != "one_off" and end - first > 150 and rng.random() < spec.churn_share:
            p.churned = first + 60 + int(rng.random() * (end - 14 - first - 60))
            if p.churned + 120 < end - 7 and rng.random() < spec.come_back_share:
                p.came_back = p.churned + 120 + int(rng.random() * (end - 7 - p.churned - 120))
        plans.append(p)
    for j in range(n_dup):
        kind = weighted(rng, spec.duplicate_kinds)
        orig: Plan | None = None
        for _ in range(200):
            cand = plans[int(rng.random() * n_real)]
            need = NEEDS.get(kind)
            if cand.category == "brand_new" or cand.dups_pending >= 2 or cand.created > end - 60:
                continue
            if need and (need == "business") != cand.business:
                continue
            orig = cand
            break
        if orig is None:
            continue
        orig.dups_pending += 1
        orig.need_email |= kind == "same_email"
        orig.need_phone |= kind == "phone_format"
        latest = end - 45 if kind == "own_transactions" else end
        created = orig.created + 20 + int(rng.random() * max(1, latest - orig.created - 20))
        dup = Plan(
            n_real + j,
            orig.country,
            orig.business,
            "duplicate",
            min(created, end),
            dup_of=orig.index,
            dup_kind=kind,
        )
        if kind == "own_transactions":
            dup.rhythm, dup.first = "irregular", min(end, dup.created + int(rng.random() * 10))
        plans.append(dup)
    plans.sort(key=lambda p: (p.created, p.index))
    return plans


class _Names:
    """DisplayName uniqueness (case-insensitive, as a cautious reading of QBO's rule) and email reuse."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.emails: set[str] = set()

    def claim(self, ident: Identity, rng: random.Random) -> None:
        base = ident.display
        tries = 0
        while ident.display.casefold() in self.names:
            tries += 1
            city = (ident.address or {}).get("City", "")
            if ident.kind == "person" and tries == 1 and ident.display == person_display(ident):
                ident.middle = "ABCDEFGHJKLMNPRSTVW"[int(rng.random() * 19)] + "."
                ident.display = person_display(ident)
            elif tries <= 2 and city and city not in base:
                ident.display = f"{base} ({city})"
            else:
                ident.display = f"{base} {tries}"
        self.names.add(ident.display.casefold())

    def claim_name(self, name: str) -> str:
        out, n = name, 1
        while out.casefold() in self.names:
            n += 1
            out = f"{name} {n}"
        self.names.add(out.casefold())
        return out

    def claim_email(self, email: str | None, shared: bool = False) -> str | None:
        if email is None or shared:
            return email
        out, n = email, 1
        while out in self.emails:
            n += 1
            local, _, domain = email.partition("@")
            out = f"{local}{n}@{domain}"
        self.emails.add(out)
        return out


@dataclass
class GeneratedCompany:
    """A company being generated: setup objects now, then ``batches()`` streams the rest.

    ``truth`` is complete once ``batches()`` has been exhausted."""

    spec: CompanySpec
    realm_id: str | None = None
    company_info: dict[str, Any] = field(init=False)
    preferences: dict[str, Any] = field(init=False)
    truth: dict[str, Any] | None = field(init=False, default=None)
    # Transactions created and deleted in the history: (entity, Id, day ordinal, second), for CDC stubs.
    deleted: list[tuple[str, str, int, int]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.company_info = company_info(self.spec)
        self.preferences = preferences(self.spec)
        self.catalog, self.lists = build_catalog(self.spec)
        if self.spec.edits:
            self.lists.update(bookkeeping_lists(self.spec))

    def batches(self) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        yield from _Emitter(self).run()


def generate_company(spec: CompanySpec, realm_id: str | None = None) -> GeneratedCompany:
    return GeneratedCompany(spec, realm_id)


Progress = Callable[[dict[str, int], int, int], None]


def seed_realm(
    store: Store,
    realm_id: str,
    spec: CompanySpec,
    *,
    truth_path: Path | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Create ``realm_id`` in ``store``, stream the whole company into it and return its ground truth."""
    company = generate_company(spec, realm_id)
    store.create_realm(
        realm_id, company_info=company.company_info, preferences=company.preferences, tz_offset=spec.tz_offset
    )
    counts: dict[str, int] = {}
    done = 0
    for entity, objects in company.batches():
        counts[entity] = counts.get(entity, 0) + store.bulk_load(realm_id, entity, objects)
        if entity == "Customer":
            done += sum(1 for o in objects if not o.get("Job"))
            if progress is not None:
                progress(counts, done, spec.customers)
    add_tombstone = getattr(store, "add_tombstone", None)
    if add_tombstone is not None:
        for entity, id_, day, sec in company.deleted:
            add_tombstone(realm_id, entity, id_, stamp(day, sec, spec.tz_offset))
    assert company.truth is not None
    if truth_path is not None:
        write_truth(company.truth, truth_path)
    return company.truth


class _Emitter:
    """Walks the plan in creation order and turns each household into QBO objects."""

    def __init__(self, company: GeneratedCompany) -> None:
        self.c = company
        self.spec = spec = company.spec
        self.catalog: Catalog = company.catalog
        self.end = spec.end_date.toordinal()
        self.off = spec.tz_offset
        pool_size = 300 if spec.customers <= 500 else (600 if spec.customers <= 20000 else 1200)
        self.pools: dict[str, Pools] = {c: build_pools(c, spec.seed, pool_size) for c in spec.country_mix}
        self.names = _Names()
        self.truth = TruthBuilder(spec.to_json(), spec.end_date, company.realm_id)
        self.originals: dict[int, tuple[Identity, str]] = {}
        self.dups_left: dict[int, int] = {}
        self.next_customer = 1
        self.next_txn = 1
        self.next_doc = 1001
        self.next_estimate_doc = 1001
        self.next_addr = 100

    def run(self) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        for entity in ("Item", "Department", "Class", "Account", "TaxCode"):
            if entity in self.c.lists:
                self.truth.count(entity, len(self.c.lists[entity]))
                yield entity, self.c.lists[entity]
        buffers: dict[str, list[dict[str, Any]]] = {e: [] for e in LOAD_ORDER}
        pending = 0
        for plan in plan_customers(self.spec):
            self._household(plan, buffers)
            pending += 1
            if pending >= self.spec.chunk_customers:
                yield from self._flush(buffers)
                pending = 0
        yield from self._flush(buffers)
        self.c.truth = self.truth.result()

    def _flush(self, buffers: dict[str, list[dict[str, Any]]]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        for entity in LOAD_ORDER:
            if buffers[entity]:
                self.truth.count(entity, len(buffers[entity]))
                yield entity, buffers[entity]
                buffers[entity] = []

    # ---- one household ----

    def _identity(self, plan: Plan) -> tuple[Identity, str]:
        pools = self.pools[plan.country]
        if plan.category == "duplicate":
            orig, _ = self.originals[plan.dup_of]
            ident, variant = mutate(sub_rng(self.spec.seed, "dup", plan.index), orig, plan.dup_kind, pools)
            return ident, variant
        irng = sub_rng(self.spec.seed, "identity", plan.index)
        return make_identity(
            irng, pools, business=plan.business, need_email=plan.need_email, need_phone=plan.need_phone
        ), ""

    def _household(self, plan: Plan, buffers: dict[str, list[dict[str, Any]]]) -> None:
        spec, end = self.spec, self.end
        hrng = sub_rng(spec.seed, "history", plan.index)
        ident, variant = self._identity(plan)
        self.names.claim(ident, hrng)
        shared_email = (
            plan.category == "duplicate"
            and ident.email is not None
            and ident.email == self.originals[plan.dup_of][0].email
        )
        ident.email = self.names.claim_email(ident.email, shared_email)

        members = [Member(plan.created)]
        txns: list[Txn] = []
        household: Household | None = None
        if plan.rhythm != "none":
            invoicing = hrng.random() < (
                spec.invoice_share_business if plan.business else spec.invoice_share_person
            )
            params = rhythm_params(hrng, plan.rhythm)
            life = Lifecycle(plan.first, plan.churned, plan.came_back, end)
            days = [d for d in purchase_days(hrng, plan.rhythm, life, params) if d <= end]
            if plan.category == "duplicate":
                days = days[: 1 + int(hrng.random() * 5)]
            n_items = len(self.catalog.items)
            household = Household(
                days=days,
                invoicing=invoicing,
                pay_profile=weighted(hrng, spec.payment_mix),
                term=(2 if hrng.random() < 0.7 else 3)
                if plan.business
                else (0 if hrng.random() < 0.6 else 1),
                business=plan.business,
                spend=hrng.lognormvariate(0, 0.6) * (2.0 if plan.business else 1.0) * _SPEND[plan.rhythm],
                items=hrng.sample(range(n_items), 2 + int(hrng.random() * 3)),
                dept=min(int(hrng.expovariate(0.8)), len(self.catalog.departments) - 1),
                cls=(1 + int(hrng.random() * 4)) if plan.business else 0,
                credit_memo=invoicing and hrng.random() < spec.credit_memo_share,
                unapplied_credit=hrng.random() < spec.unapplied_credit_share,
                estimates=invoicing and hrng.random() < spec.estimate_share,
            )
            if (
                plan.business
                and plan.category == "buyer"
                and plan.rhythm != "one_off"
                and len(days) >= 4
                and hrng.random() < spec.jobs_share
            ):
                self._plan_jobs(hrng, members, days)
            edits = (Edits.for_household(sub_rng(spec.seed, "edits", plan.index), spec)
                     if spec.edits and plan.category != "duplicate" else None)
            txns = build(hrng, household, members, self.catalog, end, len(self.catalog.departments), edits)

        # Ids in creation order: the customer, its jobs, then its transactions.
        for m in members:
            m.id = str(self.next_customer)
            self.next_customer += 1
        for t in txns:
            t.id = str(self.next_txn)
            self.next_txn += 1
            if t.kind == "Estimate":
                t.doc = str(self.next_estimate_doc)
                self.next_estimate_doc += 1
            elif t.kind not in ("Payment", "JournalEntry"):
                t.doc = str(self.next_doc)
                self.next_doc += 1
        if plan.dups_pending:
            self.originals[plan.index] = (ident, members[0].id)
            self.dups_left[plan.index] = plan.dups_pending
        orig_id: str | None = None
        if plan.category == "duplicate":
            orig_id = self.originals[plan.dup_of][1]
            self.truth.add_duplicate(orig_id, members[0].id)
            self.dups_left[plan.dup_of] -= 1
            if not self.dups_left[plan.dup_of]:  # the original is no longer needed in memory
                del self.originals[plan.dup_of], self.dups_left[plan.dup_of]

        facts = self._facts(members, txns)
        deactivated = self._status(plan, members, facts)
        names = self._member_names(ident, members, hrng)
        for i, m in enumerate(members):
            buffers["Customer"].append(
                self._customer(ident, m, i, members, names, facts[i], deactivated, hrng)
            )
        for t in txns:
            if t.deleted:
                self.c.deleted.append((t.kind, t.id, t.day, t.sec + 600))
                continue
            m = members[t.member]
            cref = ref(m.id, self._full_name(names, members, t.member, deactivated))
            addr = ident.address if t.member == 0 else None
            buffers[t.kind].append(render(t, cref, self.catalog, self.off, ident.email, addr))
        self._record_truth(plan, ident, variant, members, names, facts, deactivated, household, orig_id)

    def _plan_jobs(self, rng: random.Random, members: list[Member], days: list[int]) -> None:
        first, last = days[0], days[-1]
        for _ in range(1 + int(rng.random() * 3)):
            a = first + int(rng.random() * max(1, last - first))
            b = min(self.end, a + 30 + int(rng.random() * 300))
            created = max(members[0].created, a - int(rng.random() * 6))
            members.append(Member(created, (a, b), 0))
            if rng.random() < 0.3 and b - a > 40:  # a sub-job (Level 2) inside the job
                sa = a + int(rng.random() * (b - a - 20))
                members.append(Member(max(created, sa - 2), (sa, min(b, sa + 60)), len(members) - 1))

    def _facts(self, members: list[Member], txns: list[Txn]) -> list[dict[str, Any]]:
        facts: list[dict[str, Any]] = [
            {
                "first": None,
                "last": None,
                "activity": None,
                "estimate": None,
                "count": 0,
                "revenue": 0,
                "balance": 0,
                "credit": 0,
                "open": 0,
                "invoices": [],
                "unapplied": 0,
                "journal": 0,
            }
            for _ in members
        ]
        for t in txns:
            f = facts[t.member]
            if t.deleted or t.voided:  # deleted or voided: no sale, no balance, no activity
                continue
            if t.kind == "Estimate":
                f["estimate"] = t.day
                continue
            if t.kind == "JournalEntry":  # the bookkeeper's entry, not the customer's activity
                f["balance"] += t.je
                f["journal"] += t.je
                continue
            f["count"] += 1
            f["activity"] = t.day if f["activity"] is None else max(f["activity"], t.day)
            if t.kind in ("Invoice", "SalesReceipt"):
                f["first"] = t.day if f["first"] is None else min(f["first"], t.day)
                f["last"] = t.day if f["last"] is None else max(f["last"], t.day)
                f["revenue"] += t.sales()
            if t.kind == "Invoice":
                assert t.due is not None
                f["balance"] += t.balance
                f["open"] += 1 if t.balance else 0
                f["invoices"].append((t.due, t.settled, t.balance))
            elif t.kind == "CreditMemo":
                f["revenue"] -= t.sales()
                f["balance"] -= t.balance
                f["credit"] += t.balance
            elif t.kind == "RefundReceipt":
                f["revenue"] -= t.sales()
            elif t.kind == "Payment":
                f["balance"] -= t.unapplied
                f["unapplied"] += t.unapplied
        for i in range(len(members) - 1, -1, -1):
            f = facts[i]
            f["with_jobs"] = f["balance"] + sum(
                facts[j]["with_jobs"] for j, m in enumerate(members) if m.parent == i
            )
        return facts

    def _status(
        self, plan: Plan, members: list[Member], facts: list[dict[str, Any]]
    ) -> tuple[int, int] | None:
        """Deactivation (day, second) when the owner made this household inactive in QBO, else None."""
        if any(f["balance"] or f["credit"] or f["unapplied"] for f in facts) or plan.category == "brand_new":
            return None
        srng = sub_rng(self.spec.seed, "status", plan.index)
        acts = [f["activity"] for f in facts if f["activity"] is not None]
        last = max(acts) if acts else None
        ref_day = last if last is not None else plan.created
        r = srng.random()
        sec = 28800 + int(srng.random() * 36000)
        if ref_day <= self.end - 400 and r < self.spec.deactivate_share:
            return (min(self.end, ref_day + 365 + int(srng.random() * 60)), sec)
        if last is not None and last >= self.end - 90 and last < self.end and r < self.spec.reactivate_share:
            return (last + 1 + int(srng.random() * (self.end - last)), sec)
        return None

    def _member_names(self, ident: Identity, members: list[Member], rng: random.Random) -> list[str]:
        names = [ident.display]
        short = ident.company_base.split(" ")[0] if ident.company_base else ident.family
        for i, _m in enumerate(members[1:], start=1):
            project = _PROJECTS[int(rng.random() * len(_PROJECTS))]
            if members[i].parent != 0:
                project = "Phase 2"
            names.append(self.names.claim_name(f"{project} - {short}"))
        return names

    @staticmethod
    def _shown(name: str, deactivated: tuple[int, int] | None) -> str:
        return f"{name} (deleted)" if deactivated else name

    def _full_name(
        self, names: list[str], members: list[Member], i: int, deactivated: tuple[int, int] | None
    ) -> str:
        chain = []
        j: int | None = i
        while j is not None:
            chain.append(self._shown(names[j], deactivated))
            j = members[j].parent
        return ":".join(reversed(chain))

    def _customer(
        self,
        ident: Identity,
        m: Member,
        i: int,
        members: list[Member],
        names: list[str],
        f: dict[str, Any],
        deactivated: tuple[int, int] | None,
        rng: random.Random,
    ) -> dict[str, Any]:
        level = 0
        j = m.parent
        while j is not None:
            level += 1
            j = members[j].parent
        created = (m.created, 28800 + int(rng.random() * 36000))
        obj: dict[str, Any] = {"Taxable": False}
        if i == 0 and ident.address:
            bill = {"Id": str(self.next_addr), **ident.address}
            self.next_addr += 1
            obj["BillAddr"] = bill
            if rng.random() < 0.6:
                obj["ShipAddr"] = dict(bill)
        obj.update({"Job": i > 0, "BillWithParent": i > 0 and rng.random() < 0.6})
        if m.parent is not None:
            obj["ParentRef"] = ref(members[m.parent].id)
            obj["Level"] = level
        obj.update(
            {
                "Balance": money(f["balance"]),
                "BalanceWithJobs": money(f["with_jobs"]),
                "CurrencyRef": CURRENCY,
                "PreferredDeliveryMethod": "Email" if ident.email and i == 0 else "Print",
                "domain": "QBO",
                "sparse": False,
                "Id": m.id,
                "SyncToken": "0",
                "MetaData": meta(created, deactivated or created, self.off),
            }
        )
        if i == 0:
            if ident.given and (ident.kind == "person" or rng.random() < 0.7):
                obj["GivenName"] = ident.given
                if ident.middle:
                    obj["MiddleName"] = ident.middle.rstrip(".")
                obj["FamilyName"] = ident.family
            if ident.kind == "business":
                obj["CompanyName"] = ident.company
        elif ident.kind == "business":
            obj["CompanyName"] = ident.company
        obj["FullyQualifiedName"] = self._full_name(names, members, i, deactivated)
        obj["DisplayName"] = self._shown(names[i], deactivated)
        obj["PrintOnCheckName"] = names[i]
        obj["Active"] = deactivated is None
        if i == 0 and ident.phone is not None:
            obj["PrimaryPhone"] = {"FreeFormNumber": ident.phone.render(ident.phone_style)}
        if i == 0 and ident.email:
            obj["PrimaryEmailAddr"] = {"Address": ident.email}
        if i == 0 and ident.kind == "business":
            tid, tname, _ = TERMS[2]
            obj["SalesTermRef"] = ref(tid, tname)
        return obj

    def _record_truth(
        self,
        plan: Plan,
        ident: Identity,
        variant: str,
        members: list[Member],
        names: list[str],
        facts: list[dict[str, Any]],
        deactivated: tuple[int, int] | None,
        household: Household | None,
        orig_id: str | None,
    ) -> None:
        end = self.end
        for i, (m, f) in enumerate(zip(members, facts, strict=True)):
            self.truth.open_invoice_cents += sum(b for _, _, b in f["invoices"])
            self.truth.unapplied_credit_cents += f["credit"]
            self.truth.unapplied_payment_cents += f["unapplied"]
            self.truth.journal_cents += f["journal"]
            top = i == 0
            rec: dict[str, Any] = {
                "name": names[i],
                "type": ident.kind if top else "job",
                "country": ident.country if top else None,
                "parent": members[m.parent].id if m.parent is not None else None,
                "created": day_iso(m.created),
                "rhythm": (plan.rhythm if plan.category != "duplicate" or plan.rhythm != "none" else "none")
                if top
                else "project",
                "churned_on": day_iso(plan.churned) if top and plan.churned else None,
                "came_back_on": day_iso(plan.came_back) if top and plan.came_back else None,
                "first_purchase": day_iso(f["first"]) if f["first"] else None,
                "last_purchase": day_iso(f["last"]) if f["last"] else None,
                "last_activity": day_iso(f["activity"]) if f["activity"] else None,
                "last_estimate": day_iso(f["estimate"]) if f["estimate"] else None,
                "transactions": f["count"],
                "revenue": cents_text(f["revenue"]),
                "balance": cents_text(f["balance"]),
                "balance_with_jobs": cents_text(f["with_jobs"]),
                "unapplied_credit": cents_text(f["credit"]) if f["credit"] else None,
                "unapplied_payments": cents_text(f["unapplied"]) if f["unapplied"] else None,
                "journal_ar": cents_text(f["journal"]) if f["journal"] else None,
                "open_invoices": f["open"] or None,
                "invoicing": bool(household and household.invoicing and f["invoices"]),
                "payment_profile": household.pay_profile
                if household and household.invoicing and top
                else None,
                "payment_class": payment_class(f["invoices"], end),
                "active_in_qbo": deactivated is None,
                "deactivated_on": day_iso(deactivated[0]) if deactivated else None,
                "brand_new": plan.category == "brand_new" and top,
                "never_bought": plan.category == "never_bought" and top,
                "duplicate_of": orig_id if top else None,
                "duplicate_kind": plan.dup_kind if top and plan.dup_kind else None,
                "duplicate_variant": variant if top and plan.dup_kind == "own_transactions" else None,
                "email": ident.email if top else None,
            }
            self.truth.add_customer(m.id, rec)
