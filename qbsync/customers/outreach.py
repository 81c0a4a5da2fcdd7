"""Every outreach qbsync produces, per customer: recorded as a batch, counted as contact once marked sent.

A command that writes something for customers (a campaign's lists, dunning letters, reminders,
statements) records one *batch* with an item per customer. The batch is *pending* until the user
says it went out (``--mark-sent`` on the command, or ``qbsync sent BATCH`` later, optionally
``--except`` the customers who were not reached); only then are its items *contacts*. Dunning
reads the contacts to move each customer to the next stage, a campaign's report to know who was
reached, ``customer show`` to list them. A pending batch can be cancelled (it was never sent).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from qbsync.cache.customer_models import OutreachBatch, OutreachItem
from qbsync.clock import Clock
from qbsync.errors import InputError

#: What a batch holds. A campaign export's lists are items of kind campaign (the marketing list),
#: call and collections in one batch; letters are reminder (not yet due) or dunning (overdue).
KINDS: tuple[str, ...] = ("campaign", "call", "collections", "reminder", "dunning", "statement")
CHANNELS: tuple[str, ...] = ("email", "phone", "mail")


@dataclass(frozen=True)
class ItemSpec:
    """One customer of a batch about to be recorded."""

    customer_id: str
    kind: str
    channel: str = "mail"
    stage: str | None = None
    refs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Batch:
    id: str
    realm_id: str
    kind: str
    created_at: datetime
    as_of: date
    sent_at: datetime | None
    cancelled_at: datetime | None
    campaign_id: int | None
    description: str
    params: dict[str, Any]
    customers: int
    excluded: int = 0

    @property
    def status(self) -> str:
        return "cancelled" if self.cancelled_at else "sent" if self.sent_at else "pending"


@dataclass(frozen=True)
class Contact:
    """An item of a sent batch: the customer was reached, on ``sent_at``."""

    batch_id: str
    customer_id: str
    sent_at: datetime
    kind: str
    stage: str | None
    channel: str
    refs: dict[str, Any]
    description: str
    campaign_id: int | None

    @property
    def sent_on(self) -> date:
        return self.sent_at.date()


def new_batch_id() -> str:
    return "B" + uuid.uuid4().hex[:10]


def record(engine: sa.Engine, realm_id: str, kind: str, items: Sequence[ItemSpec], clock: Clock, *,
           as_of: date, description: str, params: dict[str, Any] | None = None,
           campaign_id: int | None = None, sent: bool = False, sent_at: datetime | None = None) -> Batch:
    """Record a batch (pending, or sent when ``sent``: at ``sent_at``, default now); one item per
    customer (the first wins)."""
    if kind not in KINDS:
        raise ValueError(f"unknown outreach kind {kind!r}")
    unique: dict[str, ItemSpec] = {}
    for item in items:
        if item.kind not in KINDS or item.channel not in CHANNELS:
            raise ValueError(f"bad outreach item {item!r}")
        unique.setdefault(item.customer_id, item)
    now = clock.now()
    went = (sent_at or now) if sent else None
    batch_id = new_batch_id()
    with engine.begin() as conn:
        conn.execute(sa.insert(OutreachBatch).values(
            id=batch_id, realm_id=realm_id, kind=kind, created_at=now, as_of=as_of,
            sent_at=went, cancelled_at=None, campaign_id=campaign_id,
            description=description, params=params or {}))
        rows = [{"batch_id": batch_id, "customer_id": i.customer_id, "realm_id": realm_id, "kind": i.kind,
                 "stage": i.stage, "channel": i.channel, "refs": i.refs, "excluded": False}
                for i in unique.values()]
        for start in range(0, len(rows), 5000):
            conn.execute(sa.insert(OutreachItem), rows[start:start + 5000])
    return Batch(batch_id, realm_id, kind, now, as_of, went, None, campaign_id, description,
                 params or {}, len(unique))


def _counts(conn: sa.Connection, batch_ids: Iterable[str] | None,
            realm_id: str) -> dict[str, tuple[int, int]]:
    q = (sa.select(OutreachItem.batch_id, sa.func.count(),
                   sa.func.sum(sa.case((OutreachItem.excluded.is_(True), 1), else_=0)))
         .where(OutreachItem.realm_id == realm_id).group_by(OutreachItem.batch_id))
    if batch_ids is not None:
        q = q.where(OutreachItem.batch_id.in_(list(batch_ids)))
    return {bid: (int(n), int(x or 0)) for bid, n, x in conn.execute(q)}


def _batch(row: Any, counts: dict[str, tuple[int, int]]) -> Batch:
    n, excluded = counts.get(row.id, (0, 0))
    return Batch(row.id, row.realm_id, row.kind, row.created_at, row.as_of, row.sent_at, row.cancelled_at,
                 row.campaign_id, row.description, dict(row.params or {}), n, excluded)


def get(conn: sa.Connection, realm_id: str, batch_id: str) -> Batch:
    row = conn.execute(sa.select(OutreachBatch.__table__).where(OutreachBatch.realm_id == realm_id,
                                                                OutreachBatch.id == batch_id)).first()
    if row is None:
        raise InputError(f"no outreach batch {batch_id} in this company",
                         hint="`qbsync sent` lists the batches waiting to be marked sent")
    return _batch(row, _counts(conn, [batch_id], realm_id))


def batches(conn: sa.Connection, realm_id: str, *, status: str | None = None,
            customer_id: str | None = None) -> list[Batch]:
    """Batches of the company, newest first; ``status`` (pending / sent / cancelled) and
    ``customer_id`` (batches holding that customer) narrow them."""
    q = sa.select(OutreachBatch.__table__).where(OutreachBatch.realm_id == realm_id)
    if customer_id is not None:
        q = q.where(OutreachBatch.id.in_(sa.select(OutreachItem.batch_id).where(
            OutreachItem.realm_id == realm_id, OutreachItem.customer_id == customer_id)))
    if status == "pending":
        q = q.where(OutreachBatch.sent_at.is_(None), OutreachBatch.cancelled_at.is_(None))
    elif status == "sent":
        q = q.where(OutreachBatch.sent_at.is_not(None))
    elif status == "cancelled":
        q = q.where(OutreachBatch.cancelled_at.is_not(None))
    rows = conn.execute(q.order_by(OutreachBatch.created_at.desc(), OutreachBatch.id)).all()
    counts = _counts(conn, None, realm_id)
    return [_batch(r, counts) for r in rows]


def mark_sent(engine: sa.Engine, realm_id: str, batch_id: str, clock: Clock, *, on: datetime | None = None,
              except_ids: Sequence[str] = ()) -> tuple[Batch, bool]:
    """Mark a pending batch sent (at ``on``, default now), leaving out ``except_ids``.

    Returns the batch and whether this call changed it: marking a sent batch again changes nothing
    (the first date stands), so a cron job or a second click cannot move a dunning stage twice.
    """
    with engine.begin() as conn:
        batch = get(conn, realm_id, batch_id)
        if batch.cancelled_at is not None:
            raise InputError(f"batch {batch_id} was cancelled on {batch.cancelled_at:%Y-%m-%d}",
                             hint="run the command again to make a new batch")
        if batch.sent_at is not None:
            if except_ids:
                raise InputError(f"batch {batch_id} was already marked sent on {batch.sent_at:%Y-%m-%d}; "
                                 "--except cannot change it now", hint="leave out --except")
            return batch, False
        members = set(conn.execute(sa.select(OutreachItem.customer_id)
                                   .where(OutreachItem.batch_id == batch_id)).scalars())
        unknown = sorted(set(except_ids) - members)
        if unknown:
            raise InputError(f"customer {', '.join(unknown)} is not in batch {batch_id}",
                             hint=f"`qbsync sent {batch_id} --format json` shows who is in it")
        when = on or clock.now()
        if except_ids:
            conn.execute(sa.update(OutreachItem)
                         .where(OutreachItem.batch_id == batch_id,
                                OutreachItem.customer_id.in_(list(except_ids)))
                         .values(excluded=True))
        conn.execute(sa.update(OutreachBatch).where(OutreachBatch.id == batch_id).values(sent_at=when))
        return get(conn, realm_id, batch_id), True


def cancel(engine: sa.Engine, realm_id: str, batch_id: str, clock: Clock) -> Batch:
    """A pending batch that will never go out; a sent one cannot be cancelled."""
    with engine.begin() as conn:
        batch = get(conn, realm_id, batch_id)
        if batch.sent_at is not None:
            raise InputError(f"batch {batch_id} was marked sent on {batch.sent_at:%Y-%m-%d}: it cannot be "
                             "cancelled", hint="a sent letter stays part of the customer's history")
        if batch.cancelled_at is None:
            conn.execute(sa.update(OutreachBatch).where(OutreachBatch.id == batch_id)
                         .values(cancelled_at=clock.now()))
        return get(conn, realm_id, batch_id)


def items(conn: sa.Connection, realm_id: str, batch_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(OutreachItem.customer_id, OutreachItem.kind, OutreachItem.stage,
                                  OutreachItem.channel, OutreachItem.refs, OutreachItem.excluded)
                        .where(OutreachItem.realm_id == realm_id, OutreachItem.batch_id == batch_id)
                        .order_by(OutreachItem.customer_id)).mappings().all()
    return [dict(r) for r in rows]


def contacts(conn: sa.Connection, realm_id: str, *, customer_id: str | None = None,
             kinds: Sequence[str] | None = None, campaign_id: int | None = None,
             until: datetime | None = None) -> list[Contact]:
    """Contacts made (items of sent batches, not excluded), oldest first."""
    q = (sa.select(OutreachItem.batch_id, OutreachItem.customer_id, OutreachBatch.sent_at, OutreachItem.kind,
                   OutreachItem.stage, OutreachItem.channel, OutreachItem.refs, OutreachBatch.description,
                   OutreachBatch.campaign_id)
         .join(OutreachBatch, OutreachBatch.id == OutreachItem.batch_id)
         .where(OutreachItem.realm_id == realm_id, OutreachBatch.sent_at.is_not(None),
                OutreachItem.excluded.is_(False))
         .order_by(OutreachBatch.sent_at, OutreachItem.batch_id, OutreachItem.customer_id))
    if customer_id is not None:
        q = q.where(OutreachItem.customer_id == customer_id)
    if kinds is not None:
        q = q.where(OutreachItem.kind.in_(list(kinds)))
    if campaign_id is not None:
        q = q.where(OutreachBatch.campaign_id == campaign_id)
    if until is not None:
        q = q.where(OutreachBatch.sent_at <= until)
    return [Contact(bid, cid, sent, kind, stage, channel, dict(refs or {}), desc, camp)
            for bid, cid, sent, kind, stage, channel, refs, desc, camp in conn.execute(q)]


def by_customer(found: Iterable[Contact]) -> dict[str, list[Contact]]:
    out: dict[str, list[Contact]] = defaultdict(list)
    for c in found:
        out[c.customer_id].append(c)
    return dict(out)
