"""How qbsync talks on stderr: warnings by default, -v for what it does, -vv for debugging.

On a terminal a message is one plain line (``warning: ...``): the commands print their own summary
lines, and progress is drawn by rich. Elsewhere (cron mail, journald, a CI log) every line carries
its time, to the second, its level and where it came from, so a log file can be read afterwards.
"""

from __future__ import annotations

import logging
import sys

#: Marks the handler installed here, so a second run in one process (tests) replaces it.
_MARK = "_qbsync_cli_handler"


class TerminalFormatter(logging.Formatter):
    """``warning: the message`` (with the logger's name at debug level)."""

    def __init__(self, *, names: bool = False) -> None:
        super().__init__()
        self.names = names

    def format(self, record: logging.LogRecord) -> str:
        where = f"{record.name}: " if self.names else ""
        text = f"{record.levelname.lower()}: {where}{record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def level_of(verbose: int, quiet: bool) -> int:
    """-q: errors only; default: warnings; -v: info; -vv: debug."""
    if quiet:
        return logging.ERROR
    return {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)


def configure(verbose: int = 0, quiet: bool = False) -> None:
    """Install the one stderr handler for this run (replacing a previous run's)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(handler)
    level = level_of(verbose, quiet)
    handler = logging.StreamHandler(sys.stderr)
    setattr(handler, _MARK, True)
    if sys.stderr.isatty():
        handler.setFormatter(TerminalFormatter(names=verbose >= 2))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                               datefmt="%Y-%m-%d %H:%M:%S"))
    handler.setLevel(level)
    root.addHandler(handler)
    # qbsync's own loggers follow -v; other libraries' only at -vv (Alembic announces its migration
    # context on every open, urllib3 every connection).
    if verbose >= 2:
        root.setLevel(logging.DEBUG)
    logging.getLogger("qbsync").setLevel(level)
    for name in ("alembic", "urllib3", "intuitlib", "quickbooks", "uvicorn"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)
    # The fleet's task queue logs each job's start and end beside qbsync's own line per sync: -v for them.
    logging.getLogger("procrastinate").setLevel(level)
