"""`qbsync report lost` and `qbsync report html`: the customer file's losses, and every report on one page."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from qbsync.cli.report import cache_options, emit, open_cache, output_options, period_of, period_options


@click.command("lost")
@click.option("--by", "grain", type=click.Choice(["month", "quarter", "year"]), default="month",
              show_default=True, help="Group the dates lost by month, quarter or year.")
@cache_options
@period_options
@output_options
def lost_cmd(grain: str, as_of: datetime | None, realm: str | None, cache_url: str | None,
             from_: datetime | None, to_: datetime | None, fmt: str, output: Path | None, bom: bool) -> None:
    """Lost customers and the yearly revenue lost with them, by reason and period (see `customer lost`)."""
    from qbsync.reports import lost

    ctx = open_cache(realm, cache_url, as_of)
    period = period_of(ctx, from_, to_) if (from_ or to_) else None
    emit(lost.table(lost.lost(ctx.engine, ctx.realm_id, ctx.as_of, grain, period)), fmt, output, bom)


def register(cli: click.Group) -> None:
    group = cli.commands["report"]
    assert isinstance(group, click.Group)
    group.add_command(lost_cmd)
