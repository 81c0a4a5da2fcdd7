"""`qbsync webhooks serve`: receive QuickBooks webhooks and turn them into queued CDC syncs."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import click

from qbsync.cli.context import CommandContext, with_context
from qbsync.errors import ConfigError, InputError
from qbsync.settings import Settings

if TYPE_CHECKING:
    from qbsync.fleet.queue import SyncQueue

log = logging.getLogger("qbsync.webhooks")

_SIZE_UNITS = {"": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2, "mib": 1024**2}


def parse_size(text: str) -> int:
    """``16MiB``, ``512k``, ``1000000``."""
    raw = text.strip().lower()
    digits = raw.rstrip("kmib")
    unit = raw[len(digits):]
    if not digits.isdigit() or unit not in _SIZE_UNITS or int(digits) <= 0:
        raise InputError(f"cannot read the size {text!r}", hint="write it like 16MiB, 512k or 1000000")
    return int(digits) * _SIZE_UNITS[unit]


def require_fleet_extra() -> None:
    """A clean error when the optional HTTP/queue libraries are not installed."""
    import importlib.util

    missing = [m for m in ("starlette", "uvicorn", "procrastinate", "cryptography")
               if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError("fleet extra", f"{', '.join(missing)} not installed",
                          hint="pip install 'qbsync[fleet]'")


def verifier(settings: Settings) -> str:
    if not settings.webhook_verifier:
        raise ConfigError("webhook_verifier", "not set (every delivery is signed with it)",
                          hint="copy the Verifier Token from your Intuit app's Webhooks page into "
                               "QBSYNC_WEBHOOK_VERIFIER or the secrets file")
    return settings.webhook_verifier


@click.group("webhooks")
def webhooks_group() -> None:
    """Receive QuickBooks webhooks (CloudEvents or legacy) and queue a sync per company."""


@webhooks_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (put a TLS reverse proxy in front; see docs/fleet.md).")
@click.option("--port", default=8726, show_default=True, type=click.IntRange(0, 65535), help="Port.")
@click.option("--path", "path", default="/webhooks/quickbooks", show_default=True,
              help="The endpoint path registered in your Intuit app.")
@click.option("--max-body", default="16MiB", show_default=True, help="Largest delivery accepted (413 above).")
@click.option("--queue", "queue_kind", type=click.Choice(["auto", "inprocess", "postgres"]), default="auto",
              show_default=True, help="auto: the PostgreSQL queue on a PostgreSQL cache, else in-process.")
@click.option("--concurrency", default=1, show_default=True, type=click.IntRange(1, 16),
              help="In-process queue: companies synced at once.")
@click.option("--proxy-headers", is_flag=True,
              help="Trust X-Forwarded-For/-Proto from --forwarded-allow-ips (behind a reverse proxy).")
@click.option("--forwarded-allow-ips", default="127.0.0.1", show_default=True,
              help="Proxies whose X-Forwarded-* headers are trusted.")
@with_context(realm=False, as_of=False, existing_cache=False)
def serve_command(ctx: CommandContext, host: str, port: int, path: str, max_body: str, queue_kind: str,
                  concurrency: int, proxy_headers: bool, forwarded_allow_ips: str) -> None:
    """Serve the webhook endpoint and /healthz until SIGTERM/SIGINT.

    Every delivery is checked (intuit-signature), recorded in the cache, and answered 200 only then;
    each company with a change not yet in its cache gets one queued CDC sync.
    """
    require_fleet_extra()
    if not path.startswith("/"):
        raise InputError(f"--path {path!r} must start with /", hint="for example --path /webhooks/quickbooks")
    settings = ctx.settings
    token = verifier(settings)
    limit = parse_size(max_body)

    from qbsync.auth.stores import open_token_store
    from qbsync.fleet.inbox import Inbox
    from qbsync.fleet.server import ConnectedRealms, Receiver, WebhookServer, create_app

    engine = ctx.engine
    store = open_token_store(settings, engine)
    postgres = engine.dialect.name == "postgresql"
    if queue_kind == "postgres" and not postgres:
        raise InputError("--queue postgres needs a PostgreSQL cache",
                         hint="use --queue inprocess (or auto) with a SQLite cache")
    use_fleet = queue_kind == "postgres" or (queue_kind == "auto" and postgres)
    stop_queue = None
    queue: SyncQueue
    try:
        if use_fleet:
            from qbsync.fleet.jobs import Fleet

            fleet = Fleet(engine).open()
            queue = fleet
            stop_queue = fleet.close
            where = "the fleet's PostgreSQL queue (run `qbsync worker` to sync)"
        else:
            from qbsync.fleet.queue import InProcessQueue
            from qbsync.fleet.runner import SyncExecutor, SyncRequest

            executor = SyncExecutor(settings, engine)
            inproc = InProcessQueue(executor.perform, concurrency=concurrency).start()
            for realm in Inbox(engine).pending(store.realms()):  # what a previous run left unsynced
                inproc.request(SyncRequest(realm))
            queue = inproc
            stop_queue = inproc.stop
            where = f"an in-process queue ({concurrency} at a time)"
        receiver = Receiver(token, Inbox(engine), queue, ConnectedRealms(store.realms), max_body=limit)
        server = WebhookServer(create_app(receiver, path=path), host, port, proxy_headers=proxy_headers,
                               forwarded_allow_ips=forwarded_allow_ips if proxy_headers else None,
                               log_level="info")
        click.echo(f"listening on {server.url}{path} (health: {server.url}/healthz); syncs go to {where}",
                   err=True)
        server.serve_forever()
    finally:
        if stop_queue is not None:
            stop_queue()


def register(cli: click.Group) -> None:
    cli.add_command(webhooks_group)
