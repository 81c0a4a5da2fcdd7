"""The command line: the only user of click; turns library errors into messages and exit codes."""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable
from typing import Any

import click

from qbsync import __version__
from qbsync.errors import QbsyncError

log = logging.getLogger("qbsync")


#: Each top-level command and the modules of qbsync.cli that build it, in order: the first registers
#: it, a later one adds subcommands to its group. A command's modules load when it is used, so
#: `qbsync sync` from cron never imports the duplicate matcher, scipy or the sample-data generator.
COMMANDS: dict[str, tuple[str, ...]] = {
    "auth": ("auth",), "backup": ("sync",), "campaign": ("campaign",), "customer": ("customer",),
    "demo": ("demo",), "documents": ("documents",), "report": ("report", "report_documents", "reconcile"),
    "restore": ("sync",), "rules": ("rules", "duplicates"),
    "sandbox": ("sandbox", "sandbox_data", "sandbox_webhooks"), "sent": ("customer",), "status": ("sync",),
    "sync": ("sync",), "webhooks": ("webhooks",), "worker": ("worker",), "writeback": ("writeback",),
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
            for name in COMMANDS.get(cmd_name, ()):
                if name not in self._loaded:
                    self._loaded.add(name)
                    module = importlib.import_module(f"qbsync.cli.{name}")
                    register: Callable[[click.Group], None] = module.register
                    register(self)
        return super().get_command(ctx, cmd_name)

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
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
def cli(verbose: int, quiet: bool) -> None:
    """qbsync: mirror QuickBooks Online locally, find inactive, disappearing and duplicate
    customers, write Active flags back safely, and export outreach lists and reports."""
    level = logging.WARNING if quiet else (logging.DEBUG if verbose >= 2 else logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    # Alembic announces its migration context on every open of the cache; only -vv wants that.
    logging.getLogger("alembic").setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)


def main() -> None:
    cli(prog_name="qbsync")
