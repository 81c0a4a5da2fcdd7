"""Cache tables of campaigns: frozen segment members, control groups, exports (data found nowhere else)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from qbsync.cache.models import Base, JSONType
from qbsync.cache.types import Money, UTCDateTime


class Campaign(Base):
    """A segment's members frozen at ``as_of``, with the seed that drew the control group."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    realm_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    segment: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType)  # the segment definition, as evaluated
    as_of: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    control_share: Mapped[str] = mapped_column(String(16))  # a Decimal as text ("0.10")
    seed: Mapped[int] = mapped_column(BigInteger)
    members: Mapped[int] = mapped_column(Integer, default=0)
    controls: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("realm_id", "name", name="uq_campaigns_realm_name"),)


class CampaignMember(Base):
    """One customer of a campaign: contacted, or held back as control; facts as they were at ``as_of``."""

    __tablename__ = "campaign_members"

    campaign_id: Mapped[int] = mapped_column(Integer, ForeignKey("campaigns.id"), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    control: Mapped[bool] = mapped_column(Boolean)
    display_name: Mapped[str] = mapped_column(String(500))
    email: Mapped[str | None] = mapped_column(String(255))
    last_purchase: Mapped[date | None] = mapped_column(Date)
    lifetime_value: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    balance: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    reason: Mapped[str | None] = mapped_column(Text)
    facts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    __table_args__ = (Index("ix_campaign_members_control", "campaign_id", "control"),)


class CampaignExport(Base):
    """A file written for a campaign: which list, which format, how many rows, where."""

    __tablename__ = "campaign_exports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(Integer, ForeignKey("campaigns.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    list_kind: Mapped[str] = mapped_column(String(32))  # "marketing", "call", "collections"
    fmt: Mapped[str] = mapped_column(String(32))  # "generic", "mailchimp", "hubspot"
    path: Mapped[str] = mapped_column(Text)
    rows: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
