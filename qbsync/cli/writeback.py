"""`qbsync writeback plan | apply | undo | log`: write the customer Active flag back to QuickBooks safely."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from qbsync.cli.context import CommandContext, with_context
from qbsync.cli.options import Output, describe_policy, policy_from, policy_options, with_output
from qbsync.errors import InputError, WritebackError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from qbsync.qbo.gateway import QboGateway
    from qbsync.writeback.engine import RunReport

#: The rules a plan can come from (as in qbsync.writeback.sources, which the tests check).
RULES = ("inactive", "reactivate", "duplicates")
_F = TypeVar("_F", bound=Callable[..., Any])


@click.group("writeback")
def writeback_group() -> None:
    """Write customers' Active flag back to QuickBooks: plan, review, apply (dry run first), undo."""


@writeback_group.command("plan")
@click.option("--rule", type=click.Choice(RULES), required=True, help="Which rule's findings to plan.")
@with_context(as_of="Judge as of DATE (default: today in the company's time zone).")
@policy_options()
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Duplicates: match probability a pair needs (default 0.5, as `rules duplicates`).")
@click.option("--deactivate-at", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              help="Duplicates: match probability a duplicate needs to be deactivated rather than listed "
                   "for a manual merge (default 0.9).")
@click.option("--max-cluster", type=click.IntRange(min=2),
              help="Duplicates: largest cluster allowed (default 20, as `rules duplicates`).")
@click.option("--country", help="Duplicates: country of phones whose address names none (default: the "
                                "company's).")
@with_output()
def plan_cmd(ctx: CommandContext, rule: str, threshold: float | None, deactivate_at: float | None,
             max_cluster: int | None, country: str | None, out: Output, **kw: Any) -> None:
    """Turn a rule's findings into a reviewable plan saved in the cache (writes nothing to QuickBooks).

    The inactive and reactivate rules take the same policy options as `qbsync rules`, and read the
    same [rules.inactive] table of the config file (or --policy FILE).
    """
    from qbsync.writeback import render
    from qbsync.writeback.plan import build_plan
    from qbsync.writeback.sources import findings_for

    shaping = {"threshold": threshold, "deactivate_at": deactivate_at, "max_cluster": max_cluster,
               "country": country}
    if rule != "duplicates" and any(v is not None for v in shaping.values()):
        raise InputError("--threshold, --deactivate-at, --max-cluster and --country are for --rule "
                         "duplicates", hint="drop them, or plan with --rule duplicates")
    policy_path = kw.get("policy_path")
    policy = policy_from(ctx.settings, kw)
    found = findings_for(rule, ctx.engine, ctx.realm_id, ctx.as_of, policy=policy, policy_path=policy_path,
                         overrides=shaping)
    if rule != "duplicates":
        found.params.update(policy=describe_policy(policy),
                            policy_file=str(policy_path or ctx.settings.config_path or "") or None)
    with ctx.session() as session:
        summary = build_plan(session, ctx.clock, ctx.realm_id, rule, ctx.as_of, found.findings,
                             include_estimates=found.include_estimates, params=found.params)
    out.write(render.render_plan(summary, out.fmt, bom=out.bom), rows=len(summary.items))
    counts = summary.counts()
    click.echo(f"plan {summary.plan.id}: {counts.get('change', 0)} to change, "
               f"{counts.get('blocked', 0)} blocked, {counts.get('manual_merge', 0)} to merge by hand. "
               f"Review it, then `qbsync writeback apply {summary.plan.id}` (dry run), then --yes to write.",
               err=True)


def _finish(report: RunReport, out: Output) -> None:
    from qbsync.writeback import render

    out.write(render.render_report(report, out.fmt, bom=out.bom), rows=len(report.items))
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


def _write(ctx: CommandContext, out: Output, run: Callable[[Session, QboGateway], RunReport]) -> None:
    """``run`` with a cache session and the QuickBooks client (both closed at the end), then its report
    shown."""
    gateway = ctx.connect(ctx.realm_id)
    try:
        with ctx.session() as session:
            report = run(session, gateway)
    finally:
        close = getattr(gateway, "close", None)
        if callable(close):
            close()
    _finish(report, out)


