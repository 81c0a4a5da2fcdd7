"""Progress of a sync: what it tells as it goes (the command line draws it with rich on a terminal)."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Told per entity: its row count when known, rows as pages are written, done; and side notes."""

    def start(self, entity: str, total: int | None) -> None: ...

    def advance(self, entity: str, rows: int) -> None: ...

    def finish(self, entity: str) -> None: ...

    def note(self, message: str) -> None: ...


class NoProgress:
    """Silence (library use, cron, pipes, tests)."""

    def start(self, entity: str, total: int | None) -> None:
        pass

    def advance(self, entity: str, rows: int) -> None:
        pass

    def finish(self, entity: str) -> None:
        pass

    def note(self, message: str) -> None:
        pass
