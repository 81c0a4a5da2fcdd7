"""`qbsync report lost` and `qbsync report html`: the customer file's losses, and every report on one page."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from qbsync.cli.context import CommandContext, with_context
from qbsync.cli.options import Output, with_output
from qbsync.cli.report import period_of, period_options


@click.command("lost")
@click.option("--by", "grain", type=click.Choice(["month", "quarter", "year"]), default="month",
              show_default=True, help="Group the dates lost by month, quarter or year.")
@with_context()
@period_options
@with_output()
def lost_cmd(ctx: CommandContext, grain: str, from_: datetime | None, to_: datetime | None,
             out: Output) -> None:
    """Lost customers and the yearly revenue lost with them, by reason and period (see `customer lost`)."""
    from qbsync.reports import lost

    period = period_of(ctx, from_, to_) if (from_ or to_) else None
    out.table(lost.table(lost.lost(ctx.engine, ctx.realm_id, ctx.as_of, grain, period)))


@click.command("html")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The page to write (atomically), e.g. report.html.")
@click.option("--cross-by", type=click.Choice(["location", "class"]), default="location", show_default=True,
              help="The heat map's columns.")
@click.option("--top", type=click.IntRange(min=1), default=25, show_default=True,
              help="Rows of each long table on the page (totals cover everything).")
@click.option("--duplicates/--no-duplicates", default=True, show_default=True,
              help="Run the duplicates rule (the slowest part on a large company).")
@click.option("--policy", type=click.Path(dir_okay=False, path_type=Path),
              help="TOML policy file of the rules (default: the config file's).")
@click.option("--locale", help="The company's locale, e.g. pt_BR (default: from its CompanyInfo).")
@with_context()
@period_options
def html_cmd(ctx: CommandContext, output: Path, cross_by: str, top: int, duplicates: bool,
             policy: Path | None, locale: str | None, from_: datetime | None, to_: datetime | None) -> None:
    """Every report on one self-contained page with charts: aging, best customers (Pareto), customers x
    locations (heat map), disappearing customers, inactive and reactivated, duplicates side by side,
    campaign results, lost customers. Opens offline and prints on A4 or Letter."""
    from qbsync.documents import htmlreport
    from qbsync.files import write_atomic

    opts = htmlreport.Options(ctx.as_of, period_of(ctx, from_, to_), cross_by=cross_by, top=top,
                              duplicates=duplicates, policy_path=policy or ctx.settings.config_path,
                              today=ctx.today)
    collected = htmlreport.collect(ctx.engine, ctx.realm_id, opts, locale=locale)
    page = htmlreport.render_page(collected, generated=ctx.clock.now())
    write_atomic(output, page)
    click.echo(f"wrote {output} ({len(page.encode('utf-8')) / 1024:,.0f} KiB)", err=True)


def register(cli: click.Group) -> None:
    group = cli.commands["report"]
    assert isinstance(group, click.Group)
    group.add_command(lost_cmd)
    group.add_command(html_cmd)
