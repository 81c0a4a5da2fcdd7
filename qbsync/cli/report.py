"""`qbsync report ...`: best, cross, aging, payments, statement, baddebt, health and the rules' lists."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa

from qbsync.cache.schema import open_cache as open_cache_engine
from qbsync.cache.schema import resolve_realm
from qbsync.cli.options import (
    DATE,
    as_of_option,
    cache_url_option,
    format_option,
    output_option,
    realm_option,
)
from qbsync.clock import Clock, SystemClock
from qbsync.reports import aging, baddebt, best, cross, health, payments, render, rulelists, statement
from qbsync.reports.source import Period, default_period
from qbsync.reports.table import Table
from qbsync.settings import load_settings


def clock() -> Clock:
    """The CLI's clock (tests replace this function)."""
    return SystemClock()


@dataclass
class Ctx:
    engine: sa.Engine
    realm_id: str
    as_of: date
    clock: Clock


def open_cache(realm: str | None, cache_url: str | None, as_of: datetime | None) -> Ctx:
    """Engine, realm and as-of date from flags and settings; a cache with one realm needs no --realm."""
    settings = load_settings(overrides={"realm": realm, "cache_url": cache_url})
    engine = open_cache_engine(settings.cache_url, existing=True)
    realm_id = resolve_realm(engine, settings.realm)
    now = clock()
    return Ctx(engine, realm_id, as_of.date() if as_of else now.now().date(), now)


def cache_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = cache_url_option()(f)
    f = realm_option()(f)
    f = as_of_option()(f)
    return f


def output_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--bom", is_flag=True, help="Start CSV with a byte-order mark (for Excel).")(f)
    f = output_option()(f)
    f = format_option(render.FORMATS)(f)
    return f


def period_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--to", "to_", type=DATE, help="Period end (default: --as-of).")(f)
    f = click.option("--from", "from_", type=DATE, help="Period start (default: 365 days before the end).")(f)
    return f


def reconcile_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--reconcile", is_flag=True,
                        help=f"Also fetch QuickBooks' {what} for the same date and parameters and compare, "
                             "customer by customer; exit 7 when any figure differs.")


def limit_option(default: int | None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--limit", type=click.IntRange(min=1), default=default, show_default=True,
                        help="Show at most N rows (totals still cover everything).")


def period_of(ctx: Ctx, from_: datetime | None, to_: datetime | None) -> Period:
    return default_period(ctx.as_of, from_.date() if from_ else None, to_.date() if to_ else None)


def emit(table: Table, fmt: str, output: Path | None, bom: bool = False) -> None:
    if output is None:
        click.echo(render.render(table, fmt, bom=bom), nl=False)
        return
    render.write(table, fmt, output, bom=bom)
    click.echo(f"wrote {output} ({len(table.rows)} rows)", err=True)


@click.group("report")
def report_group() -> None:
    """Customer reports over the cache, each as a table, CSV or JSON, for any period and --as-of date."""


@report_group.command("best")
@reconcile_option("Sales by Customer Summary")
@cache_options
@period_options
@output_options
@limit_option(50)
def best_cmd(reconcile: bool, as_of: datetime | None, realm: str | None, cache_url: str | None,
             from_: datetime | None, to_: datetime | None, fmt: str, output: Path | None, bom: bool,
             limit: int | None) -> None:
    """Best customers by sales in the period (QuickBooks' Sales by Customer): share, cumulative (Pareto)
    share, change vs before."""
    ctx = open_cache(realm, cache_url, as_of)
    period = period_of(ctx, from_, to_)
    report = best.best(ctx.engine, ctx.realm_id, ctx.as_of, period)
    emit(best.table(report, limit), fmt, output, bom)
    if reconcile:
        from qbsync.cli.reconcile import check_after
        from qbsync.reports import reconcile as rec

        check_after(ctx, cache_url, lambda fetch: [rec.check_sales(
            fetch, report.current, report.names, period, ctx.as_of)])


@report_group.command("cross")
@click.option("--by", type=click.Choice(["location", "class"]), default="location", show_default=True)
@cache_options
@period_options
@output_options
@limit_option(50)
def cross_cmd(by: str, as_of: datetime | None, realm: str | None, cache_url: str | None,
              from_: datetime | None, to_: datetime | None, fmt: str, output: Path | None, bom: bool,
              limit: int | None) -> None:
    """Spend of customers x locations (or classes), with totals on both margins."""
    ctx = open_cache(realm, cache_url, as_of)
    report = cross.cross(ctx.engine, ctx.realm_id, ctx.as_of, period_of(ctx, from_, to_),
                         "class" if by == "class" else "location")
    emit(cross.table(report, limit), fmt, output, bom)


