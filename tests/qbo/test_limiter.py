"""The per-realm limiter, driven by a fake monotonic clock whose sleep only moves the clock."""

from __future__ import annotations

import threading

import pytest

from qbsync.qbo.limiter import RateLimiter


class FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0
        self.lock = threading.Lock()
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        with self.lock:
            return self.t

    def sleep(self, s: float) -> None:
        with self.lock:
            self.sleeps.append(s)
            self.t += s


def starts(limiter: RateLimiter, ft: FakeTime, n: int) -> list[float]:
    out = []
    for _ in range(n):
        with limiter.slot():
            out.append(ft.monotonic())
    return out


def test_never_more_than_per_minute_in_any_sixty_seconds() -> None:
    ft = FakeTime()
    lim = RateLimiter(500, 10, per_second=None, monotonic=ft.monotonic, sleep=ft.sleep)
    times = starts(lim, ft, 1600)
    for i in range(len(times) - 500):
        assert times[i + 500] - times[i] >= 60.0
    # and no slower than needed: 1,600 requests need three full windows (plus the safety margin)
    assert times[-1] - times[0] == pytest.approx(3 * 60.5)


def test_per_second_window() -> None:
    ft = FakeTime()
    lim = RateLimiter(500, 10, per_second=10, monotonic=ft.monotonic, sleep=ft.sleep)
    times = starts(lim, ft, 45)
    for i in range(len(times) - 10):
        assert times[i + 10] - times[i] >= 1.0
    assert times[-1] - times[0] == pytest.approx(4 * 1.05)


def test_a_request_that_left_late_counts_from_when_it_left() -> None:
    # Ten requests reserved at once; the machine is busy and five of them reach the socket only half a
    # second later. Counted from their reservations, the next ten would start 1.05 s after the first
    # and reach the server 0.55 s after those five: eleven within one second, a 429. Counted from
    # when they left, the eleventh waits.
    ft = FakeTime()
    lim = RateLimiter(500, 10, per_second=10, monotonic=ft.monotonic, sleep=ft.sleep)
    handles = []
    for _ in range(10):
        with lim.slot() as start:
            handles.append(start)
    t0 = ft.monotonic()
    ft.t += 0.5
    for start in handles[:5]:
        lim.sent(start)
    later = starts(lim, ft, 10)
    sent = sorted(h.t for h in handles)
    every = sorted(sent + later)
    for i in range(len(every) - 10):
        assert every[i + 10] - every[i] >= 1.0
    assert later[0] == pytest.approx(t0 + 1.05)  # the five that left on time free five starts
    assert later[5] == pytest.approx(t0 + 0.5 + 1.05)


def test_pause_holds_every_new_request() -> None:
    ft = FakeTime()
    lim = RateLimiter(500, 10, monotonic=ft.monotonic, sleep=ft.sleep)
    starts(lim, ft, 1)
    lim.pause(60)
    (t,) = starts(lim, ft, 1)
    assert t == pytest.approx(1060.0)


def test_in_flight_never_exceeds_max_concurrent() -> None:
    lim = RateLimiter(10_000, 3, per_second=None)
    count_lock = threading.Lock()
    entered: list[int] = []
    release = threading.Event()
    inside = threading.Event()
    seen: list[int] = []

    def worker() -> None:
        with lim.slot():
            seen.append(lim.in_flight)
            with count_lock:
                entered.append(1)
                if len(entered) == 3:
                    inside.set()
            release.wait(10)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    # three are inside together; the other five are blocked on the semaphore until release
    assert inside.wait(10)
    assert lim.in_flight == 3
    release.set()
    for t in threads:
        t.join(10)
    assert lim.peak_in_flight == 3 and lim.in_flight == 0 and len(seen) == 8


def test_invalid_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0, 10)


def test_a_coarse_clock_cannot_make_it_spin() -> None:
    # a clock with millisecond resolution at a large epoch value: tiny waits must still move it
    state = {"ms": 1_770_000_000_000, "sleeps": 0}

    def sleep(s: float) -> None:
        state["sleeps"] += 1
        assert state["sleeps"] < 1000, "the limiter is spinning on a clock that does not move"
        state["ms"] += int(s * 1000)

    lim = RateLimiter(3, 10, per_second=None, margin=0.0, monotonic=lambda: state["ms"] / 1000.0,
                      sleep=sleep)
    for _ in range(7):
        with lim.slot():
            pass
    assert lim.waited_seconds >= 120.0
