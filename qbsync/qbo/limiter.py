"""Per-realm request budget: sliding windows (per minute, per second), in-flight cap, throttle pauses.

One limiter per realm per process (``limiter_for``), shared by every client and thread talking to
that realm, so concurrent pages never add up to more than Intuit allows. Time and sleep are
injected: tests drive a fake monotonic clock and never sleep.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator

from qbsync.settings import RateLimits

Monotonic = Callable[[], float]
MIN_WAIT = 0.001
Sleeper = Callable[[float], None]


class Start:
    """When one request counts as started in the windows: its reservation, moved later by ``sent``
    when its bytes actually left (a thread kept waiting between the two on a busy machine)."""

    __slots__ = ("t",)

    def __init__(self, t: float) -> None:
        self.t = t


class RateLimiter:
    """Blocks callers until a request may start: at most ``per_minute`` starts in any 60 s window,
    ``per_second`` in any 1 s window, and ``max_concurrent`` running at once."""

    def __init__(self, per_minute: int = 500, max_concurrent: int = 10, *, per_second: int | None = 10,
                 monotonic: Monotonic = time.monotonic, sleep: Sleeper = time.sleep,
                 margin: float = 0.5) -> None:
        if per_minute < 1 or max_concurrent < 1 or (per_second is not None and per_second < 1):
            raise ValueError("limits must be positive")
        self.per_minute = per_minute
        self.per_second = per_second
        self.max_concurrent = max_concurrent
        # Requests reach Intuit a variable latency after they start here: keep the minute window a
        # little wider than 60 s (and the second window 5% wider) so the server's view never overflows.
        self._minute_span = 60.0 + margin
        self._second_span = 1.0 + margin / 10
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_concurrent)
        # The same Start objects in both windows (``sent`` may move one later than those after it).
        self._minute: deque[Start] = deque()
        self._second: deque[Start] = deque()
        self._paused_until = 0.0
        self.waited_seconds = 0.0  # total time callers spent waiting for the windows
        self.in_flight = 0
        self.peak_in_flight = 0

    @classmethod
    def from_settings(cls, limits: RateLimits, *, monotonic: Monotonic = time.monotonic,
                      sleep: Sleeper = time.sleep) -> RateLimiter:
        return cls(limits.requests_per_minute, limits.max_concurrent, per_second=limits.requests_per_second,
                   monotonic=monotonic, sleep=sleep)

    def pause(self, seconds: float) -> None:
        """Hold every new request for ``seconds`` (after a 429: the realm's budget is spent)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._monotonic() + seconds)

    @staticmethod
    def _window_wait(entries: deque[Start], span: float, limit: int, now: float) -> float:
        """How long until one more start fits ``limit`` starts per ``span``: expired starts leave the
        window wherever they are, and the wait ends when enough of the oldest have expired."""
        if any(e.t <= now - span for e in entries):
            kept = [e for e in entries if e.t > now - span]
            entries.clear()
            entries.extend(kept)
        if len(entries) < limit:
            return 0.0
        times = sorted(e.t for e in entries)
        return times[len(times) - limit] + span - now

    def _wait_needed(self, now: float) -> float:
        wait = max(0.0, self._paused_until - now)
        wait = max(wait, self._window_wait(self._minute, self._minute_span, self.per_minute, now))
        if self.per_second is not None:
            wait = max(wait, self._window_wait(self._second, self._second_span, self.per_second, now))
        return wait

    def _reserve(self) -> Start:
        while True:
            with self._lock:
                now = self._monotonic()
                wait = self._wait_needed(now)
                if wait <= 0:
                    start = Start(now)
                    self._minute.append(start)
                    self._second.append(start)
                    return start
                # never sleep less than 1 ms: a coarse clock (microsecond timedeltas, float
                # timestamps near 1.7e9) would otherwise not move and this loop would spin forever
                wait = max(wait, MIN_WAIT)
                self.waited_seconds += wait
            self._sleep(wait)

    def sent(self, start: Start) -> None:
        """The request of ``start`` has just been written to the socket: it counts from now in the
        windows, if that is later than its reservation. On a busy machine a thread can wait a good
        part of a second between the two; counted from the reservation, the next window's requests
        could then reach the server less than a window after it, and Intuit answers 429 (a minute's
        wait)."""
        with self._lock:
            start.t = max(start.t, self._monotonic())

    @contextlib.contextmanager
    def slot(self) -> Iterator[Start]:
        """Hold one in-flight slot and one start in each window for the duration of a request."""
        self._slots.acquire()
        try:
            start = self._reserve()
            with self._lock:
                self.in_flight += 1
                self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            try:
                yield start
            finally:
                with self._lock:
                    self.in_flight -= 1
        finally:
            self._slots.release()


class VirtualTime:
    """Monotonic time that also moves by whatever an injected sleeper "slept".

    Tests inject a sleeper that returns at once; a limiter on this clock then sees those waits as
    elapsed, so a 429 pause or a full minute window never blocks on the wall clock.
    """

    def __init__(self, sleeper: Sleeper, base: Monotonic = time.monotonic) -> None:
        self._sleeper = sleeper
        self._base = base
        self._offset = 0.0
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self._base() + self._offset

    def sleep(self, seconds: float) -> None:
        self._sleeper(seconds)
        with self._lock:
            self._offset += seconds


_registry: dict[tuple[str, str], RateLimiter] = {}
_registry_lock = threading.Lock()


def limiter_for(api_base: str, realm_id: str, limits: RateLimits) -> RateLimiter:
    """The process-wide limiter of one realm at one API (created on first use with ``limits``)."""
    key = (api_base, realm_id)
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = _registry[key] = RateLimiter.from_settings(limits)
        return limiter
