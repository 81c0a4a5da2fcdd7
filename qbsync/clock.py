"""The one injectable source of "now": every time-dependent decision asks a Clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    """The real wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to: for tests and for ``--as-of``."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._at = at

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta) -> None:
        self._at += delta

    def set(self, at: datetime) -> None:
        self._at = at


def end_of_day(d: date) -> datetime:
    """The last instant of ``d`` in UTC; what ``--as-of DATE`` means for "everything up to that date"."""
    return datetime(d.year, d.month, d.day, 23, 59, 59, 999999, tzinfo=UTC)


def local_zone() -> tzinfo:
    """This computer's time zone now (``TZ`` or the system setting)."""
    zone = datetime.now().astimezone().tzinfo
    return zone if zone is not None else UTC


def zone_of_timestamp(stamp: object) -> tzinfo | None:
    """The fixed UTC offset written on a QuickBooks timestamp (``2015-07-01T10:14:15-07:00``), or None.

    QuickBooks writes MetaData times in the company's own offset, so a timestamp of the company's
    says where the company is (the offset in force when it was written).
    """
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return None
    return timezone(parsed.utcoffset())  # type: ignore[arg-type]
