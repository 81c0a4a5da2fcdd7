"""`qbsync rules inactive | reactivate | disappearing`: findings from the cache as table, CSV or JSON."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import click

from qbsync.cache.schema import open_cache, resolve_realm
from qbsync.cli.options import (
    as_of_option,
    cache_url_option,
    column_pairs,
    format_option,
    output_option,
    realm_option,
)
from qbsync.cli.options import write_output as write_output
from qbsync.csvfile import csv_text
from qbsync.errors import InputError
from qbsync.rules.activity import load_activity
from qbsync.rules.disappearing.backtest import SCORERS
from qbsync.rules.disappearing.rank import DisappearingReport, find_disappearing
from qbsync.rules.disappearing.sources import load_purchases
from qbsync.rules.findings import Finding
from qbsync.rules.inactive import find_inactive, find_reactivate
from qbsync.rules.policy import InactivePolicy, load_policy
from qbsync.settings import load_settings

FORMATS = ("table", "csv", "json")
CSV_COLUMNS = ("customer_id", "display_name", "rule", "action", "score", "reason", "active", "sync_token")


@click.group("rules")
def rules_group() -> None:
    """Find inactive, reactivatable, disappearing and duplicate customers in the cache."""


# ---- shared plumbing (the duplicates command may reuse emit_findings / write_output) ----

def render_findings(findings: Sequence[Finding], fmt: str, header: dict[str, Any]) -> str:
    """Findings as a table, CSV (one row each) or JSON (``header`` + findings)."""
    if fmt == "json":
        doc = dict(header, count=len(findings), findings=[f.as_dict() for f in findings])
        return json.dumps(doc, indent=2, default=str) + "\n"
    if fmt == "csv":
        return csv_text(CSV_COLUMNS, ([f.customer_id, f.display_name, f.rule, f.action, f.score, f.reason,
                                       f.active, f.sync_token] for f in findings))
    lines = [str(header["summary"])] if header.get("summary") else []
    if not findings:
        return "\n".join([*lines, "no findings"]) + "\n"
    name_w = min(40, max(len("Customer"), *(len(f.display_name) for f in findings)))
    id_w = max(len("Id"), *(len(f.customer_id) for f in findings))
    lines.append(f"{'Id':<{id_w}}  {'Customer':<{name_w}}  {'Action':<11}  Reason")
    for f in findings:
        name = f.display_name if len(f.display_name) <= name_w else f.display_name[: name_w - 1] + "…"
        lines.append(f"{f.customer_id:<{id_w}}  {name:<{name_w}}  {f.action:<11}  {f.reason}")
    lines.append(f"{len(findings)} finding{'s' if len(findings) != 1 else ''}")
    return "\n".join(lines) + "\n"


_realm = resolve_realm


def _pairs(values: tuple[str, ...], option: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        key, sep, days = value.rpartition("=")
        if not sep or not key.strip() or not days.strip().isdigit() or int(days) < 1:
            raise InputError(f"{option} '{value}' is not KEY=DAYS", hint=f"for example {option} 3=730")
        out[key.strip()] = int(days)
    return out


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        cache_url_option("--cache"),
        realm_option(),
        as_of_option("Judge as on DATE: nothing after it counts (default today)."),
        click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
                     help="TOML file with a [rules.inactive] table (default: the settings' config file)."),
        click.option("--days", type=click.IntRange(min=1),
                     help="Inactive after this many days (default 365)."),
        click.option("--type-days", multiple=True, metavar="TYPE_ID=DAYS",
                     help="Threshold for a customer type (repeatable)."),
        click.option("--location-days", multiple=True, metavar="LOCATION=DAYS",
                     help="Threshold for a location, by Id or name (repeatable)."),
        click.option("--grace-days", type=click.IntRange(min=1),
                     help="Spare customers without transactions this long after creation (default 90)."),
        click.option("--exclude", multiple=True, metavar="ID_OR_GLOB",
                     help="Never flag this customer Id or name pattern, e.g. 'Internal*' (repeatable)."),
        click.option("--estimates/--no-estimates", "estimates", default=None,
                     help="Count estimates as activity (default: no, or the config file)."),
        format_option(FORMATS),
        output_option(),
    ]
    for option in reversed(options):
        func = option(func)
    return func


class _Context:
    def __init__(self, cache_url: str | None, realm: str | None, as_of: datetime | None,
                 config_path: Path | None, days: int | None, type_days: tuple[str, ...],
                 location_days: tuple[str, ...], grace_days: int | None, exclude: tuple[str, ...],
                 estimates: bool | None, reactivate_days: int | None = None) -> None:
        settings = load_settings({"cache_url": cache_url, "realm": realm})
        self.as_of: date = as_of.date() if as_of else date.today()
        self.policy = _policy(settings.config_path, config_path, days, type_days, location_days, grace_days,
                              exclude, estimates, reactivate_days)
        self.engine = open_cache(settings.cache_url, existing=True)
        self.realm_id = _realm(self.engine, settings.realm)

    def activity(self) -> dict[str, Any]:
        return load_activity(self.engine, self.realm_id, self.as_of, self.policy.include_estimates)

    def header(self, rule: str) -> dict[str, Any]:
        return {"rule": rule, "realm_id": self.realm_id, "as_of": self.as_of.isoformat(),
                "policy": _describe(self.policy)}


def _policy(default_config: Path | None, config_path: Path | None, days: int | None,
            type_days: tuple[str, ...], location_days: tuple[str, ...], grace_days: int | None,
            exclude: tuple[str, ...], estimates: bool | None, reactivate_days: int | None) -> InactivePolicy:
    """The config file's [rules.inactive] policy with the command line's overrides."""
    policy = load_policy(config_path or default_config)
    ids = frozenset(e for e in exclude if e.isdigit())
    globs = tuple(e for e in exclude if not e.isdigit())
    return policy.with_overrides(
        days=days, grace_days=grace_days, include_estimates=estimates, reactivate_days=reactivate_days,
        type_days={**policy.type_days, **_pairs(type_days, "--type-days")} if type_days else None,
        location_days=({**policy.location_days, **_pairs(location_days, "--location-days")}
                       if location_days else None),
        exclude_ids=policy.exclude_ids | ids if ids else None,
        exclude_names=policy.exclude_names + globs if globs else None,
    )


def _describe(p: InactivePolicy) -> dict[str, Any]:
    return {"days": p.days, "grace_days": p.grace_days, "reactivate_days": p.reactivate_days,
            "include_estimates": p.include_estimates, "type_days": dict(p.type_days),
            "location_days": dict(p.location_days), "exclude_ids": sorted(p.exclude_ids),
            "exclude_names": list(p.exclude_names)}


@rules_group.command("inactive")
@_common
def inactive_cmd(fmt: str, output: Path | None, **kw: Any) -> None:
    """Active customers with no activity for longer than the threshold (balances go to collections)."""
    ctx = _Context(**kw)
    findings = find_inactive(ctx.activity(), ctx.policy, ctx.as_of)
    header = ctx.header("inactive")
    n_deact = sum(f.action == "deactivate" for f in findings)
    header["summary"] = (f"inactive as of {ctx.as_of.isoformat()}: {n_deact} to deactivate, "
                         f"{len(findings) - n_deact} to collect first (threshold {ctx.policy.days} days)")
    write_output(render_findings(findings, fmt, header), output)


@rules_group.command("reactivate")
@_common
@click.option("--window", "reactivate_days", type=click.IntRange(min=1),
              help="Activity within this many days makes an inactive customer due back (default: threshold).")
def reactivate_cmd(fmt: str, output: Path | None, **kw: Any) -> None:
    """Customers inactive in QuickBooks that still have recent activity."""
    ctx = _Context(**kw)
    findings = find_reactivate(ctx.activity(), ctx.policy, ctx.as_of)
    header = ctx.header("reactivate")
    window = ctx.policy.reactivate_days or "their inactive threshold of"
    header["summary"] = (f"reactivate as of {ctx.as_of.isoformat()}: {len(findings)} inactive customers "
                         f"with activity within {window} days")
    write_output(render_findings(findings, fmt, header), output)


@rules_group.command("disappearing")
@_common
@click.option("--holdout-days", type=click.IntRange(min=7),
              help="Backtest holdout in days (default: 3x the company's typical gap between purchases, "
                   "in weeks, 4-26, fitted to the history).")
@click.option("--top", type=click.IntRange(min=1), default=50, show_default=True, help="List this many.")
@click.option("--scorer", type=click.Choice(SCORERS),
              help="Rank by this scorer instead of the backtest's winner (the AUC is still reported).")
@click.option("--rank-by", type=click.Choice(["risk", "value"]), default="risk", show_default=True,
              help="risk: chance of losing the customer; value: that chance x a year of its expected spend.")
@click.option("--input-csv", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read a purchase log (a customer and a date per row, optionally amount and name) "
                   "instead of the cache; --as-of defaults to its last date.")
@click.option("--columns", multiple=True, metavar="FIELD=COLUMN",
              help="Map a log column to customer_id, date, amount or name (repeatable).")
@click.option("--date-format", metavar="STRFTIME",
              help="The log's date format, e.g. '%d/%m/%Y %H:%M' (default: ISO dates or YYYYMMDD).")
def disappearing_cmd(fmt: str, output: Path | None, holdout_days: int | None, top: int, scorer: str | None,
                     rank_by: str, input_csv: Path | None, columns: tuple[str, ...], date_format: str | None,
                     **kw: Any) -> None:
    """Active customers slipping away, ranked by whichever model predicted this company's past best.

    Reads the cache, or with --input-csv any purchase log (a till's or web shop's export), so the
    backtest can be run on a history that never was in QuickBooks.
    """
    if input_csv is not None:
        _disappearing_from_log(input_csv, columns, date_format, fmt, output, holdout_days, top, scorer,
                               rank_by, **kw)
        return
    if columns or date_format:
        raise InputError("--columns and --date-format describe a purchase log", hint="add --input-csv FILE")
    ctx = _Context(**kw)
    report = find_disappearing(ctx.activity(), ctx.policy, ctx.as_of, holdout_days=holdout_days, top=top,
                               scorer=scorer, rank_by=_rank_by(rank_by))
    header = ctx.header("disappearing")
    header.update(_disappearing_header(report))
    write_output(render_findings(report.findings, fmt, header), output)


def _disappearing_from_log(path: Path, columns: tuple[str, ...], date_format: str | None, fmt: str,
                           output: Path | None, holdout_days: int | None, top: int, scorer: str | None,
                           rank_by: str, cache_url: str | None, realm: str | None, as_of: datetime | None,
                           config_path: Path | None, days: int | None, type_days: tuple[str, ...],
                           location_days: tuple[str, ...], grace_days: int | None, exclude: tuple[str, ...],
                           estimates: bool | None) -> None:
    if cache_url or realm:
        raise InputError("--input-csv reads a purchase log, not the cache", hint="drop --cache-url/--realm")
    settings = load_settings({})
    policy = _policy(settings.config_path, config_path, days, type_days, location_days, grace_days, exclude,
                     estimates, None)
    log = load_purchases(path, column_pairs(columns, "date=InvoiceDate"),
                         as_of=as_of.date() if as_of else None, date_format=date_format)
    if not log.activities or log.last_date is None:
        raise InputError(f"{path}: no purchases with a customer" + (" by --as-of" if as_of else ""),
                         hint="check --columns customer_id=... and date=..., and --as-of")
    day = as_of.date() if as_of else log.last_date
    report = find_disappearing(log.activities, policy, day, holdout_days=holdout_days, top=top, scorer=scorer,
                               rank_by=_rank_by(rank_by), spend=log.spend)
    header: dict[str, Any] = {"rule": "disappearing", "source": str(path), "as_of": day.isoformat(),
                              "policy": _describe(policy)}
    header.update(_disappearing_header(report),
                  log={"rows": log.rows, "customers": len(log.activities),
                       "skipped_without_customer": log.skipped_no_customer, "after_as_of": log.after_as_of})
    write_output(render_findings(report.findings, fmt, header), output)


def _rank_by(value: str) -> Literal["risk", "value"]:
    return "value" if value == "value" else "risk"


def _disappearing_header(report: DisappearingReport) -> dict[str, Any]:
    return {"summary": report.summary(), "scorer": report.scorer, "rank_by": report.rank_by,
            "backtest": report.backtest.as_dict(), "models": report.models, "candidates": report.candidates,
            "value_at_risk": f"{report.value_at_risk:.2f}"}


def register(cli: click.Group) -> None:
    cli.add_command(rules_group)
