"""Cache table of reconciliations: each time qbsync's figures were compared with QuickBooks' own report."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from qbsync.cache.models import Base, JSONType
from qbsync.cache.types import UTCDateTime


class ReportCheck(Base):
    """One comparison of one report with QuickBooks' (``qbsync report reconcile``): what was asked,
    how many customers and transactions were compared, and the differences found (the first ones)."""

    __tablename__ = "report_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    realm_id: Mapped[str] = mapped_column(String(32))
    report: Mapped[str] = mapped_column(String(32))  # qbsync's name: aging, aging-detail, balance, ...
    qbo_report: Mapped[str] = mapped_column(String(64))  # QuickBooks' name: AgedReceivables, ...
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    as_of: Mapped[date] = mapped_column(Date)
    params: Mapped[dict[str, Any]] = mapped_column(JSONType)  # as sent to QuickBooks
    compared: Mapped[int] = mapped_column(Integer)  # customers (or transactions) compared
    differences: Mapped[int] = mapped_column(Integer)
    detail: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)  # the first differences
    error: Mapped[str | None] = mapped_column(Text)  # QuickBooks could not be asked

    __table_args__ = (Index("ix_report_checks_realm_report", "realm_id", "report", "checked_at"),)
