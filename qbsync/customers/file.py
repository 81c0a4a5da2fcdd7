"""Notes, reasons for loss and the language of each customer: the parts of the file a person writes.

A customer is named by its QuickBooks Id or its exact display name (``resolve``). Notes are
append-only. A loss is recorded with one of ``LOSS_REASONS`` and the date the customer was lost;
recording another replaces it (the earlier one is kept, cleared), and ``clear_loss`` says the
customer came back. Nothing here is ever written to QuickBooks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from qbsync.cache.customer_models import CustomerLoss, CustomerNote, CustomerProfile
from qbsync.cache.mapping import DELETED_SUFFIX, plain_name
from qbsync.cache.models import Customer
from qbsync.clock import Clock
from qbsync.errors import InputError

#: Why a customer was lost; the report of losses groups by these.
LOSS_REASONS: tuple[str, ...] = ("price", "service", "moved", "competitor", "closed", "other")

_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$")


@dataclass(frozen=True)
class CustomerRef:
    customer_id: str
    name: str


def resolve(conn: sa.Connection, realm_id: str, ref: str) -> CustomerRef:
    """The customer whose Id or exact display name is ``ref`` (a deleted one included)."""
    found = conn.execute(sa.select(Customer.id, Customer.display_name).where(
        Customer.realm_id == realm_id,
        sa.or_(Customer.id == ref, Customer.display_name == ref,
               Customer.display_name == f"{ref}{DELETED_SUFFIX}"),
    )).all()
    exact_id = [row for row in found if row[0] == ref]
    if exact_id:
        found = exact_id
    if not found:
        raise InputError(f"no customer with Id or name {ref!r} in the cache",
                         hint="check the Id with `qbsync report best` or run `qbsync sync` first")
    if len(found) > 1:
        raise InputError(f"{ref!r} matches {len(found)} customers", hint="pass the customer's Id instead")
    cid, name = found[0]
    return CustomerRef(cid, plain_name(name))


# --- notes --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Note:
    id: int
    at: datetime
    author: str | None
    text: str


def add_note(engine: sa.Engine, realm_id: str, customer_id: str, text: str, clock: Clock,
             author: str | None = None) -> Note:
    text = text.strip()
    if not text:
        raise InputError("the note is empty",
                         hint='give the text: qbsync customer note ID "called, will pay Friday"')
    at = clock.now()
    with engine.begin() as conn:
        note_id = conn.execute(sa.insert(CustomerNote).values(
            realm_id=realm_id, customer_id=customer_id, at=at, author=author, text=text)
            .returning(CustomerNote.id)).scalar_one()
    return Note(note_id, at, author, text)


def notes(conn: sa.Connection, realm_id: str, customer_id: str) -> list[Note]:
    """Newest first."""
    rows = conn.execute(sa.select(CustomerNote.id, CustomerNote.at, CustomerNote.author, CustomerNote.text)
                        .where(CustomerNote.realm_id == realm_id, CustomerNote.customer_id == customer_id)
                        .order_by(CustomerNote.at.desc(), CustomerNote.id.desc()))
    return [Note(*row) for row in rows]


# --- losses -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Loss:
    customer_id: str
    reason: str
    lost_on: date
    recorded_at: datetime
    author: str | None
    note: str | None


def check_reason(reason: str) -> str:
    reason = reason.strip().lower()
    if reason not in LOSS_REASONS:
        raise InputError(f"unknown reason for loss {reason!r}", hint=f"use one of: {', '.join(LOSS_REASONS)}")
    return reason


def mark_lost(engine: sa.Engine, realm_id: str, customer_id: str, reason: str, lost_on: date, clock: Clock,
              *, author: str | None = None, note: str | None = None) -> Loss:
    """Record why the customer was lost (an earlier record is kept, cleared)."""
    reason = check_reason(reason)
    now = clock.now()
    with engine.begin() as conn:
        conn.execute(sa.update(CustomerLoss)
                     .where(CustomerLoss.realm_id == realm_id, CustomerLoss.customer_id == customer_id,
                            CustomerLoss.cleared_at.is_(None))
                     .values(cleared_at=now))
        conn.execute(sa.insert(CustomerLoss).values(
            realm_id=realm_id, customer_id=customer_id, reason=reason, lost_on=lost_on, recorded_at=now,
            author=author, note=(note or "").strip() or None))
    return Loss(customer_id, reason, lost_on, now, author, (note or "").strip() or None)


def clear_loss(engine: sa.Engine, realm_id: str, customer_id: str, clock: Clock) -> bool:
    """The customer came back: False when it was not recorded as lost."""
    with engine.begin() as conn:
        done = conn.execute(sa.update(CustomerLoss)
                            .where(CustomerLoss.realm_id == realm_id, CustomerLoss.customer_id == customer_id,
                                   CustomerLoss.cleared_at.is_(None))
                            .values(cleared_at=clock.now()))
    return bool(done.rowcount)


def losses(conn: sa.Connection, realm_id: str, customer_id: str | None = None) -> list[Loss]:
    """Current (not cleared) losses, by date lost."""
    q = (sa.select(CustomerLoss.customer_id, CustomerLoss.reason, CustomerLoss.lost_on,
                   CustomerLoss.recorded_at, CustomerLoss.author, CustomerLoss.note)
         .where(CustomerLoss.realm_id == realm_id, CustomerLoss.cleared_at.is_(None))
         .order_by(CustomerLoss.lost_on, CustomerLoss.customer_id))
    if customer_id is not None:
        q = q.where(CustomerLoss.customer_id == customer_id)
    return [Loss(*row) for row in conn.execute(q)]


# --- language -----------------------------------------------------------------------------------------


def normalise_language(tag: str) -> str:
    """``pt-BR`` -> ``pt_BR`` (CLDR's spelling, which Babel reads); an error for what is no language tag."""
    tag = tag.strip()
    if not _LANGUAGE.match(tag):
        raise InputError(f"{tag!r} is not a language tag", hint="use e.g. en, pt, pt_BR, fr, es, zh")
    first, *rest = re.split(r"[_-]", tag)
    return "_".join([first.lower(), *(p.title() if len(p) == 4 else p.upper() for p in rest)])


def set_language(engine: sa.Engine, realm_id: str, customer_id: str, language: str | None,
                 clock: Clock) -> None:
    """The language letters and statements to this customer are written in (None: the company's)."""
    value = normalise_language(language) if language else None
    now = clock.now()
    with engine.begin() as conn:
        done = conn.execute(sa.update(CustomerProfile)
                            .where(CustomerProfile.realm_id == realm_id,
                                   CustomerProfile.customer_id == customer_id)
                            .values(language=value, updated_at=now))
        if not done.rowcount:
            conn.execute(sa.insert(CustomerProfile).values(realm_id=realm_id, customer_id=customer_id,
                                                           language=value, updated_at=now))


def languages(conn: sa.Connection, realm_id: str) -> dict[str, str]:
    """customer id -> language, for the customers that have one."""
    return {cid: str(lang) for cid, lang in conn.execute(
        sa.select(CustomerProfile.customer_id, CustomerProfile.language)
        .where(CustomerProfile.realm_id == realm_id, CustomerProfile.language.is_not(None)))}
