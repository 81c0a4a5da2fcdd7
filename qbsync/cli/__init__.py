"""The command line: the only user of click; turns library errors into messages and exit codes."""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import click

from qbsync import __version__
from qbsync.cli.context import Env
from qbsync.cli.logs import configure as configure_logging
from qbsync.errors import QbsyncError

log = logging.getLogger("qbsync")


class Entry(NamedTuple):
    """A top-level command: its one-line help (what `qbsync --help` lists) and the modules that build it."""

    help: str
    modules: tuple[str, ...]


#: Each top-level command, its one-line help, and the modules of qbsync.cli that build it, in order:
#: the first registers it, a later one adds subcommands to its group. A command's modules load when it
#: is used, so `qbsync --help` imports none of them and `qbsync sync` from cron never imports the
#: duplicate matcher, scipy or the sample-data generator.
COMMANDS: dict[str, Entry] = {
    "auth": Entry("Connect a QuickBooks company; see or revoke the connection.", ("auth",)),
    "backup": Entry("Copy the cache to a file while it stays in use.", ("sync",)),
    "campaign": Entry("Segments, win-back campaigns, outreach lists, dunning.", ("campaign",)),
    "customer": Entry("One customer's file: archive, notes, loss, language.", ("customer",)),
    "demo": Entry("Try everything on a sandbox company, in one command.", ("demo",)),
    "documents": Entry("Statements and letters as PDF or HTML, in the customer's language.", ("documents",)),
    "report": Entry("Reports: best, cross, aging, payments, statements, health...",
                    ("report", "report_documents", "reconcile")),
    "restore": Entry("Replace the cache by a backup.", ("sync",)),
    "rules": Entry("Inactive, reactivatable, disappearing and duplicate customers.", ("rules", "duplicates")),
    "sandbox": Entry("A local QuickBooks Online server with sample companies.",
                     ("sandbox", "sandbox_data", "sandbox_webhooks")),
    "sent": Entry("Mark an outreach batch as sent, or list those waiting.", ("customer",)),
    "status": Entry("What the cache holds: last sync, rows, errors per entity.", ("sync",)),
    "sync": Entry("Mirror QuickBooks into the cache (then changes only).", ("sync",)),
    "webhooks": Entry("Receive QuickBooks webhooks and queue a sync per company.", ("webhooks",)),
    "worker": Entry("Run the queued syncs (a fleet on PostgreSQL; --once anywhere).", ("worker",)),
    "writeback": Entry("Set customers' Active flag in QuickBooks: plan, apply, undo.", ("writeback",)),
}



class QbsyncGroup(click.Group):
    """The root group: commands load on first use, and our errors end with a clean message and a
    meaningful exit code."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._loaded: set[str] = set()

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            entry = COMMANDS.get(cmd_name)
            for name in entry.modules if entry else ():
                if name not in self._loaded:
                    self._loaded.add(name)
                    module = importlib.import_module(f"qbsync.cli.{name}")
                    register: Callable[[click.Group], None] = module.register
                    register(self)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the table: `qbsync --help` loads no command's module."""
        rows = [(name, entry.help) for name, entry in sorted(COMMANDS.items())]
        rows += [(name, cmd.get_short_help_str(formatter.width))
                 for name, cmd in sorted(self.commands.items()) if name not in COMMANDS and not cmd.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except QbsyncError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except Exception as exc:
            # A database error met after the cache opened (a SQLite file damaged in the middle, a
            # server gone mid-command) is the cache's problem, said in one line, not a traceback.
            if "sqlalchemy" not in sys.modules:
                raise
            import sqlalchemy as sa

            if not isinstance(exc, sa.exc.DBAPIError):
                raise
            from qbsync.cache.db import cache_error

            err = cache_error(exc)
            click.echo(f"error: {err}", err=True)
            ctx.exit(err.exit_code)


@click.group(cls=QbsyncGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="qbsync")
@click.option("-v", "--verbose", count=True,
              help="Say what is done (-v), and debug (-vv); default: warnings only.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Settings file (default: QBSYNC_CONFIG, else qbsync.toml in the user config dir).")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool, config: Path | None) -> None:
    """qbsync: mirror QuickBooks Online locally, find inactive, disappearing and duplicate
    customers, write Active flags back safely, and export outreach lists and reports."""
    env = ctx.ensure_object(Env)  # tests pass their own (clock, zone, QuickBooks connection)
    if config is not None:
        env.config_path = config
    configure_logging(verbose, quiet)


def main() -> None:
    try:
        cli(prog_name="qbsync")
    except SystemExit as done:  # click's standalone mode always ends here
        _exit(done)


def _exit(done: SystemExit) -> None:
    """End the process without tearing the interpreter down: freeing every module and object one by
    one costs ~0.1-0.2 s of CPU after the command has finished (a cron sync pays it on every run).
    Only when nothing is left to wait for: no thread but the main one. What an ordinary exit does that
    anyone can see is done here: the exit handlers (logging's flush among them), then stdout and
    stderr flushed; the code and message are SystemExit's."""
    import atexit
    import os
    import threading

    if threading.active_count() > 1:
        raise done
    code = done.code
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: what the normal exit would meet too
        raise done from None
    os._exit(code or 0)
