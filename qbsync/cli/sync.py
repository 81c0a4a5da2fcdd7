"""`qbsync sync | status | backup | restore`: mirror QuickBooks into the cache and look after the cache."""

from __future__ import annotations

import contextlib
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from qbsync.cli.context import CommandContext, with_context
from qbsync.cli.options import Output, with_output
from qbsync.errors import InputError, QbsyncError

if TYPE_CHECKING:
    from qbsync.sync.runner import SyncSummary

SYNC_COLUMNS = ("realm_id", "entity", "mode", "fetched", "changed", "deleted", "requests")


def _connected_realms(ctx: CommandContext) -> list[str]:
    from qbsync.auth.stores import open_token_store

    return open_token_store(ctx.settings).realms()


def _close(gateway: object) -> None:
    close = getattr(gateway, "close", None)
    if callable(close):
        close()


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def summary_text(s: SyncSummary) -> str:
    """The closing lines of one company's sync, saying what fetched and changed mean."""
    lines = [f"realm {s.realm_id}: {_n(s.fetched, 'row')} fetched from QuickBooks, {s.changed:,} new or "
             f"changed in the cache, {s.deleted:,} deleted; {_n(s.requests, 'request')}"
             + (f", {s.throttles} throttled" if s.throttles else "") + f", {s.duration_s:.1f} s"]
    if s.fetched and s.changed < s.fetched:
        lines.append(f"  ({s.fetched - s.changed:,} fetched rows were already in the cache as they are: "
                     "a full pass re-reads every row, CDC re-reads its overlap)")
    width = max((len(e) for e in s.entities), default=6)
    for e, c in s.entities.items():
        mode = "full" if e in s.full else "cdc"
        lines.append(f"  {e:<{width}} {mode:<4} fetched {c.fetched:>9,}  changed {c.changed:>9,}  "
                     f"deleted {c.deleted:>7,}")
    lines.extend(f"  warning: {w}" for w in s.warnings)
    return "\n".join(lines) + "\n"


def _emit_summaries(out: Output, summaries: list[SyncSummary], errors: list[tuple[str, QbsyncError]]) -> None:
    if out.fmt == "json":
        import json

        from qbsync.errors import ErrorSummary

        doc = {"runs": [s.to_json() for s in summaries],
               "errors": [{"realm_id": r, **ErrorSummary.of(e).__dict__} for r, e in errors]}
        out.write(json.dumps(doc, default=str, indent=2) + "\n")
    elif out.fmt == "csv":
        rows = [{"realm_id": s.realm_id, "entity": e, "mode": "full" if e in s.full else "cdc",
                 "fetched": c.fetched, "changed": c.changed, "deleted": c.deleted, "requests": c.requests}
                for s in summaries for e, c in s.entities.items()]
        out.rows(SYNC_COLUMNS, rows)
    else:
        out.write("".join(summary_text(s) for s in summaries))
    for r, e in errors:
        click.echo(f"realm {r}: error: {e}", err=True)


def _sync_once(ctx: CommandContext, realms: list[str | None], full: bool, entities: list[str] | None,
               workers: int, out: Output) -> None:
    from qbsync.cli.progress import SyncProgress, on_terminal
    from qbsync.sync.progress import NoProgress
    from qbsync.sync.runner import run_sync

    summaries: list[SyncSummary] = []
    errors: list[tuple[str, QbsyncError]] = []
    for realm in realms:
        try:
            gateway = ctx.connect(realm)
            # Bars on a terminal only (stderr, gone when done): cron and pipes get the summary alone.
            bars = SyncProgress() if on_terminal() else contextlib.nullcontext(NoProgress())
            try:
                with bars as progress:
                    summaries.append(run_sync(ctx.engine, gateway, full=full, entities=entities,
                                              clock=ctx.clock, workers=workers, progress=progress))
            finally:
                _close(gateway)
        except QbsyncError as exc:
            if len(realms) == 1:
                raise
            errors.append((realm or "?", exc))
    _emit_summaries(out, summaries, errors)
    if errors:
        raise errors[0][1]


@click.command("sync")
@click.option("--full", is_flag=True, help="Re-read every row (a reconcile); a pass in progress resumes.")
@click.option("--entities", help="Comma-separated entities (default: all), e.g. Customer,Invoice.")
@click.option("--all-realms", is_flag=True, help="Sync every connected company, one after the other.")
@click.option("--every", "every", help="Sync now, then every INTERVAL (15m, 1h) until SIGTERM.")
@click.option("--workers", type=click.IntRange(1, 10),
              help="Requests in flight (default: limits.max_concurrent).")
@with_context(realm="Company (realm) Id (default: the realm setting, or the only connected one).",
              as_of=False, existing_cache=False)
