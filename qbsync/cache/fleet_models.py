"""Cache tables of the webhook receiver and the worker fleet: events received, and the fleet's tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from qbsync.cache.models import Base
from qbsync.cache.types import UTCDateTime


class WebhookEvent(Base):
    """One webhook event, recorded before the delivery is answered; the key makes redeliveries no-ops.

    No foreign key to ``realms``: an event may arrive for a connected company before its first sync
    created that row."""

    __tablename__ = "webhook_events"

    # Arrival order: a sync that began after an event was committed read its change, whatever the
    # event's timestamp says (``FleetRealm.events_through``).
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(255))
    realm_id: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(255))
    operation: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # QuickBooks' time of the change
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    format: Mapped[str] = mapped_column(String(16))

    __table_args__ = (
        Index("ux_webhook_events_event_id", "event_id", unique=True),
        Index("ix_webhook_events_realm_seq", "realm_id", "seq"),
        Index("ix_webhook_events_realm_received", "realm_id", "received_at"),
        Index("ix_webhook_events_realm_entity_occurred", "realm_id", "entity", "occurred_at"),
    )


class FleetRealm(Base):
    """What the queue's syncs did per company: the last one's outcome, and the events it covered."""

    __tablename__ = "fleet_realms"

    realm_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: every event with ``seq`` up to this was committed before the last successful sync began reading
    events_through: Mapped[int] = mapped_column(BigInteger, default=0)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_outcome: Mapped[str | None] = mapped_column(String(16))  # synced | skipped | busy | failed
    last_error: Mapped[str | None] = mapped_column(Text)


class FleetToken(Base):
    """A company's OAuth tokens for a worker fleet, encrypted (Fernet) with a key from the environment;
    a refresh holds the row lock (SELECT ... FOR UPDATE), so two machines never spend one refresh token."""

    __tablename__ = "fleet_tokens"

    realm_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ciphertext: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
