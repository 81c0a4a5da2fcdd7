"""`qbsync writeback plan | apply | undo | log`: write the customer Active flag back to QuickBooks safely."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa
from sqlalchemy.orm import Session

from qbsync.cache.db import session_factory
from qbsync.cache.schema import open_cache, resolve_realm
from qbsync.cli.options import (
    as_of_option,
    cache_url_option,
    format_option,
    output_option,
    realm_option,
    write_output,
)
from qbsync.clock import Clock, SystemClock
from qbsync.errors import InputError, WritebackError
from qbsync.qbo.client import connect
from qbsync.qbo.gateway import QboGateway
from qbsync.settings import Settings, load_settings
from qbsync.writeback import render
from qbsync.writeback.apply import apply_plan
from qbsync.writeback.audit import audit_log, runs
from qbsync.writeback.engine import RunReport
from qbsync.writeback.plan import build_plan, load_plan, plans
from qbsync.writeback.sources import RULES, findings_for
from qbsync.writeback.undo import undo_run

FORMATS = click.Choice(["table", "csv", "json"])


def _clock() -> Clock:
    return SystemClock()


def _settings(realm: str | None, cache_url: str | None) -> Settings:
    return load_settings(overrides={"realm": realm, "cache_url": cache_url})


def _realm(settings: Settings, engine: sa.Engine) -> str:
    """--realm or the setting, checked against the cache; a cache with one company needs neither."""
    return resolve_realm(engine, settings.realm)


def _engine(settings: Settings) -> sa.Engine:
    # open_cache migrates an older cache (the write-back tables are in the migrations)
    return open_cache(settings.cache_url, existing=True)


def _connect(settings: Settings, realm_id: str, clock: Clock) -> QboGateway:
    """The live QuickBooks client for ``realm_id``, built from settings (tokens from its token store)."""
    return connect(settings, realm_id, clock=clock)


def _realm_and_cache(f: Any) -> Any:
    f = cache_url_option()(f)
    f = realm_option()(f)
    return f


@click.group("writeback")
def writeback_group() -> None:
    """Write customers' Active flag back to QuickBooks: plan, review, apply (dry run first), undo."""


@writeback_group.command("plan")
@click.option("--rule", type=click.Choice(RULES), required=True, help="Which rule's findings to plan.")
@as_of_option("Judge as of DATE (default today).")
@format_option(FORMATS)
@output_option()
@click.option("--policy", type=click.Path(dir_okay=False, path_type=Path),
              help="TOML file with a [rules.inactive] table.")
@click.option("--days", type=click.IntRange(min=1), help="Inactive after this many days.")
@click.option("--grace-days", type=click.IntRange(min=1), help="Leave new customers alone this long.")
@click.option("--reactivate-days", type=click.IntRange(min=1), help="Activity this recent reactivates.")
@click.option("--include-estimates/--no-include-estimates", default=None, help="Count estimates as activity.")
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Duplicates: match probability a pair needs (default 0.5, as `rules duplicates`).")
@click.option("--deactivate-at", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Duplicates: match probability a duplicate needs to be deactivated rather than listed "
                   "for a manual merge (default 0.9).")
@_realm_and_cache
def plan_cmd(rule: str, as_of: datetime | None, fmt: str, output: Path | None, policy: Path | None,
             days: int | None, grace_days: int | None, reactivate_days: int | None,
             include_estimates: bool | None, threshold: float | None, deactivate_at: float | None,
             realm: str | None, cache_url: str | None) -> None:
    """Turn a rule's findings into a reviewable plan saved in the cache (writes nothing to QuickBooks)."""
    settings = _settings(realm, cache_url)
    if rule != "duplicates" and (threshold is not None or deactivate_at is not None):
        raise InputError("--threshold and --deactivate-at are for --rule duplicates",
                         hint="drop them, or plan with --rule duplicates")
    engine = _engine(settings)
    realm_id, clock = _realm(settings, engine), _clock()
    day: date = as_of.date() if as_of else clock.now().date()
    out = findings_for(rule, engine, realm_id, day, policy_path=policy,
                       overrides={"days": days, "grace_days": grace_days, "reactivate_days": reactivate_days,
                                  "include_estimates": include_estimates, "threshold": threshold,
                                  "deactivate_at": deactivate_at})
    with session_factory(engine)() as session:
        summary = build_plan(session, clock, realm_id, rule, day, out.findings,
                             include_estimates=out.include_estimates, params=out.params)
    engine.dispose()
    write_output(render.render_plan(summary, fmt), output, announce=True)
    counts = summary.counts()
    click.echo(f"plan {summary.plan.id}: {counts.get('change', 0)} to change, "
               f"{counts.get('blocked', 0)} blocked, {counts.get('manual_merge', 0)} to merge by hand. "
               f"Review it, then `qbsync writeback apply {summary.plan.id}` (dry run), then --yes to write.",
               err=True)


