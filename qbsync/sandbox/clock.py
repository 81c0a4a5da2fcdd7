"""The sandbox's own clock: token expiry, MetaData times, CDC windows and throttling all ask it."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class SandboxClock:
    """A controllable clock.

    ``SandboxClock()`` follows the wall clock (what ``qbsync sandbox serve`` uses);
    ``SandboxClock(start)`` stands still at ``start`` until ``advance``/``set`` move it, so tests
    expire tokens or age CDC windows without sleeping. ``ticking=True`` makes a started clock run
    forward in real time from ``start``. ``advance`` and ``set`` work in every mode.
    """

    def __init__(self, start: datetime | None = None, *, ticking: bool = False) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("SandboxClock needs a timezone-aware datetime (e.g. datetime(..., tzinfo=UTC))")
        self._lock = threading.Lock()
        self._live = start is None or ticking
        self._base = (start or datetime.now(UTC)).astimezone(UTC)
        self._mono0 = time.monotonic()

    def now(self) -> datetime:
        with self._lock:
            if self._live:
                return self._base + timedelta(seconds=time.monotonic() - self._mono0)
            return self._base

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._base += delta

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("SandboxClock.set needs a timezone-aware datetime")
        with self._lock:
            self._base = at.astimezone(UTC)
            self._mono0 = time.monotonic()

    @property
    def frozen(self) -> bool:
        return not self._live
