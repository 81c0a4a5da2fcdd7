"""`qbsync report ...`: best, cross, aging, payments, statement, baddebt and health, over the cache."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import click

from qbsync.cli.context import DATE, CommandContext, with_context
from qbsync.cli.options import Output, statement_options, with_output
from qbsync.errors import InputError

if TYPE_CHECKING:
    from qbsync.reports.aging import AgingParams
    from qbsync.reports.source import Period


def period_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--to", "to_", type=DATE, metavar="DATE", help="Period end (default: --as-of).")(f)
    f = click.option("--from", "from_", type=DATE, metavar="DATE",
                     help="Period start (default: 365 days before the end).")(f)
    return f


def reconcile_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--reconcile", is_flag=True,
                        help=f"Also fetch QuickBooks' {what} for the same date and parameters and compare, "
                             "customer by customer; exit 7 when any figure differs.")


def limit_option(default: int | None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--limit", type=click.IntRange(min=1), default=default, show_default=True,
                        help="Show at most N rows (totals still cover everything).")


def period_report(limit: int | None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """What a report over a period takes: the context (--as-of, ...), --from/--to, the output options and
    --limit (``limit`` rows by default)."""
    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        return with_context()(period_options(with_output()(limit_option(limit)(f))))
    return decorate


def period_of(ctx: CommandContext, from_: datetime | None, to_: datetime | None) -> Period:
    from qbsync.reports.source import default_period

    return default_period(ctx.as_of, from_.date() if from_ else None, to_.date() if to_ else None)


@click.group("report")
def report_group() -> None:
    """Customer reports over the cache, each as a table, CSV or JSON, for any period and --as-of date.

    The rules' lists are `qbsync rules inactive | disappearing | duplicates`.
    """


@report_group.command("best")
@reconcile_option("Sales by Customer Summary")
@period_report(limit=50)
def best_cmd(ctx: CommandContext, reconcile: bool, from_: datetime | None, to_: datetime | None, out: Output,
             limit: int | None) -> None:
    """Best customers by sales in the period (QuickBooks' Sales by Customer): share, cumulative (Pareto)
    share, change vs before."""
    from qbsync.reports import best

    period = period_of(ctx, from_, to_)
    report = best.best(ctx.engine, ctx.realm_id, ctx.as_of, period)
    out.table(best.table(report, limit))
    if reconcile:
        from qbsync.cli.reconcile import check_after
        from qbsync.reports import reconcile as rec

        check_after(ctx, lambda fetch: [rec.check_sales(fetch, report.current, report.names, period,
                                                        ctx.as_of)])


@report_group.command("cross")
@click.option("--by", type=click.Choice(["location", "class"]), default="location", show_default=True)
@period_report(limit=50)
def cross_cmd(ctx: CommandContext, by: str, from_: datetime | None, to_: datetime | None, out: Output,
              limit: int | None) -> None:
    """Spend of customers x locations (or classes), with totals on both margins."""
    from qbsync.reports import cross

    report = cross.cross(ctx.engine, ctx.realm_id, ctx.as_of, period_of(ctx, from_, to_),
                         "class" if by == "class" else "location")
    out.table(cross.table(report, limit))


def aging_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """QuickBooks' aging options, under the names of its Reports API parameters (and Desktop's age-from)."""
    f = click.option("--age-from", type=click.Choice(["due-date", "transaction-date"]), default="due-date",
                     show_default=True,
                     help="Age each item from its due date (QuickBooks Online) or from its transaction "
                          "date (QuickBooks Desktop's other choice; cannot be reconciled).")(f)
    f = click.option("--aging-method", type=click.Choice(["report-date", "current"]), default="report-date",
                     show_default=True,
                     help="report-date: payments dated up to --as-of, aged on it; current: every payment so "
                          "far, aged on today.")(f)
    f = click.option("--num-periods", type=click.IntRange(min=1), default=4, show_default=True,
                     help="Number of aging periods (the last is open-ended).")(f)
    f = click.option("--aging-period", type=click.IntRange(min=1), default=30, show_default=True,
                     help="Days per aging period.")(f)
    return f


def aging_params(aging_period: int, num_periods: int, aging_method: str, age_from: str = "due-date",
                 reconcile: bool = False) -> AgingParams:
    from qbsync.errors import InputError
    from qbsync.reports.aging import AGE_FROM, AgingParams
    from qbsync.reports.receivables import aging_method as method_of

    if reconcile and age_from != "due-date":
        raise InputError("QuickBooks Online's A/R aging reports age from the due date only, so aging from "
                         "the transaction date cannot be compared with them",
                         hint="reconcile with --age-from due-date (the default)")
    return AgingParams(aging_period, num_periods, method_of(aging_method), AGE_FROM[age_from])


@report_group.command("aging")
@click.option("--detail", is_flag=True, help="One row per open transaction (A/R Aging Detail).")
@reconcile_option("A/R Aging Summary (or Detail)")
@aging_options
@with_context()
@with_output()
@limit_option(None)
def aging_cmd(ctx: CommandContext, detail: bool, reconcile: bool, aging_period: int, num_periods: int,
              aging_method: str, age_from: str, out: Output, limit: int | None) -> None:
    """A/R aging as QuickBooks' A/R Aging Summary (or --detail): open invoices and, as negative amounts,
    unapplied payments and credits per customer, by days past due; the total is what customers owe."""
    from qbsync.reports import aging

    params = aging_params(aging_period, num_periods, aging_method, age_from, reconcile)
    report = aging.aging(ctx.engine, ctx.realm_id, ctx.as_of, params, ctx.today)
    out.table((aging.detail_table if detail else aging.table)(report, limit))
    if reconcile:
        from qbsync.cli.reconcile import check_after
        from qbsync.reports import reconcile as rec

        check = rec.check_aging_detail if detail else rec.check_aging
        check_after(ctx, lambda fetch: [check(fetch, report)])


@report_group.command("payments")
@click.option("--grace-days", type=click.IntRange(min=0), default=5, show_default=True,
              help="Paid this many days after due still counts as on time.")
@click.option("--chronic-share", type=float, default=0.5, show_default=True,
              help="Share of late invoices from which a customer is chronically late.")
@click.option("--large-share", type=float, default=0.2, show_default=True,
              help="Top share of buyers by sales in the period that count as large accounts.")
@click.option("--long-term-days", type=click.IntRange(min=1), default=180, show_default=True,
              help="Owing on an invoice more than this many days past due makes a long-term debtor.")
@period_report(limit=None)
def payments_cmd(ctx: CommandContext, grace_days: int, chronic_share: float, large_share: float,
                 long_term_days: int, from_: datetime | None, to_: datetime | None, out: Output,
                 limit: int | None) -> None:
    """Payment behaviour: days to pay, days late, share late, class per customer, large vs small accounts."""
    from qbsync.reports import payments

    rules = payments.PaymentRules(grace_days=grace_days, chronic_share=Decimal(str(chronic_share)),
                                  large_share=Decimal(str(large_share)), long_term_days=long_term_days)
    report = payments.payments(ctx.engine, ctx.realm_id, ctx.as_of, period_of(ctx, from_, to_), rules)
    out.table(payments.table(report, limit))


@report_group.command("statement")
@click.argument("customer", required=False)
@statement_options
@reconcile_option("Customer Balance Summary")
@with_context()
@with_output()
def statement_cmd(ctx: CommandContext, customer: str | None, kind: str, from_: datetime | None, batch: bool,
                  balance: str, open_item_days: int, reconcile: bool, out: Output) -> None:
    """Customer statements as QuickBooks makes them (CUSTOMER: Id or exact name, or --all for a batch);
    jobs billed with their parent are on the parent's statement."""
    from qbsync.reports import statement

    if batch == (customer is not None):
        raise InputError("give one CUSTOMER or --all", hint="e.g. qbsync report statement 42, or --all")
    start = from_.date() if from_ else None
    if customer is not None:
        st = statement.statement(ctx.engine, ctx.realm_id, customer, ctx.as_of, start, kind, open_item_days)
        out.table(statement.table(st))
        sts = [st]
    else:
        sts = statement.statements(ctx.engine, ctx.realm_id, ctx.as_of, start, kind, balance, open_item_days)
        if out.fmt == "table" and out.path is None:
            from qbsync.reports import render

            text = "".join(render.render(statement.table(st), "table") + "\n" for st in sts)
            out.write(text + f"{len(sts)} statements\n")
        else:
            out.table(statement.batch_table(sts, statement.kind_of(kind), ctx.as_of))
    if reconcile:
        from qbsync.cli.reconcile import statement_check

        statement_check(ctx, sts, ctx.as_of)


