"""Campaigns: freeze a segment at a date with a seeded control group, then measure who came back.

``create`` records every member and whether it is held back (control). ``report`` counts, for
contacted and control members, who bought again after the campaign date (invoices not voided
and sales receipts dated after it, up to the report's ``as_of``), when and for how much, and the
lift: the difference in return rates with a 95 % Newcombe (Wilson hybrid score) interval and the
ratio with a Katz log interval. ``followup`` lists contacted members who have not come back.
"""

from __future__ import annotations

import math
import random
import secrets
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from qbsync.cache.campaign_models import Campaign, CampaignMember
from qbsync.cache.read import bulk
from qbsync.campaigns.rfm import RfmConfig
from qbsync.campaigns.segments import SegmentDef, evaluate
from qbsync.clock import Clock, end_of_day
from qbsync.customers import outreach
from qbsync.errors import InputError
from qbsync.reports import sales
from qbsync.reports.source import ZERO

Z95 = 1.959963984540054


def control_count(n: int, share: Decimal) -> int:
    return int((Decimal(n) * share).to_integral_value(rounding=ROUND_HALF_UP))


def draw_control(customer_ids: list[str], share: Decimal, seed: int) -> set[str]:
    """The held-back members: a seeded sample of ``share`` of the (sorted) ids, the same on every run."""
    ids = sorted(customer_ids)
    return set(random.Random(seed).sample(ids, control_count(len(ids), share)))


@bulk()
def create(engine: sa.Engine, realm_id: str, name: str, segment: SegmentDef, as_of: date, clock: Clock, *,
           control_share: Decimal = Decimal("0.10"), seed: int | None = None,
           rfm: RfmConfig | None = None) -> Campaign:
    if not Decimal(0) <= control_share < 1:
        raise InputError(f"control share {control_share} is outside 0..1", hint="use e.g. --control 0.1")
    members = evaluate(engine, realm_id, segment, as_of, rfm)
    if not members:
        raise InputError(f"segment {segment.name!r} has no members on {as_of}",
                         hint="loosen the segment's filters or check the --as-of date")
    seed = secrets.randbits(31) if seed is None else seed
    control = draw_control([m.customer_id for m in members], control_share, seed)
    camp = Campaign(realm_id=realm_id, name=name, segment=segment.name, definition=segment.as_dict(),
                    as_of=as_of, created_at=clock.now(), control_share=str(control_share), seed=seed,
                    members=len(members), controls=len(control))
    try:
        with engine.begin() as conn:
            camp.id = conn.execute(sa.insert(Campaign).values(
                {c.key: getattr(camp, c.key) for c in Campaign.__table__.columns if c.key != "id"})
                .returning(Campaign.id)).scalar_one()
            conn.execute(sa.insert(CampaignMember), [
                {"campaign_id": camp.id, "customer_id": m.customer_id, "control": m.customer_id in control,
                 "display_name": m.name, "email": None, "last_purchase": m.activity.last_purchase,
                 "lifetime_value": m.activity.lifetime_revenue, "balance": m.activity.open_balance,
                 "reason": m.reason, "facts": {k: v for k, v in m.facts.items() if v is not None}}
                for m in members])
    except IntegrityError:
        raise InputError(f"a campaign named {name!r} already exists", hint="choose another name") from None
    return camp


def get(engine: sa.Engine, realm_id: str, name: str) -> Campaign:
    with engine.connect() as conn:
        row = conn.execute(sa.select(Campaign.__table__).where(
            Campaign.realm_id == realm_id, Campaign.name == name)).mappings().first()
    if row is None:
        raise InputError(f"no campaign named {name!r}", hint="see `qbsync campaign list`")
    return Campaign(**dict(row))


def campaigns(engine: sa.Engine, realm_id: str) -> list[Campaign]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Campaign.__table__).where(Campaign.realm_id == realm_id)
                            .order_by(Campaign.created_at, Campaign.id)).mappings().all()
    return [Campaign(**dict(r)) for r in rows]


