"""`qbsync sync | status | backup | restore`: mirror QuickBooks into the cache and look after the cache."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa

from qbsync.cache.backup import backup, restore
from qbsync.cache.locks import sync_lock
from qbsync.cache.schema import open_cache, resolve_realm
from qbsync.clock import Clock, SystemClock
from qbsync.errors import ErrorSummary, InputError, QbsyncError
from qbsync.qbo.gateway import QboGateway
from qbsync.settings import Settings, load_settings
from qbsync.sync.progress import NoProgress, Progress, TerminalProgress
from qbsync.sync.runner import SyncSummary, run_sync, select_entities
from qbsync.sync.schedule import install_stop_signals, parse_interval, run_every
from qbsync.sync.status import sync_status


def _settings(realm: str | None, cache_url: str | None) -> Settings:
    return load_settings(overrides={"realm": realm, "cache_url": cache_url})


def _connect(settings: Settings, realm_id: str | None, clock: Clock) -> QboGateway:
    """The live QuickBooks connection (tests replace this function)."""
    from qbsync.qbo.client import connect

    gateway: QboGateway = connect(settings, realm_id, clock=clock)
    return gateway


def _connected_realms(settings: Settings) -> list[str]:
    from qbsync.auth.stores import open_token_store

    return open_token_store(settings).realms()


def _close(gateway: QboGateway) -> None:
    close = getattr(gateway, "close", None)
    if callable(close):
        close()


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _sync_once(settings: Settings, engine: sa.Engine, realms: list[str | None], full: bool,
               entities: list[str] | None, workers: int, as_json: bool) -> None:
    clock = SystemClock()
    summaries: list[SyncSummary] = []
    errors: list[tuple[str, QbsyncError]] = []
    for realm in realms:
        progress: Progress = NoProgress() if as_json else TerminalProgress()
        try:
            gateway = _connect(settings, realm, clock)
            try:
                summaries.append(run_sync(engine, gateway, full=full, entities=entities, clock=clock,
                                          workers=workers, progress=progress))
            finally:
                _close(gateway)
        except QbsyncError as exc:
            if len(realms) == 1:
                raise
            errors.append((realm or "?", exc))
    if as_json:
        doc = {"runs": [s.to_json() for s in summaries],
               "errors": [{"realm_id": r, **ErrorSummary.of(e).__dict__} for r, e in errors]}
        click.echo(json.dumps(doc, default=_json_default, indent=2))
    else:
        for s in summaries:
            click.echo(s.text())
        for r, e in errors:
            click.echo(f"realm {r}: error: {e}", err=True)
    if errors:
        raise errors[0][1]


@click.command("sync")
@click.option("--full", is_flag=True, help="Re-read every row (a reconcile); a pass in progress resumes.")
@click.option("--entities", help="Comma-separated entities (default: all), e.g. Customer,Invoice.")
@click.option("--realm", help="Company (realm) id (default: the connected one).")
@click.option("--all-realms", is_flag=True, help="Sync every connected company, one after the other.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--every", "every", help="Sync now, then every INTERVAL (15m, 1h) until SIGTERM.")
@click.option("--workers", type=click.IntRange(1, 10),
              help="Requests in flight (default: limits.max_concurrent).")
@click.option("--cache-url", help="Cache database URL (default: settings).")
def sync_command(full: bool, entities: str | None, realm: str | None, all_realms: bool, as_json: bool,
                 every: str | None, workers: int | None, cache_url: str | None) -> None:
    """Mirror QuickBooks into the local cache (first run: everything; later: changes only).

    Exit code 75 means another sync of the same company is running (cron: just try later).
    """
    settings = _settings(realm, cache_url)
    wanted = select_entities([e.strip() for e in entities.split(",") if e.strip()]) if entities else None
    realms: list[str | None] = list(_connected_realms(settings)) if all_realms else [realm or settings.realm]
    if all_realms and not realms:
        raise QbsyncError("no QuickBooks company is connected", hint="run `qbsync auth login`")
    n_workers = workers or min(10, settings.limits.max_concurrent)
    interval = parse_interval(every) if every else None
    engine = open_cache(settings.cache_url)
    try:
        if interval is None:
            _sync_once(settings, engine, realms, full, wanted, n_workers, as_json)
            return
        stop = threading.Event()
        install_stop_signals(stop)
        first = {"full": full}

        def job() -> None:
            # --full applies to the first run only; later ticks are incremental.
            _sync_once(settings, engine, realms, first["full"], wanted, n_workers, as_json)
            first["full"] = False

        run_every(interval, job, stop)
    finally:
        engine.dispose()


@click.command("status")
@click.option("--realm", help="Only this company (realm) id.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--cache-url", help="Cache database URL (default: settings).")
def status_command(realm: str | None, as_json: bool, cache_url: str | None) -> None:
    """Per company and entity: last sync, cursor, rows in the cache, last error."""
    settings = _settings(None, cache_url)
    engine = open_cache(settings.cache_url, existing=True)
    try:
        if realm:
            resolve_realm(engine, realm)  # an unknown realm is an error, not "no company yet"
        realms = sync_status(engine, realm)
        from qbsync.fleet.status import fleet_status  # events, queue, lag (webhooks and the worker fleet)

        live = fleet_status(engine, [r.realm_id for r in realms], SystemClock().now())
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps([{**r.to_json(), "pipeline": live[r.realm_id].to_json()} for r in realms],
                              indent=2))
        return
    if not realms:
        click.echo("the cache holds no company yet: run `qbsync sync`")
        return
    for r in realms:
        click.echo(f"realm {r.realm_id}" + (f" ({r.company_name})" if r.company_name else ""))
        click.echo(f"  {live[r.realm_id].line()}")
        if r.last_sync_requests is not None:
            shared = r.last_sync_requests - sum(e.last_run_requests or 0 for e in r.entities)
            click.echo(f"  last sync: {r.last_sync_requests:,} requests"
                       + (f" ({shared:,} shared by several entities)" if shared else ""))
        click.echo(f"  {'entity':<13} {'rows':>9}  {'last success (UTC)':<20} {'cursor (UTC)':<20} "
                   f"{'requests':>8}  error")
        for e in r.entities:
            when = e.last_success_at.strftime("%Y-%m-%d %H:%M:%S") if e.last_success_at else "never"
            cur = e.cursor.strftime("%Y-%m-%d %H:%M:%S") if e.cursor else "-"
            note = (e.last_error or "").splitlines()[0][:60] if e.last_error else ""
            if e.full_pass_in_progress:
                note = ("full pass in progress; " + note).strip("; ")
            reqs = "-" if e.last_run_requests is None else f"{e.last_run_requests:,}"
            click.echo(f"  {e.entity:<13} {e.rows:>9,}  {when:<20} {cur:<20} {reqs:>8}  {note}")


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--cache-url", help="Cache database URL (default: settings).")
def backup_command(path: Path, cache_url: str | None) -> None:
    """Write a consistent copy of the (SQLite) cache to PATH while it stays in use."""
    settings = _settings(None, cache_url)
    engine = open_cache(settings.cache_url, existing=True)
    try:
        info = backup(engine, path)
    finally:
        engine.dispose()
    click.echo(f"wrote {info.path} ({info.bytes:,} bytes, schema {info.revision})")


@click.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--cache-url", help="Cache database URL (default: settings).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore_command(path: Path, cache_url: str | None, yes: bool) -> None:
    """Replace the cache by the backup at PATH (refuses a backup from a newer qbsync)."""
    settings = _settings(None, cache_url)
    if not yes:
        if not sys.stdin.isatty():
            raise InputError("restore replaces the whole cache (plans and the write-back audit log included) "
                             "and there is no terminal to ask", hint="add --yes to confirm")
        click.confirm(f"replace the cache {settings.cache_url} by {path}?", abort=True)
    engine = open_cache(settings.cache_url)
    try:
        realms = [r.realm_id for r in sync_status(engine)]
        with contextlib.ExitStack() as stack:
            for r in realms:  # no sync may write while the file is replaced
                stack.enter_context(sync_lock(engine, r))
            info = restore(engine, path)
    finally:
        engine.dispose()
    click.echo(f"restored {info.path} (schema {info.revision}) into {settings.cache_url}")


def register(cli: click.Group) -> None:
    cli.add_command(sync_command)
    cli.add_command(status_command)
    cli.add_command(backup_command)
    cli.add_command(restore_command)
