"""`qbsync sandbox ...`: run and fill the local QuickBooks-compatible server."""

from __future__ import annotations

import os
from pathlib import Path

import click


def db_file(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--db`` names the sandbox's SQLite file; a path ending in a separator names a folder."""
    if value is not None and value.endswith(("/", os.sep)):
        raise click.BadParameter(f"{value!r} names a folder; give the file, e.g. {value}sandbox.sqlite3")
    return value


@click.group("sandbox")
def sandbox_group() -> None:
    """A local QuickBooks Online-compatible server with generated sample companies."""


@sandbox_group.command("serve")
@click.option("--db", "db_path", required=True, type=click.Path(dir_okay=False), callback=db_file,
              help="SQLite file holding the sandbox companies (created if missing).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8760, show_default=True, type=int, help="Port (0 picks a free one).")
@click.option("--latency", type=click.Choice(["none", "realistic"]), default="none", show_default=True,
              help="Simulated server and network time per request (see docs/sandbox.md).")
@click.option("--realm", "realm_id", default=None, help="Company the authorization step connects to.")
@click.option("--client-id", default="sandbox-client", show_default=True)
@click.option("--client-secret", default="sandbox-secret", show_default=True)
@click.option("--admin-secret", envvar="QBSYNC_SANDBOX_ADMIN_SECRET", default=None,
              help="Let non-loopback clients call the /_sandbox admin endpoints when they send this value "
                   "in the X-Sandbox-Admin-Secret header (default: loopback clients only). "
                   "Env: QBSYNC_SANDBOX_ADMIN_SECRET.")
@click.option("--max-body", type=click.IntRange(min=1024), default=None,
              help="Largest request body in bytes; larger ones get a 413 fault (default 10 MiB).")
def serve(db_path: str, host: str, port: int, latency: str, realm_id: str | None, client_id: str,
          client_secret: str, admin_secret: str | None, max_body: int | None) -> None:
    """Serve the QuickBooks Online API from DB until Ctrl-C."""
    from qbsync.errors import InputError
    from qbsync.sandbox.knobs import LatencyProfile
    from qbsync.sandbox.server import MAX_BODY, SandboxServer
    from qbsync.sandbox.store import Store

    existed = Path(db_path).exists()
    store = Store(db_path)
    created = not store.realms()
    if created:
        store.create_realm(realm_id or "9341453050000001", company_info={"CompanyName": "Sandbox Company"})
    profile = LatencyProfile.realistic() if latency == "realistic" else LatencyProfile.none()
    srv = SandboxServer(store, client_id=client_id, client_secret=client_secret, host=host, port=port,
                        latency=profile, default_realm=realm_id, max_body=max_body or MAX_BODY,
                        admin_secret=admin_secret)
    try:
        base = srv.start()
    except OSError as exc:
        store.close()
        if not existed:  # nothing half-made left behind: the file this command created goes too
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(db_path + suffix).unlink(missing_ok=True)
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                         hint="pick another --port (0 picks a free one) or stop what is using it") from None
    if created:
        click.echo("note: the database had no company; created an empty one "
                   "(fill it with `qbsync sandbox seed` or `qbsync sandbox load`).", err=True)
    click.echo(f"QuickBooks Online sandbox listening on {base}")
    click.echo(f"  discovery URL : {srv.discovery_url}")
    click.echo(f"  API URL       : {srv.api_url_v3}")
    click.echo(f"  companies     : {', '.join(store.realms())}")
    click.echo(f"  client id     : {client_id}")
    click.echo(f"  client secret : {client_secret}")
    who = "loopback, or the X-Sandbox-Admin-Secret header" if admin_secret else "loopback clients only"
    click.echo(f"  admin         : {who}")
    endpoint = store.outbox.endpoint
    click.echo(f"  webhooks      : {endpoint.format} events to {endpoint.url}" if endpoint else
               "  webhooks      : none (`qbsync sandbox webhooks register --db ... --url ...`)")
    click.echo("")
    click.echo("Point qbsync at it (environment or config):")
    click.echo(f"  export QBSYNC_ENVIRONMENT={base}")
    click.echo(f"  export QBSYNC_CLIENT_ID={client_id}")
    click.echo(f"  export QBSYNC_CLIENT_SECRET={client_secret}")
    click.echo("Press Ctrl-C to stop.")
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped")


def register(cli: click.Group) -> None:
    cli.add_command(sandbox_group)