def _finish(report: RunReport, fmt: str, output: Path | None) -> None:
    write_output(render.render_report(report, fmt), output, announce=True)
    click.echo(render.describe_report(report), err=True, nl=False)
    if report.interrupted:
        raise WritebackError(f"stopped before the end: {report.interrupted}",
                             hint="run the same command again; it re-reads everything and finishes the rest")
    failed = [i for i in report.items if i.outcome == "failed"]
    if failed:
        # A change QuickBooks refused must not look like success to cron.
        shown = "; ".join(f"{i.display_name} (Id {i.customer_id}): {i.reason}" for i in failed[:3])
        raise WritebackError(f"QuickBooks refused {len(failed)} change(s): {shown}",
                             hint="see the report above; fix them in QuickBooks, or make a new plan")


@contextmanager
def _with_gateway(realm: str | None, cache_url: str | None) -> Iterator[tuple[Clock, Session, QboGateway]]:
    """The clock, a cache session and the QuickBooks client of one command; all closed at the end."""
    settings = _settings(realm, cache_url)
    engine = _engine(settings)
    try:
        realm_id, clock = _realm(settings, engine), _clock()
        gateway = _connect(settings, realm_id, clock)
        try:
            with session_factory(engine)() as session:
                yield clock, session, gateway
        finally:
            close = getattr(gateway, "close", None)
            if callable(close):
                close()
    finally:
        engine.dispose()


@writeback_group.command("apply")
@click.argument("plan_id")
@click.option("--yes", is_flag=True, help="Really write to QuickBooks (default: dry run).")
@format_option(FORMATS)
@output_option("Write the report to FILE (atomically) instead of the terminal.")
@_realm_and_cache
def apply_cmd(plan_id: str, yes: bool, fmt: str, output: Path | None, realm: str | None,
              cache_url: str | None) -> None:
    """Re-read and re-check every customer of PLAN_ID, then write what still holds (needs --yes)."""
    with _with_gateway(realm, cache_url) as (clock, session, gateway):
        report = apply_plan(session, gateway, clock, plan_id, dry_run=not yes)
    _finish(report, fmt, output)


@writeback_group.command("show")
@click.argument("plan_id")
@format_option(FORMATS)
@output_option()
@click.option("--cache-url", "cache_url", help="Cache database URL (default: settings).")
def show_cmd(plan_id: str, fmt: str, output: Path | None, cache_url: str | None) -> None:
    """A saved plan again, as table, CSV or JSON, to review before `apply` (reads the cache only)."""
    engine = _engine(_settings(None, cache_url))
    try:
        with session_factory(engine)() as session:
            summary = load_plan(session, plan_id)
            text = render.render_plan(summary, fmt)
    finally:
        engine.dispose()
    write_output(text, output, announce=True)


@writeback_group.command("undo")
@click.argument("run_id")
@click.option("--yes", is_flag=True, help="Really write to QuickBooks (default: dry run).")
@format_option(FORMATS)
@output_option("Write the report to FILE (atomically) instead of the terminal.")
@_realm_and_cache
def undo_cmd(run_id: str, yes: bool, fmt: str, output: Path | None, realm: str | None,
             cache_url: str | None) -> None:
    """Put back the Active values RUN_ID changed, where Active is still what it set (needs --yes)."""
    with _with_gateway(realm, cache_url) as (clock, session, gateway):
        report = undo_run(session, gateway, clock, run_id, dry_run=not yes)
    _finish(report, fmt, output)


@writeback_group.command("log")
@click.option("--run", "run_id", help="Only this run.")
@click.option("--customer", "customer_id", help="Only this customer Id.")
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True, help="Last N events.")
@click.option("--runs", "show_runs", is_flag=True, help="List runs instead of events.")
@click.option("--plans", "show_plans", is_flag=True, help="List plans instead of events.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@_realm_and_cache
def log_cmd(run_id: str | None, customer_id: str | None, limit: int, show_runs: bool, show_plans: bool,
            as_json: bool, realm: str | None, cache_url: str | None) -> None:
    """The write-back audit log: every check, attempt and answer (or --runs / --plans)."""
    settings = _settings(realm, cache_url)
    engine = _engine(settings)
    if realm:
        resolve_realm(engine, realm)  # an unknown realm is an error, not an empty log
    with session_factory(engine)() as session:
        if run_id and run_id not in {r.id for r in runs(session, None)}:
            engine.dispose()
            raise InputError(f"no write-back run '{run_id}' in this cache",
                             hint="list runs with `qbsync writeback log --runs`")
        if show_plans:
            rows: list[dict[str, Any]] = [
                {"plan_id": p.id, "realm_id": p.realm_id, "rule": p.rule, "as_of": p.as_of.isoformat(),
                 "created_at": p.created_at.isoformat()} for p in plans(session, settings.realm)]
            columns: tuple[str, ...] = ("plan_id", "realm_id", "rule", "as_of", "created_at")
        elif show_runs:
            rows = render.run_rows(runs(session, settings.realm))
            columns = ("run_id", "kind", "plan_id", "undo_of", "started_at", "status", "summary")
        else:
            rows = render.log_rows(audit_log(session, realm_id=settings.realm, run_id=run_id,
                                             customer_id=customer_id, limit=limit))
            columns = ("at", "run_id", "customer_id", "display_name", "event", "attempt", "sync_token_sent",
                       "sync_token_after", "reason")
    engine.dispose()
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
    else:
        click.echo(render.table(rows, columns, width=80), nl=False)


def register(cli: click.Group) -> None:
    cli.add_command(writeback_group)