def members(engine: sa.Engine, campaign_id: int) -> list[CampaignMember]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(CampaignMember.__table__)
                            .where(CampaignMember.campaign_id == campaign_id)
                            .order_by(CampaignMember.customer_id)).mappings().all()
    return [CampaignMember(**dict(r)) for r in rows]


# --- measuring ---------------------------------------------------------------------------------------


@dataclass
class Return:
    first: date
    purchases: int
    amount: Decimal


def returns(engine: sa.Engine, realm_id: str, customer_ids: list[str], after: date,
            until: date) -> dict[str, Return]:
    """Purchases (invoices, sales receipts) dated in (after, until] per customer, and what they came to
    as sales (``reports.sales``: after discounts, before tax, less credit memos and refunds then)."""
    per: dict[str, list[date]] = defaultdict(list)
    amounts: dict[str, Decimal] = defaultdict(lambda: ZERO)
    wanted = set(customer_ids)
    with engine.connect() as conn:
        for _model, entity, q in sales.selects(realm_id, None, until):
            sub = q.subquery()
            for cid, day, amount in conn.execute(sa.select(sub.c.customer_id, sub.c.txn_date, sub.c.amount)
                                                 .where(sub.c.txn_date > after)):
                if cid in wanted:
                    amounts[cid] += amount or ZERO
                    if entity in ("Invoice", "SalesReceipt"):
                        per[cid].append(day)
    return {cid: Return(min(days), len(days), amounts[cid]) for cid, days in per.items()}


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def newcombe(k1: int, n1: int, k2: int, n2: int, z: float = Z95) -> tuple[float, float]:
    """95 % interval of p1 - p2 (Newcombe's method 10, from two Wilson intervals)."""
    p1, p2 = (k1 / n1 if n1 else 0.0), (k2 / n2 if n2 else 0.0)
    l1, u1 = wilson(k1, n1, z)
    l2, u2 = wilson(k2, n2, z)
    d = p1 - p2
    return (d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))


def ratio_interval(k1: int, n1: int, k2: int, n2: int, z: float = Z95) -> tuple[float, float] | None:
    """95 % interval of p1 / p2 (Katz log method); None when either count is zero."""
    if min(k1, k2, n1, n2) == 0:
        return None
    ratio = (k1 / n1) / (k2 / n2)
    se = math.sqrt(1 / k1 - 1 / n1 + 1 / k2 - 1 / n2)
    return (ratio * math.exp(-z * se), ratio * math.exp(z * se))


@dataclass
class GroupResult:
    group: str
    members: int
    returned: int
    revenue: Decimal
    median_days_to_return: float | None
    first_return: date | None

    @property
    def rate(self) -> float:
        return self.returned / self.members if self.members else 0.0

    @property
    def revenue_per_member(self) -> Decimal:
        return self.revenue / self.members if self.members else ZERO


@dataclass
class CampaignReport:
    campaign: Campaign
    as_of: date
    contacted: GroupResult
    control: GroupResult
    lift: float  # difference of return rates, contacted - control
    lift_interval: tuple[float, float]
    ratio: float | None
    ratio_interval: tuple[float, float] | None
    returns: dict[str, Return] = field(default_factory=dict)
    #: contacted members reached by a batch marked sent (customer id -> date sent), and of those
    #: the ones who bought on or after that date (responded)
    reached: dict[str, date] = field(default_factory=dict)
    responded: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        def g(r: GroupResult) -> dict[str, Any]:
            return {"members": r.members, "returned": r.returned, "rate": round(r.rate, 4),
                    "revenue": str(r.revenue.quantize(Decimal("0.01"))),
                    "revenue_per_member": str(r.revenue_per_member.quantize(Decimal("0.01"))),
                    "median_days_to_return": r.median_days_to_return,
                    "first_return": r.first_return.isoformat() if r.first_return else None}
        return {"campaign": self.campaign.name, "since": self.campaign.as_of.isoformat(),
                "as_of": self.as_of.isoformat(), "contacted": g(self.contacted), "control": g(self.control),
                "lift": round(self.lift, 4), "lift_ci95": [round(x, 4) for x in self.lift_interval],
                "ratio": None if self.ratio is None else round(self.ratio, 4),
                "ratio_ci95": (None if self.ratio_interval is None
                               else [round(x, 4) for x in self.ratio_interval]),
                "outreach": {"reached": len(self.reached), "responded": len(self.responded),
                             "response_rate": (round(len(self.responded) / len(self.reached), 4)
                                               if self.reached else None),
                             "reached_ids": sorted(self.reached), "responded_ids": sorted(self.responded)}}