def aging_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """QuickBooks' aging options, under the names of its Reports API parameters."""
    f = click.option("--aging-method", type=click.Choice(["report-date", "current"]), default="report-date",
                     show_default=True,
                     help="report-date: payments dated up to --as-of; current: every payment so far.")(f)
    f = click.option("--num-periods", type=click.IntRange(min=1), default=4, show_default=True,
                     help="Number of aging periods (the last is open-ended).")(f)
    f = click.option("--aging-period", type=click.IntRange(min=1), default=30, show_default=True,
                     help="Days per aging period.")(f)
    return f


def aging_params(aging_period: int, num_periods: int, aging_method: str) -> aging.AgingParams:
    from qbsync.reports.receivables import aging_method as method_of

    return aging.AgingParams(aging_period, num_periods, method_of(aging_method))


@report_group.command("aging")
@click.option("--detail", is_flag=True, help="One row per open transaction (A/R Aging Detail).")
@reconcile_option("A/R Aging Summary (or Detail)")
@aging_options
@cache_options
@output_options
@limit_option(None)
def aging_cmd(detail: bool, reconcile: bool, aging_period: int, num_periods: int, aging_method: str,
              as_of: datetime | None, realm: str | None, cache_url: str | None, fmt: str, output: Path | None,
              bom: bool, limit: int | None) -> None:
    """A/R aging as QuickBooks' A/R Aging Summary (or --detail): open invoices and, as negative amounts,
    unapplied payments and credits per customer, by days past due; the total is what customers owe."""
    ctx = open_cache(realm, cache_url, as_of)
    report = aging.aging(ctx.engine, ctx.realm_id, ctx.as_of, aging_params(aging_period, num_periods,
                                                                            aging_method))
    emit((aging.detail_table if detail else aging.table)(report, limit), fmt, output, bom)
    if reconcile:
        from qbsync.cli.reconcile import check_after
        from qbsync.reports import reconcile as rec

        check = rec.check_aging_detail if detail else rec.check_aging
        check_after(ctx, cache_url, lambda fetch: [check(fetch, report)])


@report_group.command("payments")
@click.option("--grace-days", type=click.IntRange(min=0), default=5, show_default=True,
              help="Paid this many days after due still counts as on time.")
@click.option("--chronic-share", type=float, default=0.5, show_default=True,
              help="Share of late invoices from which a customer is chronically late.")
@click.option("--large-share", type=float, default=0.2, show_default=True,
              help="Top share of buyers by sales in the period that count as large accounts.")
@click.option("--long-term-days", type=click.IntRange(min=1), default=180, show_default=True,
              help="Owing on an invoice more than this many days past due makes a long-term debtor.")
@cache_options
@period_options
@output_options
@limit_option(None)
def payments_cmd(grace_days: int, chronic_share: float, large_share: float, long_term_days: int,
                 as_of: datetime | None,
                 realm: str | None, cache_url: str | None, from_: datetime | None, to_: datetime | None,
                 fmt: str, output: Path | None, bom: bool, limit: int | None) -> None:
    """Payment behaviour: days to pay, days late, share late, class per customer, large vs small accounts."""
    ctx = open_cache(realm, cache_url, as_of)
    rules = payments.PaymentRules(grace_days=grace_days, chronic_share=Decimal(str(chronic_share)),
                                  large_share=Decimal(str(large_share)), long_term_days=long_term_days)
    report = payments.payments(ctx.engine, ctx.realm_id, ctx.as_of, period_of(ctx, from_, to_), rules)
    emit(payments.table(report, limit), fmt, output, bom)


@report_group.command("statement")
@click.argument("customer", required=False)
@click.option("--kind", type=click.Choice(statement.KINDS), default="balance-forward", show_default=True,
              help="QuickBooks' statement type.")
@click.option("--from", "from_", type=DATE,
              help="Start date (balance forward, transaction); earlier activity is the balance forward.")
@click.option("--all", "batch", is_flag=True, help="A statement for every customer with --balance.")
@click.option("--balance", type=click.Choice(statement.STATUSES), default="open", show_default=True,
              help="With --all: customers with an open balance, something overdue, or any (all).")
@click.option("--open-item-days", type=click.IntRange(min=1), default=statement.OPEN_ITEM_DAYS,
              show_default=True, help="Open item statements list transactions of the last N days.")