@report_group.command("baddebt")
@click.option("--min-days", type=click.IntRange(min=1), default=90, show_default=True,
              help="Invoices more than this many days past due.")
@click.option("--quiet-days", type=click.IntRange(min=0), default=90, show_default=True,
              help="No purchase and no payment for this many days.")
@with_context()
@with_output()
@limit_option(None)
def baddebt_cmd(ctx: CommandContext, min_days: int, quiet_days: int, out: Output, limit: int | None) -> None:
    """Bad-debt candidates for a write-off review: quiet customers with invoices open past 90/180 days."""
    from qbsync.reports import baddebt

    rows = baddebt.baddebt(ctx.engine, ctx.realm_id, ctx.as_of, min_days=min_days, quiet_days=quiet_days)
    out.table(baddebt.table(rows, ctx.as_of, limit))


@report_group.command("health")
@click.option("--stale-hours", type=click.IntRange(min=1), default=26, show_default=True,
              help="A sync older than this is stale.")
@with_context(realm="Only this company (realm) Id (default: every company in the cache).", as_of=False)
@with_output()
def health_cmd(ctx: CommandContext, stale_hours: int, out: Output) -> None:
    """Sync health per realm and entity now: last success, age, rows, last error.

    It has no --as-of: the cache keeps each entity's latest sync state, not its history.
    """
    from datetime import timedelta

    from qbsync.fleet.status import fleet_status  # per company: last event, queue, last sync, lag
    from qbsync.reports import health

    rows = health.health(ctx.engine, ctx.clock, ctx.check_realm(), timedelta(hours=stale_hours))
    report = health.table(rows, ctx.clock.now())
    live = fleet_status(ctx.engine, sorted({r.realm_id for r in rows}), ctx.clock.now())
    report.notes.extend(f"realm {realm_id}: {st.line()}" for realm_id, st in live.items())
    report.meta["pipeline"] = [st.to_json() for st in live.values()]
    out.table(report)


def _moved(rule: str) -> click.Command:
    @click.command(rule, hidden=True, add_help_option=False,
                   context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    def moved() -> None:
        raise InputError(f"`qbsync report {rule}` is now `qbsync rules {rule}`",
                         hint=f"run `qbsync rules {rule} --help`: the same list, with --format, -o and --bom")

    return moved


for _rule in ("inactive", "disappearing", "duplicates"):
    report_group.add_command(_moved(_rule))


def register(cli: click.Group) -> None:
    cli.add_command(report_group)
