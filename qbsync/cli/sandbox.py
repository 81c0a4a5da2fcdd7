"""`qbsync sandbox ...`: run and fill the local QuickBooks-compatible server."""

from __future__ import annotations

import click


@click.group("sandbox")
def sandbox_group() -> None:
    """A local QuickBooks Online-compatible server with generated sample companies."""


def register(cli: click.Group) -> None:
    cli.add_command(sandbox_group)
