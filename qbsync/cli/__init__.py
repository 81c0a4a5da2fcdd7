"""The command line: the only user of click; turns library errors into messages and exit codes."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import click

from qbsync import __version__
from qbsync.errors import QbsyncError

log = logging.getLogger("qbsync")


class QbsyncGroup(click.Group):
    """A group whose commands end with a clean message and a meaningful exit code on our errors."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except QbsyncError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)


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


def _register() -> None:
    # Each command group lives in its own module and adds itself here; a group whose module is
    # not there yet is simply absent.
    import importlib

    # A module may also attach commands to a group registered before it (``cli.commands[...]``).
    for name in ("sandbox", "sandbox_data", "auth", "sync", "rules", "duplicates", "writeback",
                 "campaign", "report", "demo"):
        try:
            module = importlib.import_module(f"qbsync.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"qbsync.cli.{name}":
                continue
            raise
        register: Callable[[click.Group], None] = module.register
        register(cli)


_register()


def main() -> None:
    cli(prog_name="qbsync")
