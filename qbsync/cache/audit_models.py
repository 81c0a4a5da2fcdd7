"""Cache tables of write-back: plans, runs and the audit log of every attempt (data found nowhere else).

A plan is what a user reviews; a run is one execution of ``apply`` or ``undo`` (dry runs leave no
run); the audit log is append-only: one row per decision, attempt and result, committed per batch,
so a crash leaves an exact record of what was sent and what QuickBooks answered.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from qbsync.cache.models import Base, JSONType
from qbsync.cache.types import Money, UTCDateTime


class WritebackPlan(Base):
    """A reviewable list of Active changes proposed by one rule at one ``as_of`` date."""

    __tablename__ = "writeback_plans"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # "P" + 10 hex, shown to users
    realm_id: Mapped[str] = mapped_column(String(32), index=True)
    rule: Mapped[str] = mapped_column(String(32))
    as_of: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class WritebackPlanItem(Base):
    """One customer of a plan: what the cache showed, what the rule proposes and why."""

    __tablename__ = "writeback_plan_items"

    plan_id: Mapped[str] = mapped_column(String(32), ForeignKey("writeback_plans.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(32))
    display_name: Mapped[str] = mapped_column(String(500))
    #: "change" (apply writes it), "manual_merge" (listed with steps), "blocked" (never written)
    disposition: Mapped[str] = mapped_column(String(16))
    current_active: Mapped[bool] = mapped_column(Boolean)
    new_active: Mapped[bool] = mapped_column(Boolean)
    sync_token: Mapped[str] = mapped_column(String(16))
    balance: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    level: Mapped[int] = mapped_column(Integer, default=0)  # 0 = top; jobs are written before parents
    #: latest sales-side TxnDate the cache held up to ``as_of``: a later one on re-check is new activity
    last_activity: Mapped[date | None] = mapped_column(Date)
    rule: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    facts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    steps: Mapped[str | None] = mapped_column(Text)  # manual-merge instructions

    __table_args__ = (Index("ix_writeback_plan_items_customer", "plan_id", "customer_id"),)


class WritebackRun(Base):
    """One non-dry execution of ``apply PLAN`` or ``undo RUN``."""

    __tablename__ = "writeback_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # "R" + 10 hex
    realm_id: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # "apply" | "undo"
    plan_id: Mapped[str | None] = mapped_column(String(32), ForeignKey("writeback_plans.id"))
    undo_of: Mapped[str | None] = mapped_column(String(32), ForeignKey("writeback_runs.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: "running" (or crashed), "done", "interrupted" (throttled / server errors: re-run to finish)
    status: Mapped[str] = mapped_column(String(16))
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class WritebackAudit(Base):
    """One append-only audit event: a check, a skip, an attempt sent, or QuickBooks' answer to it."""

    __tablename__ = "writeback_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(32), ForeignKey("writeback_runs.id"), index=True)
    realm_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    customer_id: Mapped[str] = mapped_column(String(32))
    display_name: Mapped[str | None] = mapped_column(String(500))
    #: "skip", "sent", "applied", "already", "stale", "failed", "unknown"
    event: Mapped[str] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    request_id: Mapped[str | None] = mapped_column(String(64))
    old_active: Mapped[bool | None] = mapped_column(Boolean)
    new_active: Mapped[bool | None] = mapped_column(Boolean)
    sync_token_sent: Mapped[str | None] = mapped_column(String(16))
    sync_token_after: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    fault_code: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (Index("ix_writeback_audit_customer", "realm_id", "customer_id"),)