@with_output(json_alias=True, output_help="Write the summary to FILE (atomically) instead of the terminal.")
def sync_command(ctx: CommandContext, full: bool, entities: str | None, all_realms: bool, every: str | None,
                 workers: int | None, out: Output) -> None:
    """Mirror QuickBooks into the local cache (first run: everything; later: changes only).

    Exit code 75 means another sync of the same company is running (cron: just try later).
    """
    from qbsync.sync.runner import select_entities
    from qbsync.sync.schedule import install_stop_signals, parse_interval, run_every

    settings = ctx.settings
    wanted = select_entities([e.strip() for e in entities.split(",") if e.strip()]) if entities else None
    realms: list[str | None] = list(_connected_realms(ctx)) if all_realms else [settings.realm]
    if all_realms and not realms:
        raise QbsyncError("no QuickBooks company is connected", hint="run `qbsync auth login`")
    n_workers = workers or min(10, settings.limits.max_concurrent)
    interval = parse_interval(every) if every else None
    if interval is None:
        _sync_once(ctx, realms, full, wanted, n_workers, out)
        return
    stop = threading.Event()
    install_stop_signals(stop)
    first = {"full": full}

    def job() -> None:
        # --full applies to the first run only; later ticks are incremental.
        _sync_once(ctx, realms, first["full"], wanted, n_workers, out)
        first["full"] = False

    run_every(interval, job, stop)


STATUS_COLUMNS = ("realm_id", "company", "entity", "rows", "last_success_at", "cursor", "requests", "note")


@click.command("status")
@with_context(realm="Only this company (realm) Id (default: every company in the cache).", as_of=False)
@with_output(json_alias=True)
def status_command(ctx: CommandContext, out: Output) -> None:
    """Per company and entity: last sync, cursor, rows in the cache, last error.

    With webhooks or workers (docs/fleet.md), a line per company above its entities: the last event
    received, events not yet synced, syncs queued and running, the last sync and the cache's lag.
    """
    from qbsync.fleet.status import fleet_status  # events, queue, lag (webhooks and the worker fleet)
    from qbsync.sync.status import sync_status

    realms = sync_status(ctx.engine, ctx.check_realm())
    live = fleet_status(ctx.engine, [r.realm_id for r in realms], ctx.clock.now())
    if out.fmt == "json":
        import json

        out.write(json.dumps([{**r.to_json(), "pipeline": live[r.realm_id].to_json()} for r in realms],
                             indent=2) + "\n")
        return
    rows: list[dict[str, Any]] = []
    for r in realms:
        for e in r.entities:
            note = (e.last_error or "").splitlines()[0][:60] if e.last_error else ""
            if e.full_pass_in_progress:
                note = ("full pass in progress; " + note).strip("; ")
            rows.append({"realm_id": r.realm_id, "company": r.company_name, "entity": e.entity,
                         "rows": e.rows, "last_success_at": e.last_success_at, "cursor": e.cursor,
                         "requests": e.last_run_requests, "note": note})
    if out.fmt == "csv":
        out.rows(STATUS_COLUMNS, rows)
        return
    if not realms:
        out.write("the cache holds no company yet: run `qbsync sync`\n")
        return
    from qbsync.texttable import human_time

    lines = []
    for r in realms:
        lines.append(f"realm {r.realm_id}" + (f" ({r.company_name})" if r.company_name else ""))
        lines.append(f"  {live[r.realm_id].line()}")
        if r.last_sync_requests is not None:
            shared = r.last_sync_requests - sum(e.last_run_requests or 0 for e in r.entities)
            lines.append(f"  last sync: {r.last_sync_requests:,} requests"
                         + (f" ({shared:,} shared by several entities)" if shared else ""))
        lines.append(f"  {'entity':<13} {'rows':>9}  {'last success':<23}  {'cursor':<23}  "
                     f"{'requests':>8}  error")
        for row in (x for x in rows if x["realm_id"] == r.realm_id):
            when = human_time(row["last_success_at"]) if row["last_success_at"] else "never"
            cur = human_time(row["cursor"]) if row["cursor"] else "-"
            reqs = "-" if row["requests"] is None else f"{row['requests']:,}"
            lines.append(f"  {row['entity']:<13} {row['rows']:>9,}  {when:<23}  {cur:<23}  {reqs:>8}  "
                         f"{row['note']}")
    out.write("\n".join(lines) + "\n")


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_context(realm=False, as_of=False)
def backup_command(ctx: CommandContext, path: Path) -> None:
    """Write a consistent copy of the (SQLite) cache to PATH while it stays in use."""
    from qbsync.cache.backup import backup

    info = backup(ctx.engine, path)
    click.echo(f"wrote {info.path} ({info.bytes:,} bytes, schema {info.revision})")


@click.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_context(realm=False, as_of=False, existing_cache=False)
def restore_command(ctx: CommandContext, path: Path, yes: bool) -> None:
    """Replace the cache by the backup at PATH (refuses a backup from a newer qbsync)."""
    from qbsync.cache.backup import restore
    from qbsync.cache.locks import sync_lock
    from qbsync.sync.status import sync_status

    if not yes:
        if not sys.stdin.isatty():
            raise InputError("restore replaces the whole cache (plans and the write-back audit log included) "
                             "and there is no terminal to ask", hint="add --yes to confirm")
        click.confirm(f"replace the cache {ctx.settings.cache_url} by {path}?", abort=True)
    engine = ctx.engine
    realms = [r.realm_id for r in sync_status(engine)]
    with contextlib.ExitStack() as stack:
        for r in realms:  # no sync may write while the file is replaced
            stack.enter_context(sync_lock(engine, r))
        info = restore(engine, path)
    click.echo(f"restored {info.path} (schema {info.revision}) into {ctx.settings.cache_url}")


def register(cli: click.Group) -> None:
    cli.add_command(sync_command)
    cli.add_command(status_command)
    cli.add_command(backup_command)
    cli.add_command(restore_command)
