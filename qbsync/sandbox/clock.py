"""The sandbox's own clock: token expiry, MetaData times, CDC windows and throttling all ask it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class Notifier:
    """Something the webhook sender waits on (the clock, the outbox): every function given to
    ``on_change`` (until ``off_change``) is called by ``notify``."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` after every change."""
        self._listeners.append(fn)

    def off_change(self, fn: Callable[[], None]) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def notify(self) -> None:
        for fn in list(self._listeners):
            fn()


class SandboxClock(Notifier):
    """A controllable clock.

    ``SandboxClock()`` follows the wall clock (what ``qbsync sandbox serve`` uses);
    ``SandboxClock(start)`` stands still at ``start`` until ``advance``/``set`` move it, so tests
    expire tokens or age CDC windows without sleeping. ``ticking=True`` makes a started clock run
    forward in real time from ``start``. ``advance`` and ``set`` work in every mode, and tell every
    function given to ``on_change`` (the webhook sender wakes up when a test moves time).
    """

    def __init__(self, start: datetime | None = None, *, ticking: bool = False) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("SandboxClock needs a timezone-aware datetime (e.g. datetime(..., tzinfo=UTC))")
        super().__init__()
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
        self.notify()

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("SandboxClock.set needs a timezone-aware datetime")
        with self._lock:
            self._base = at.astimezone(UTC)
            self._mono0 = time.monotonic()
        self.notify()

    @property
    def frozen(self) -> bool:
        return not self._live
