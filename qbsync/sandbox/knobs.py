"""Seeded knobs for tests and benchmarks: latency, random faults, throttling, data changed mid-sync."""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qbsync.sandbox.clock import SandboxClock


@dataclass
class LatencyProfile:
    """Simulated time per request: ``base`` + network round trip + ``per_row`` per returned object,
    with a seeded chance of a slow request. All in seconds."""

    base: float = 0.0
    network: float = 0.0
    per_row: float = 0.0
    jitter: float = 0.0  # +- uniform fraction of base
    slow_rate: float = 0.0
    slow_extra: tuple[float, float] = (0.0, 0.0)
    seed: int = 0

    @classmethod
    def none(cls) -> LatencyProfile:
        return cls()

    @classmethod
    def realistic(cls, seed: int = 0) -> LatencyProfile:
        """Assumption (docs/sandbox.md): recorded Service-Time is 20-80 ms for small reads, so base
        50 ms +-60 %; 40 ms network round trip; 0.25 ms per returned object (a 1,000-row page adds
        0.25 s); 2 % of requests take an extra 0.3-0.9 s (the slowest recordings)."""
        return cls(base=0.05, network=0.04, per_row=0.00025, jitter=0.6, slow_rate=0.02,
                   slow_extra=(0.3, 0.9), seed=seed)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return any((self.base, self.network, self.per_row, self.slow_rate))

    def delay(self, rows: int) -> tuple[float, float]:
        """(server time, network time) for a response with ``rows`` objects."""
        with self._lock:
            j = self._rng.uniform(-self.jitter, self.jitter) if self.jitter else 0.0
            is_slow = bool(self.slow_rate) and self._rng.random() < self.slow_rate
            slow = self._rng.uniform(*self.slow_extra) if is_slow else 0.0
        server = max(0.0, self.base * (1 + j)) + self.per_row * rows + slow
        return server, self.network


@dataclass
class FaultPlan:
    """Seeded random faults on data-API requests (never on OAuth or admin endpoints).

    Rates are probabilities per request, drawn in order from one ``random.Random(seed)`` so a run
    repeats. ``script`` forces faults on given request numbers (1-based, data requests only):
    ``{3: "429", 7: "drop"}``; kinds: "429", "500", "503", "drop", "truncate".
    """

    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_503: float = 0.0
    drop_rate: float = 0.0
    truncate_rate: float = 0.0
    seed: int = 0
    script: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self._n = 0

    def draw(self) -> str | None:
        with self._lock:
            self._n += 1
            forced = self.script.get(self._n)
            r = self._rng.random()
        if forced:
            return forced
        for kind, rate in (("429", self.rate_429), ("500", self.rate_500), ("503", self.rate_503),
                           ("drop", self.drop_rate), ("truncate", self.truncate_rate)):
            if r < rate:
                return kind
            r -= rate
        return None


@dataclass
class ThrottleLimits:
    """Per-realm budget. The minute window is measured on the SANDBOX clock, so a frozen test clock
    keeps every request in one window and ``clock.advance`` opens the next one.

    ``per_second`` (Intuit's 10 requests per second per realm and app) is off unless asked for
    (``ThrottleLimits.realistic()``): it is measured on the real monotonic clock, because clients pace
    themselves in real time, and tests that drive a client with an injected sleeper would trip it."""

    per_minute: int | None = 500
    concurrent: int | None = 10
    window_seconds: float = 60.0
    per_second: int | None = None

    @classmethod
    def realistic(cls) -> ThrottleLimits:
        """All three of Intuit's limits: 500 per minute, 10 per second, 10 in flight."""
        return cls(per_second=10)


class Throttle:
    def __init__(self, limits: ThrottleLimits, clock: SandboxClock,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = {}
        self._second: dict[str, deque[float]] = {}
        self._inflight: dict[str, int] = {}

    def enter(self, realm: str) -> bool:
        """Admit one request for ``realm``; False means answer 429. Call ``leave`` after an admitted one."""
        now = self.clock.now().timestamp()
        with self._lock:
            inflight = self._inflight.get(realm, 0)
            if self.limits.concurrent is not None and inflight >= self.limits.concurrent:
                return False
            if self.limits.per_second is not None:
                tick = self._monotonic()
                second = self._second.setdefault(realm, deque())
                while second and second[0] <= tick - 1.0:
                    second.popleft()
                if len(second) >= self.limits.per_second:
                    return False
            if self.limits.per_minute is not None:
                hits = self._hits.setdefault(realm, deque())
                while hits and hits[0] <= now - self.limits.window_seconds:
                    hits.popleft()
                if len(hits) >= self.limits.per_minute:
                    return False
                hits.append(now)
            if self.limits.per_second is not None:
                self._second[realm].append(tick)
            self._inflight[realm] = inflight + 1
            return True

    def leave(self, realm: str) -> None:
        with self._lock:
            self._inflight[realm] = max(0, self._inflight.get(realm, 0) - 1)


# A hook run before data requests: hook(store, clock, request_number). Use it to change data
# "behind the client's back" while it syncs.
RequestHook = Callable[[Any, SandboxClock, int], None]


@dataclass
class Hook:
    fn: RequestHook
    every: int = 1
