"""``--every 15m``: run a job repeatedly in the foreground until SIGTERM/SIGINT (systemd, containers)."""

from __future__ import annotations

import logging
import re
import signal
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from types import FrameType

from qbsync.errors import AuthError, CacheError, ConfigError, InputError, QbsyncError

log = logging.getLogger(__name__)

_INTERVAL = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "": 60, "m": 60, "h": 3600, "d": 86400}

#: errors another run will not fix by itself: the loop stops on them
FATAL = (AuthError, ConfigError, CacheError, InputError)


def parse_interval(text: str) -> timedelta:
    """``30s``, ``15m`` (a bare number means minutes), ``2h``, ``1d``; at least one minute."""
    m = _INTERVAL.match(text or "")
    if not m:
        raise InputError(f"cannot read the interval {text!r}", hint="write it like 15m, 2h, 90s or 1d")
    seconds = int(m.group(1)) * _UNITS[m.group(2).lower()]
    if seconds < 60:
        raise InputError(f"the interval {text!r} is shorter than a minute",
                         hint="QuickBooks' CDC has minute-level freshness; use 1m or more")
    return timedelta(seconds=seconds)


def install_stop_signals(stop: threading.Event) -> None:
    """SIGTERM and SIGINT set ``stop``: the current run finishes its transaction, then the loop ends."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s; stopping after the current run", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def run_every(interval: timedelta, job: Callable[[], None], stop: threading.Event, *,
              monotonic: Callable[[], float] = time.monotonic) -> int:
    """Run ``job`` now and then every ``interval`` (measured start to start) until ``stop`` is set.

    Transient failures (throttling, outages, a run still holding the lock) are logged and retried at
    the next tick; errors a retry cannot fix end the loop. Returns the number of runs.
    """
    runs = 0
    while not stop.is_set():
        started = monotonic()
        runs += 1
        try:
            job()
        except FATAL:
            raise
        except QbsyncError as exc:
            log.warning("sync run failed, trying again at the next interval: %s", exc)
        wait = interval.total_seconds() - (monotonic() - started)
        if wait > 0:
            stop.wait(wait)
    return runs