def _group(name: str, ids: list[str], back: dict[str, Return], since: date) -> GroupResult:
    came = [back[c] for c in ids if c in back]
    days = [(r.first - since).days for r in came]
    return GroupResult(name, len(ids), len(came), sum((r.amount for r in came), ZERO),
                       float(statistics.median(days)) if days else None,
                       min((r.first for r in came), default=None))


def report(engine: sa.Engine, realm_id: str, name: str, as_of: date) -> CampaignReport:
    camp = get(engine, realm_id, name)
    if as_of < camp.as_of:
        raise InputError(f"--as-of {as_of} is before the campaign's date {camp.as_of}",
                         hint="report on a date after the campaign started")
    # who is in which group, not whole members: 100,000 members as ORM objects took 6 s of CPU
    with engine.connect() as conn:
        groups = conn.execute(sa.select(CampaignMember.customer_id, CampaignMember.control)
                              .where(CampaignMember.campaign_id == camp.id)
                              .order_by(CampaignMember.customer_id)).all()
    contacted_ids = [cid for cid, held_back in groups if not held_back]
    back = returns(engine, realm_id, [cid for cid, _ in groups], camp.as_of, as_of)
    contacted = _group("contacted", contacted_ids, back, camp.as_of)
    control = _group("control", [cid for cid, held_back in groups if held_back], back, camp.as_of)
    k1, n1, k2, n2 = contacted.returned, contacted.members, control.returned, control.members
    ratio = (contacted.rate / control.rate) if control.rate > 0 else None
    reached, responded = outreach_of(engine, realm_id, camp, contacted_ids, as_of)
    return CampaignReport(camp, as_of, contacted, control, contacted.rate - control.rate,
                          newcombe(k1, n1, k2, n2), ratio, ratio_interval(k1, n1, k2, n2), back, reached,
                          responded)


def outreach_of(engine: sa.Engine, realm_id: str, camp: Campaign, contacted: list[str],
                as_of: date) -> tuple[dict[str, date], set[str]]:
    """Who of ``contacted`` was reached by the campaign's sent batches (first date), and who bought on
    or after the day they were reached, up to ``as_of``."""
    wanted = set(contacted)
    reached: dict[str, date] = {}
    with engine.connect() as conn:
        for c in outreach.contacts(conn, realm_id, campaign_id=camp.id, until=end_of_day(as_of)):
            if c.customer_id in wanted:
                reached.setdefault(c.customer_id, c.sent_on)
    responded: set[str] = set()
    for day in sorted(set(reached.values())):
        ids = [cid for cid, d in reached.items() if d == day]
        responded |= set(returns(engine, realm_id, ids, day - timedelta(days=1), as_of))
    return reached, responded


def followup(engine: sa.Engine, realm_id: str, name: str, as_of: date) -> list[CampaignMember]:
    """Contacted members with no purchase since the campaign date: the next touch."""
    camp = get(engine, realm_id, name)
    mem = [m for m in members(engine, camp.id) if not m.control]
    back = returns(engine, realm_id, [m.customer_id for m in mem], camp.as_of, as_of)
    return [m for m in mem if m.customer_id not in back]
