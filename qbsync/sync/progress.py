"""Progress of a sync: a bar per entity (rows, rate) on a terminal, plain log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Protocol, TextIO

log = logging.getLogger(__name__)


class Progress(Protocol):
    def start(self, entity: str, total: int | None) -> None: ...

    def advance(self, entity: str, rows: int) -> None: ...

    def finish(self, entity: str) -> None: ...

    def note(self, message: str) -> None: ...


class NoProgress:
    """Silence (library use, --json, tests)."""

    def start(self, entity: str, total: int | None) -> None:
        pass

    def advance(self, entity: str, rows: int) -> None:
        pass

    def finish(self, entity: str) -> None:
        pass

    def note(self, message: str) -> None:
        pass


class _Counter:
    def __init__(self, total: int | None, now: float) -> None:
        self.total = total
        self.done = 0
        self.started = now
        self.finished = False


class TerminalProgress:
    """One redrawn line per entity on a TTY; a log line per finished entity (and every ``every`` s)
    elsewhere, so cron mail and journald stay readable."""

    def __init__(self, stream: TextIO | None = None, *, tty: bool | None = None, every: float = 10.0,
                 monotonic: Callable[[], float] = time.monotonic, width: int = 28) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.every = every
        self.monotonic = monotonic
        self.width = width
        self.counters: dict[str, _Counter] = {}
        self._last_log = monotonic()

    def _counter(self, entity: str) -> _Counter:
        if entity not in self.counters:
            self.counters[entity] = _Counter(None, self.monotonic())
        return self.counters[entity]

    def _line(self, entity: str, c: _Counter) -> str:
        elapsed = max(self.monotonic() - c.started, 1e-6)
        rate = c.done / elapsed
        if c.total:
            frac = min(1.0, c.done / c.total)
            filled = int(frac * self.width)
            bar = "#" * filled + "-" * (self.width - filled)
            return f"{entity:<13} [{bar}] {c.done:>9,}/{c.total:,} rows {rate:>8,.0f}/s"
        return f"{entity:<13} {c.done:>9,} rows {rate:>8,.0f}/s"

    def _draw(self, entity: str, c: _Counter, end: str = "") -> None:
        self.stream.write("\r\x1b[2K" + self._line(entity, c) + end)
        self.stream.flush()

    def start(self, entity: str, total: int | None) -> None:
        c = self._counter(entity)
        c.total = total
        if self.tty:
            self._draw(entity, c)

    def advance(self, entity: str, rows: int) -> None:
        c = self._counter(entity)
        c.done += rows
        if self.tty:
            self._draw(entity, c)
        elif self.monotonic() - self._last_log >= self.every:
            self._last_log = self.monotonic()
            log.info("sync %s", self._line(entity, c))

    def finish(self, entity: str) -> None:
        c = self._counter(entity)
        if c.finished:
            return
        c.finished = True
        if self.tty:
            self._draw(entity, c, "\n")
        else:
            log.info("sync %s done", self._line(entity, c))

    def note(self, message: str) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K" + message + "\n")
            self.stream.flush()
        else:
            log.info("%s", message)