REPORT_HELP = "Write the report to FILE (atomically) instead of the terminal."


def _writes(command: _F) -> _F:
    """What apply and undo take besides their id: --yes (a dry run without it), the context, -o."""
    command = with_output(output_help=REPORT_HELP)(with_context(as_of=False)(command))
    return click.option("--yes", is_flag=True, help="Really write to QuickBooks (default: dry run).")(command)


@writeback_group.command("apply")
@click.argument("plan_id")
@_writes
def apply_cmd(ctx: CommandContext, plan_id: str, yes: bool, out: Output) -> None:
    """Re-read and re-check every customer of PLAN_ID, then write what still holds (needs --yes)."""
    from qbsync.writeback.apply import apply_plan

    _write(ctx, out, lambda session, gateway: apply_plan(session, gateway, ctx.clock, plan_id,
                                                         dry_run=not yes))


@writeback_group.command("show")
@click.argument("plan_id")
@with_context(realm=False, as_of=False)
@with_output()
def show_cmd(ctx: CommandContext, plan_id: str, out: Output) -> None:
    """A saved plan again, as table, CSV or JSON, to review before `apply` (reads the cache only)."""
    from qbsync.writeback import render
    from qbsync.writeback.plan import load_plan

    with ctx.session() as session:
        summary = load_plan(session, plan_id)
        text = render.render_plan(summary, out.fmt, bom=out.bom)
    out.write(text, rows=len(summary.items))


@writeback_group.command("undo")
@click.argument("run_id")
@_writes
def undo_cmd(ctx: CommandContext, run_id: str, yes: bool, out: Output) -> None:
    """Put back the Active values RUN_ID changed, where Active is still what it set (needs --yes)."""
    from qbsync.writeback.undo import undo_run

    _write(ctx, out, lambda session, gateway: undo_run(session, gateway, ctx.clock, run_id, dry_run=not yes))


LOG_COLUMNS = ("at", "run_id", "customer_id", "display_name", "event", "attempt", "sync_token_sent",
               "sync_token_after", "reason")


@writeback_group.command("log")
@click.option("--run", "run_id", help="Only this run.")
@click.option("--customer", "customer_id", help="Only this customer Id.")
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True, help="Last N events.")
@click.option("--runs", "show_runs", is_flag=True, help="List runs instead of events.")
@click.option("--plans", "show_plans", is_flag=True, help="List plans instead of events.")
@with_context(realm="Only this company (realm) Id (default: the realm setting, else every company).",
              as_of=False)
@with_output(json_alias=True)
def log_cmd(ctx: CommandContext, run_id: str | None, customer_id: str | None, limit: int, show_runs: bool,
            show_plans: bool, out: Output) -> None:
    """The write-back audit log: every check, attempt and answer (or --runs / --plans)."""
    from qbsync.writeback import render
    from qbsync.writeback.audit import audit_log, runs
    from qbsync.writeback.plan import plans

    realm = ctx.check_realm()  # an unknown realm is an error, not an empty log
    with ctx.session() as session:
        if run_id and run_id not in {r.id for r in runs(session, None)}:
            raise InputError(f"no write-back run '{run_id}' in this cache",
                             hint="list runs with `qbsync writeback log --runs`")
        if show_plans:
            rows: list[dict[str, Any]] = [
                {"plan_id": p.id, "realm_id": p.realm_id, "rule": p.rule, "as_of": p.as_of,
                 "created_at": p.created_at} for p in plans(session, realm)]
            columns: tuple[str, ...] = ("plan_id", "realm_id", "rule", "as_of", "created_at")
        elif show_runs:
            rows = render.run_rows(runs(session, realm))
            columns = ("run_id", "kind", "plan_id", "undo_of", "started_at", "status", "summary")
        else:
            rows = render.log_rows(audit_log(session, realm_id=realm, run_id=run_id, customer_id=customer_id,
                                             limit=limit))
            columns = LOG_COLUMNS
    out.rows(columns, rows, width=80)


def register(cli: click.Group) -> None:
    cli.add_command(writeback_group)
