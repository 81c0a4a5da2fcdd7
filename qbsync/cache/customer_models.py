"""Cache tables of the customer file: notes, reasons for loss, language, and every outreach sent.

None of this comes from QuickBooks, so a sync never writes or deletes it (a full re-sync included)
and ``qbsync backup`` keeps it with the rest of the cache. An outreach *batch* is what one command
produced (a campaign's lists, a run of dunning letters, a set of statements), one *item* per
customer in it; a batch counts as contact made only once the user marks it sent.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from qbsync.cache.models import Base, JSONType
from qbsync.cache.types import UTCDateTime


class CustomerNote(Base):
    """A note a user wrote about a customer (append-only; newest shown first)."""

    __tablename__ = "customer_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    realm_id: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    author: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_customer_notes_customer", "realm_id", "customer_id"),)


class CustomerLoss(Base):
    """Why a customer was lost, from when; ``cleared_at`` set when the customer came back."""

    __tablename__ = "customer_losses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    realm_id: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(32))  # customers.file.LOSS_REASONS
    lost_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    author: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_customer_losses_customer", "realm_id", "customer_id"),)


class CustomerProfile(Base):
    """What qbsync keeps about a customer that QuickBooks has no field for (the language to write in)."""

    __tablename__ = "customer_profiles"

    realm_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    language: Mapped[str | None] = mapped_column(String(16))  # a BCP 47 / CLDR tag: "pt", "zh_Hans", "fr_CA"
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutreachBatch(Base):
    """What one command produced for sending; contact is made when ``sent_at`` is set."""

    __tablename__ = "outreach_batches"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # "B" + 10 hex, shown to users
    realm_id: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # customers.outreach.KINDS
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    as_of: Mapped[date] = mapped_column(Date)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    campaign_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("campaigns.id"))
    description: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # command, files, options


class OutreachItem(Base):
    """One customer of a batch: which stage or list, by which channel, about which documents."""

    __tablename__ = "outreach_items"

    batch_id: Mapped[str] = mapped_column(String(32), ForeignKey("outreach_batches.id"), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    realm_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    stage: Mapped[str | None] = mapped_column(String(32))  # dunning: reminder / first / second / final
    channel: Mapped[str] = mapped_column(String(16))  # "email", "phone", "mail"
    refs: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # invoice ids, file, merged ids
    #: left out when the batch was marked sent (``qbsync sent B... --except ID``): not contacted
    excluded: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index("ix_outreach_items_customer", "realm_id", "customer_id"),)
