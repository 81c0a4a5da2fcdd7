"""Progress on a terminal, through rich: a bar per entity and one for the whole sync, with rows, a rate
and the time left; nothing at all when stderr is not a terminal (cron, a pipe, CI).

rich draws on stderr, so stdout stays the command's answer (a table, CSV or JSON); the bars are
transient: when the work ends they go, and the command's summary lines stay. Rates are rich's own:
rows per second between the updates it has seen, so an entity that arrives in one page shows no
rate instead of a made-up one (the old bars divided 407 rows by the microseconds since the first
update and showed 4,499,027/s).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.progress import Progress as RichBar
    from rich.progress import TaskID


def on_terminal(stream: TextIO | None = None) -> bool:
    """Whether progress should be drawn: stderr (or ``stream``) is a terminal."""
    stream = stream or sys.stderr
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _bar(stream: TextIO | None, *, unit: str, monotonic: Callable[[], float] | None = None) -> RichBar:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Things per second as rich measured them between updates; blank until it has two."""

        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text("" if speed is None else f"{speed:,.0f} {unit}/s")

    console = Console(file=stream or sys.stderr, stderr=stream is None)
    return Progress(TextColumn("{task.description:<14}"), BarColumn(bar_width=28), TaskProgressColumn(),
                    MofNCompleteColumn(), TextColumn(unit), RateColumn(), TimeRemainingColumn(),
                    console=console, transient=True, refresh_per_second=4, get_time=monotonic,
                    redirect_stdout=False)


class SyncProgress:
    """``qbsync.sync.progress.Progress`` drawn by rich: a line per entity under an "all entities" line.

    An entity's total is known once its COUNT answers; until then its bar is indeterminate. The "all"
    line sums the totals known so far, so its time left settles as the counts come in.
    """

    def __init__(self, stream: TextIO | None = None, *, monotonic: Callable[[], float] | None = None) -> None:
        self._bar = _bar(stream, unit="rows", monotonic=monotonic)
        self._tasks: dict[str, TaskID] = {}
        self._totals: dict[str, int] = {}
        self._all: TaskID | None = None

    def __enter__(self) -> SyncProgress:
        self._bar.start()
        self._all = self._bar.add_task("all entities", total=None)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._bar.stop()

    def _task(self, entity: str) -> TaskID:
        if entity not in self._tasks:
            self._tasks[entity] = self._bar.add_task(entity, total=None)
        return self._tasks[entity]

    def start(self, entity: str, total: int | None) -> None:
        task = self._task(entity)
        if total is not None:
            self._totals[entity] = total
            self._bar.update(task, total=total)
            if self._all is not None:
                self._bar.update(self._all, total=sum(self._totals.values()))

    def advance(self, entity: str, rows: int) -> None:
        self._bar.advance(self._task(entity), rows)
        if self._all is not None:
            self._bar.advance(self._all, rows)

    def finish(self, entity: str) -> None:
        task = self._task(entity)
        done = next(t.completed for t in self._bar.tasks if t.id == task)
        # An entity the company does not use (0 rows) leaves no empty bar behind.
        self._bar.update(task, total=done, completed=done, visible=done > 0)

    def note(self, message: str) -> None:
        self._bar.console.print(message, markup=False, highlight=False)

    def refresh(self) -> None:
        """Draw now (rich redraws a few times a second on its own)."""
        self._bar.refresh()


class CountProgress:
    """One bar of ``total`` things (customers seeded, rows written) with a rate and the time left."""

    def __init__(self, description: str, total: int | None, *, unit: str = "", stream: TextIO | None = None
                 ) -> None:
        self._bar = _bar(stream, unit=unit)
        self._task = self._bar.add_task(description, total=total)

    def __enter__(self) -> CountProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._bar.stop()

    def update(self, completed: int, *, total: int | None = None, description: str | None = None) -> None:
        self._bar.update(self._task, completed=completed, total=total, description=description)
