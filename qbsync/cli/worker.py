"""`qbsync worker`: run the queued syncs (a fleet on a PostgreSQL cache; `--once` anywhere)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING

import click

from qbsync.cli.context import CommandContext, with_context
from qbsync.cli.options import Output, with_output
from qbsync.errors import InputError

if TYPE_CHECKING:
    from qbsync.fleet.runner import SyncExecutor


@click.command("worker")
@click.option("--once", is_flag=True, help="Queue the syncs that are due, run every waiting sync, then exit "
                                           "(cron, tests).")
@click.option("--concurrency", default=2, show_default=True, type=click.IntRange(1, 32),
              help="Companies this worker syncs at once.")
@click.option("--every", default="15m", show_default=True,
              help="Scheduled CDC sync of every connected company (the backstop for lost webhooks).")
@click.option("--reconcile-every", default="7d", show_default=True,
              help="Scheduled full reconcile of every company.")
@click.option("--name", default=None, help="Worker name in logs (default: host and pid).")
@click.option("--stall-grace", default=5.0, show_default=True, type=click.FloatRange(0),
              help="Seconds a new sync has to take its lock before its worker may be taken for dead.")
@with_context(realm=False, as_of=False, existing_cache=False)
@with_output(json_alias=True, output_help="--once: write the outcomes to FILE instead of the terminal.")
def worker_command(ctx: CommandContext, once: bool, concurrency: int, every: str, reconcile_every: str,
                   name: str | None, stall_grace: float, out: Output) -> None:
    """Sync the companies the queue asks for, one sync per company at a time across every worker.

    Start any number of workers on any number of machines against the same PostgreSQL cache (set
    QBSYNC_TOKEN_STORE=cache and the same QBSYNC_TOKEN_KEY on each). A killed worker's sync is queued
    again and resumes from its committed pages. On SQLite, `--once` runs the waiting syncs in-process.
    """
    from qbsync.cli.webhooks import require_fleet_extra
    from qbsync.sync.schedule import parse_interval

    settings = ctx.settings
    interval, reconcile = parse_interval(every), parse_interval(reconcile_every)

    import os
    import socket

    from qbsync.auth.stores import open_token_store
    from qbsync.fleet.runner import SyncExecutor

    engine = ctx.engine
    # the context closes the cache when the command ends
    store = open_token_store(settings, engine)
    check_key = getattr(store, "check_key", None)
    if callable(check_key):  # the cache store: a wrong QBSYNC_TOKEN_KEY stops the worker here
        check_key()
    executor = SyncExecutor(settings, engine)
    if engine.dialect.name != "postgresql":
        if not once:
            raise InputError("a worker fleet needs a PostgreSQL cache",
                             hint="on SQLite use `qbsync webhooks serve` (it syncs in-process) and "
                                  "`qbsync sync --every 15m`, or `qbsync worker --once` from cron")
        outcomes = _once_in_process(executor, store.realms(), interval, reconcile)
        _print(outcomes, out)
        return
    require_fleet_extra()
    from qbsync.fleet.jobs import Fleet, FleetOptions

    fleet = Fleet(engine, executor=executor, connected=store.realms,
                  options=FleetOptions(every=interval, reconcile_every=reconcile,
                                       stall_grace=timedelta(seconds=stall_grace)))
    with fleet:
        label = name or f"{socket.gethostname()}-{os.getpid()}"
        if not once:
            click.echo(f"worker {label}: {concurrency} at a time; scheduled CDC every {every}, "
                       f"reconcile every {reconcile_every}", err=True)
        fleet.run_worker(concurrency=concurrency, once=once, name=label)
    if once:
        _print([o.to_json() for o in fleet.outcomes], out)


def _once_in_process(executor: SyncExecutor, realms: list[str], every: timedelta,
                     reconcile: timedelta) -> list[dict[str, object]]:
    from qbsync.fleet.inbox import Inbox
    from qbsync.fleet.queue import InProcessQueue
    from qbsync.fleet.runner import SyncRequest
    from qbsync.fleet.schedule import due, realm_marks

    queue = InProcessQueue(executor.perform)
    for req in due(executor.clock.now(), realm_marks(executor.engine, realms), every, reconcile):
        queue.request(req)
    for realm in Inbox(executor.engine).pending(realms):
        queue.request(SyncRequest(realm))
    return [o.to_json() for o in queue.drain()]


def _print(outcomes: list[dict[str, object]], out: Output) -> None:
    if out.fmt == "json":
        out.write(json.dumps({"outcomes": outcomes}, indent=2, default=str) + "\n")
        return
    if out.fmt == "csv":
        out.rows(("realm_id", "kind", "reason", "status", "error"), outcomes)
        return
    lines = []
    for o in outcomes:
        note = f": {o['error']}" if o.get("error") else ""
        lines.append(f"realm {o['realm_id']}: {o['kind']} ({o['reason']}) {o['status']}{note}")
    out.write("\n".join(lines or ["nothing to sync"]) + "\n")


def register(cli: click.Group) -> None:
    cli.add_command(worker_command)
