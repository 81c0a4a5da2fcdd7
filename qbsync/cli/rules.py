"""`qbsync rules inactive | reactivate | disappearing`: findings from the cache as table, CSV or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click

from qbsync.cli.choices import choice
from qbsync.cli.context import CommandContext, with_context
from qbsync.cli.options import Output, column_pairs, describe_policy, policy_from, policy_options, with_output
from qbsync.csvfile import csv_text
from qbsync.errors import InputError
from qbsync.rules.findings import Finding

if TYPE_CHECKING:
    from qbsync.rules.disappearing.rank import DisappearingReport
    from qbsync.rules.policy import InactivePolicy

CSV_COLUMNS = ("customer_id", "display_name", "rule", "action", "score", "reason", "active", "sync_token")


@click.group("rules")
def rules_group() -> None:
    """Find inactive, reactivatable, disappearing and duplicate customers in the cache."""


# ---- findings, the same way for every rule ----

def render_findings(findings: Sequence[Finding], fmt: str, header: dict[str, Any], *,
                    bom: bool = False) -> str:
    """Findings as a table, CSV (one row each) or JSON (``header`` + findings)."""
    if fmt == "json":
        doc = dict(header, count=len(findings), findings=[f.as_dict() for f in findings])
        return json.dumps(doc, indent=2, default=str) + "\n"
    if fmt == "csv":
        return csv_text(CSV_COLUMNS, ([f.customer_id, f.display_name, f.rule, f.action, f.score, f.reason,
                                       f.active, f.sync_token] for f in findings), bom=bom)
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


def emit_findings(out: Output, findings: Sequence[Finding], header: dict[str, Any]) -> None:
    out.write(render_findings(findings, out.fmt, header, bom=out.bom), rows=len(findings))


def _header(ctx: CommandContext, rule: str, policy: InactivePolicy) -> dict[str, Any]:
    return {"rule": rule, "realm_id": ctx.realm_id, "as_of": ctx.as_of.isoformat(),
            "policy": describe_policy(policy)}


def _activity(ctx: CommandContext, policy: InactivePolicy) -> dict[str, Any]:
    from qbsync.rules.activity import load_activity

    return load_activity(ctx.engine, ctx.realm_id, ctx.as_of, policy.include_estimates)


AS_OF_HELP = "Judge as on DATE: nothing after it counts (default: today in the company's time zone)."


@rules_group.command("inactive")
@with_context(as_of=AS_OF_HELP)
@policy_options(window=False)
@with_output()
def inactive_cmd(ctx: CommandContext, out: Output, **kw: Any) -> None:
    """Active customers with no activity for longer than the threshold (balances go to collections)."""
    from qbsync.rules.inactive import find_inactive

    policy = policy_from(ctx.settings, kw)
    findings = find_inactive(_activity(ctx, policy), policy, ctx.as_of)
    header = _header(ctx, "inactive", policy)
    n_deact = sum(f.action == "deactivate" for f in findings)
    header["summary"] = (f"inactive as of {ctx.as_of.isoformat()}: {n_deact} to deactivate, "
                         f"{len(findings) - n_deact} to collect first (threshold {policy.days} days)")
    emit_findings(out, findings, header)


@rules_group.command("reactivate")
@with_context(as_of=AS_OF_HELP)
@policy_options()
@with_output()
def reactivate_cmd(ctx: CommandContext, out: Output, **kw: Any) -> None:
    """Customers inactive in QuickBooks that still have recent activity."""
    from qbsync.rules.inactive import find_reactivate

    policy = policy_from(ctx.settings, kw)
    findings = find_reactivate(_activity(ctx, policy), policy, ctx.as_of)
    header = _header(ctx, "reactivate", policy)
    window = policy.reactivate_days or "their inactive threshold of"
    header["summary"] = (f"reactivate as of {ctx.as_of.isoformat()}: {len(findings)} inactive customers "
                         f"with activity within {window} days")
    emit_findings(out, findings, header)


@rules_group.command("disappearing")
@with_context(as_of=AS_OF_HELP)
@policy_options(window=False)
@with_output()
@click.option("--holdout-days", type=click.IntRange(min=7),
              help="Backtest holdout in days (default: 3x the company's typical gap between purchases, "
                   "in weeks, 4-26, fitted to the history).")
@click.option("--top", type=click.IntRange(min=1), default=50, show_default=True, help="List this many.")
@click.option("--scorer", type=choice("qbsync.rules.disappearing.backtest", "SCORERS"),
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
def disappearing_cmd(ctx: CommandContext, out: Output, holdout_days: int | None, top: int, scorer: str | None,
                     rank_by: str, input_csv: Path | None, columns: tuple[str, ...], date_format: str | None,
                     **kw: Any) -> None:
    """Active customers slipping away, ranked by whichever model predicted this company's past best.

    Reads the cache, or with --input-csv any purchase log (a till's or web shop's export), so the
    backtest can be run on a history that never was in QuickBooks.
    """
    from qbsync.rules.disappearing.rank import find_disappearing

    policy = policy_from(ctx.settings, kw)
    if input_csv is not None:
        _disappearing_from_log(ctx, input_csv, columns, date_format, out, holdout_days, top, scorer, rank_by,
                               policy)
        return
    if columns or date_format:
        raise InputError("--columns and --date-format describe a purchase log", hint="add --input-csv FILE")
    report = find_disappearing(_activity(ctx, policy), policy, ctx.as_of, holdout_days=holdout_days, top=top,
                               scorer=scorer, rank_by=_rank_by(rank_by))
    header = _header(ctx, "disappearing", policy)
    header.update(_disappearing_header(report))
    emit_findings(out, report.findings, header)


def _disappearing_from_log(ctx: CommandContext, path: Path, columns: tuple[str, ...], date_format: str | None,
                           out: Output, holdout_days: int | None, top: int, scorer: str | None, rank_by: str,
                           policy: InactivePolicy) -> None:
    from qbsync.rules.disappearing.rank import find_disappearing
    from qbsync.rules.disappearing.sources import left_out, load_purchases

    if ctx.settings.sources.get("cache_url") == "command line" or ctx.settings.sources.get("realm") == \
            "command line":
        raise InputError("--input-csv reads a purchase log, not the cache", hint="drop --cache-url/--realm")
    ctx.reads_cache = False  # a file, not the cache: "today" is the company's by the setting, else local
    as_of = ctx.as_of if ctx.as_of_given else None
    log = load_purchases(path, column_pairs(columns, "date=InvoiceDate"), as_of=as_of,
                         date_format=date_format)
    for column in log.ignored:
        click.echo(f"note: {path.name}: column {left_out(column)} left out", err=True)
    if not log.activities or log.last_date is None:
        raise InputError(f"{path}: no purchases with a customer" + (" by --as-of" if as_of else ""),
                         hint="check --columns customer_id=... and date=..., and --as-of")
    day = as_of or log.last_date
    report = find_disappearing(log.activities, policy, day, holdout_days=holdout_days, top=top, scorer=scorer,
                               rank_by=_rank_by(rank_by), spend=log.spend)
    header: dict[str, Any] = {"rule": "disappearing", "source": str(path), "as_of": day.isoformat(),
                              "policy": describe_policy(policy)}
    header.update(_disappearing_header(report),
                  log={"rows": log.rows, "customers": len(log.activities),
                       "skipped_without_customer": log.skipped_no_customer, "after_as_of": log.after_as_of,
                       "ignored_columns": list(log.ignored)})
    emit_findings(out, report.findings, header)


def _rank_by(value: str) -> Literal["risk", "value"]:
    return "value" if value == "value" else "risk"


def _disappearing_header(report: DisappearingReport) -> dict[str, Any]:
    return {"summary": report.summary(), "scorer": report.scorer, "rank_by": report.rank_by,
            "backtest": report.backtest.as_dict(), "models": report.models, "candidates": report.candidates,
            "value_at_risk": f"{report.value_at_risk:.2f}"}


def register(cli: click.Group) -> None:
    cli.add_command(rules_group)
