"""`qbsync report reconcile` and the `--reconcile` flag of aging, best and statement: qbsync's figures
against QuickBooks' own reports, fetched over the API for the same date and parameters.

Every difference is printed with both figures; any difference ends the command with exit code 7
(after the report itself was written), so cron and CI notice. Each check is kept in the cache and
the last one of each report shows in `qbsync report health`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import click

from qbsync.cli.context import DATE, CommandContext, with_context
from qbsync.cli.options import Output, with_output
from qbsync.cli.report import aging_options, aging_params, report_group


def fetcher(ctx: CommandContext) -> Callable[[str, Mapping[str, str]], Mapping[str, Any]]:
    """QuickBooks' Reports API for the command's company, through its QuickBooks connection."""
    client = ctx.connect(ctx.realm_id)
    report: Callable[[str, Mapping[str, str]], Mapping[str, Any]] = getattr(client, "report")  # noqa: B009
    return report


def finish(ctx: CommandContext, checks: Sequence[Any], *, quiet_ok: bool = False, to_stderr: bool = False,
           out: Output | None = None) -> None:
    """Record the checks, print the differences (or that all agree) and exit 7 when any differ."""
    from qbsync.reports import reconcile

    reconcile.record(ctx.engine, ctx.realm_id, checks, ctx.clock.now())
    table = reconcile.table(checks)
    if to_stderr:  # after a report on stdout: the verdict goes to stderr, never into its CSV/JSON
        for note in table.notes:
            click.echo(f"reconcile: {note}", err=True)
        for row in table.rows:
            click.echo(f"reconcile: {row['qbo_report']} {row['name']} ({row['customer_id']}) {row['what']}: "
                       f"qbsync {row['ours']} QuickBooks {row['theirs']}", err=True)
    elif not (quiet_ok and not table.rows):
        (out or Output()).table(table)
    reconcile.outcome(checks)


def check_after(ctx: CommandContext, run: Callable[[Any], list[Any]]) -> None:
    """The `--reconcile` of a report: fetch QuickBooks' report, compare, print to stderr, exit 7."""
    checks = run(fetcher(ctx))
    finish(ctx, checks, to_stderr=True)


@report_group.command("reconcile")
@click.option("--report", "reports", multiple=True, type=click.Choice(
    ["aging", "aging-detail", "balance", "balance-detail", "sales", "all"]), default=("all",),
    show_default=True, help="Which of qbsync's reports to compare (repeat the option for several).")
@click.option("--from", "from_", type=DATE, metavar="DATE",
              help="Sales: period start (default: 365 days before the end).")
@click.option("--to", "to_", type=DATE, metavar="DATE", help="Sales: period end (default: --as-of).")
@aging_options
@with_context()
@with_output()
def reconcile_cmd(ctx: CommandContext, reports: tuple[str, ...], from_: datetime | None, to_: datetime | None,
                  aging_period: int, num_periods: int, aging_method: str, age_from: str,
                  out: Output) -> None:
    """Compare qbsync's reports with QuickBooks' own (A/R Aging Summary and Detail, Customer Balance
    Summary and Detail, Sales by Customer), customer by customer to the cent. Exit 7 when any differ."""
    from qbsync.reports import reconcile
    from qbsync.reports.source import default_period

    wanted = list(reconcile.CHECKS) if "all" in reports else list(dict.fromkeys(reports))
    period = default_period(ctx.as_of, from_.date() if from_ else None, to_.date() if to_ else None)
    checks = reconcile.run(ctx.engine, ctx.realm_id, fetcher(ctx), ctx.as_of, wanted,
                           params=aging_params(aging_period, num_periods, aging_method, age_from, True),
                           period=period, today=ctx.today)
    finish(ctx, checks, out=out)


def statement_check(ctx: CommandContext, statements: list[Any], as_of: date) -> None:
    from qbsync.reports import reconcile

    check_after(ctx, lambda fetch: [reconcile.check_statements(fetch, statements, as_of)])


def register(cli: click.Group) -> None:
    """The reconcile command sits in `report`'s group (registered by qbsync.cli.report)."""