@reconcile_option("Customer Balance Summary")
@cache_options
@output_options
def statement_cmd(customer: str | None, kind: str, from_: datetime | None, batch: bool, balance: str,
                  open_item_days: int, reconcile: bool, as_of: datetime | None, realm: str | None,
                  cache_url: str | None, fmt: str, output: Path | None, bom: bool) -> None:
    """Customer statements as QuickBooks makes them (CUSTOMER: Id or exact name, or --all for a batch);
    jobs billed with their parent are on the parent's statement."""
    from qbsync.errors import InputError

    if batch == (customer is not None):
        raise InputError("give one CUSTOMER or --all", hint="e.g. qbsync report statement 42, or --all")
    ctx = open_cache(realm, cache_url, as_of)
    start = from_.date() if from_ else None
    if customer is not None:
        st = statement.statement(ctx.engine, ctx.realm_id, customer, ctx.as_of, start, kind, open_item_days)
        emit(statement.table(st), fmt, output, bom)
        sts = [st]
    else:
        sts = statement.statements(ctx.engine, ctx.realm_id, ctx.as_of, start, kind, balance, open_item_days)
        if fmt == "table" and output is None:
            for st in sts:
                emit(statement.table(st), fmt, None)
                click.echo("")
            click.echo(f"{len(sts)} statements")
        else:
            emit(statement.batch_table(sts, statement.kind_of(kind), ctx.as_of), fmt, output, bom)
    if reconcile:
        from qbsync.cli.reconcile import statement_check

        statement_check(ctx, cache_url, sts, ctx.as_of)


@report_group.command("baddebt")
@click.option("--min-days", type=click.IntRange(min=1), default=90, show_default=True,
              help="Invoices more than this many days past due.")
@click.option("--quiet-days", type=click.IntRange(min=0), default=90, show_default=True,
              help="No purchase and no payment for this many days.")
@cache_options
@output_options
@limit_option(None)
def baddebt_cmd(min_days: int, quiet_days: int, as_of: datetime | None, realm: str | None,
                cache_url: str | None, fmt: str, output: Path | None, bom: bool, limit: int | None) -> None:
    """Bad-debt candidates for a write-off review: quiet customers with invoices open past 90/180 days."""
    ctx = open_cache(realm, cache_url, as_of)
    rows = baddebt.baddebt(ctx.engine, ctx.realm_id, ctx.as_of, min_days=min_days, quiet_days=quiet_days)
    emit(baddebt.table(rows, ctx.as_of, limit), fmt, output, bom)


@report_group.command("health")
@click.option("--stale-hours", type=click.IntRange(min=1), default=26, show_default=True)
@click.option("--cache-url", help="Cache database URL (default: settings).")
@click.option("--realm", help="Only this realm.")
@output_options
def health_cmd(stale_hours: int, cache_url: str | None, realm: str | None, fmt: str, output: Path | None,
               bom: bool) -> None:
    """Sync health per realm and entity: last success, age, rows, last error."""
    from datetime import timedelta

    settings = load_settings(overrides={"cache_url": cache_url})
    engine = open_cache_engine(settings.cache_url, existing=True)
    if realm:
        resolve_realm(engine, realm)  # an unknown realm is an error, not an empty table
    now = clock()
    rows = health.health(engine, now, realm or settings.realm, timedelta(hours=stale_hours))
    report = health.table(rows, now.now())
    from qbsync.fleet.status import fleet_status  # per company: last event, queue, last sync, lag

    live = fleet_status(engine, sorted({r.realm_id for r in rows}), now.now())
    report.notes.extend(f"realm {realm_id}: {st.line()}" for realm_id, st in live.items())
    report.meta["pipeline"] = [st.to_json() for st in live.values()]
    emit(report, fmt, output, bom)


def _rule_command(rule: str) -> click.Command:
    @click.command(rule)
    @click.option("--policy", type=click.Path(dir_okay=False, path_type=Path),
                  help="TOML policy file of the rules (thresholds per type and location).")
    @click.option("--days", type=click.IntRange(min=1), help="Inactive after this many days.")
    @cache_options
    @output_options
    @limit_option(None if rule != "disappearing" else 50)
    def command(policy: Path | None, days: int | None, as_of: datetime | None, realm: str | None,
                cache_url: str | None, fmt: str, output: Path | None, bom: bool, limit: int | None) -> None:
        ctx = open_cache(realm, cache_url, as_of)
        overrides = {"days": days}
        if rule == "inactive":
            rl = rulelists.inactive(ctx.engine, ctx.realm_id, ctx.as_of, policy_path=policy,
                                    overrides=overrides)
        elif rule == "disappearing":
            rl = rulelists.disappearing(ctx.engine, ctx.realm_id, ctx.as_of, top=limit, policy_path=policy,
                                        overrides=overrides)
        else:
            rl = rulelists.duplicates(ctx.engine, ctx.realm_id, ctx.as_of)
        emit(rulelists.table(rl, limit), fmt, output, bom)

    command.help = {"inactive": "Customers with no activity past the threshold (the inactive rule).",
                    "disappearing": "Active customers slipping away, ranked by the backtested score.",
                    "duplicates": "Customers that look like the same person or company twice."}[rule]
    return command


for _rule in ("inactive", "disappearing", "duplicates"):
    report_group.add_command(_rule_command(_rule))


def register(cli: click.Group) -> None:
    cli.add_command(report_group)
