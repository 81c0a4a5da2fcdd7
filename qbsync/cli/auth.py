"""`qbsync auth login | status | logout | migrate`: connect a company, manage its stored tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from qbsync.cli.context import CommandContext, Env
from qbsync.cli.options import Output, with_output
from qbsync.settings import Settings


@click.group("auth")
@click.option("--config", "config", type=click.Path(path_type=Path), default=None,
              help="Config file (default: QBSYNC_CONFIG or the user config dir; same as `qbsync --config`).")
@click.option("--environment", default=None, help="production, sandbox, or a qbsync sandbox URL.")
@click.option("--realm", default=None, help="Company (realm) id, when several are connected.")
@click.pass_context
def auth_group(ctx: click.Context, config: Path | None, environment: str | None, realm: str | None) -> None:
    """Connect to QuickBooks Online and manage the stored connection."""
    env = ctx.find_object(Env) or Env()
    if config is not None:
        env.config_path = config
    ctx.meta["qbsync.auth"] = {"environment": environment, "realm": realm}


def _context(ctx: click.Context) -> CommandContext:
    return CommandContext.build(ctx.find_object(Env), **ctx.meta.get("qbsync.auth", {}))


def _settings(ctx: click.Context) -> Settings:
    return _context(ctx).settings


def _realm_flag(ctx: click.Context) -> str | None:
    realm: str | None = ctx.meta.get("qbsync.auth", {}).get("realm")
    return realm


@auth_group.command("login")
@click.option("--no-browser", is_flag=True,
              help="Do not open a browser or listen locally: paste the redirected URL instead.")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for the redirect.")
@click.pass_context
def login_cmd(ctx: click.Context, no_browser: bool, timeout: float) -> None:
    """Authorize qbsync for a company (OAuth) and store its tokens."""
    from qbsync.qbo import connection

    settings = _settings(ctx)

    def show(url: str) -> None:
        if no_browser:
            click.echo("Open this URL in any browser, sign in and choose the company:\n")
            click.echo(f"  {url}\n")
            click.echo("Then paste the address the browser was sent to "
                       f"(it starts with {settings.redirect_uri}).")
        else:
            click.echo("Opening your browser to connect qbsync to QuickBooks. If it does not open, visit:\n")
            click.echo(f"  {url}\n")
            click.echo("Waiting for QuickBooks to redirect back...")

    def paste() -> str:
        return str(click.prompt("Redirected URL", type=str))

    tokens = connection.login(settings, show=show, paste=paste if no_browser else None,
                              open_browser=not no_browser, timeout=timeout)
    name = tokens.company_name or "(name unknown)"
    click.echo(f"Connected to {name} (realm {tokens.realm_id}).")


STATUS_COLUMNS = ("realm_id", "company_name", "environment", "access_expires_at", "access_valid",
                  "refresh_expires_at", "refresh_valid", "refresh_hard_expires_at")


@auth_group.command("status")
@with_output(json_alias=True)
@click.pass_context
def status_cmd(ctx: click.Context, out: Output) -> None:
    """Show connected companies and when their tokens expire (no secrets, no network)."""
    from qbsync.qbo import connection

    cc = _context(ctx)
    rows: list[dict[str, Any]] = connection.status(cc.settings, _realm_flag(ctx), clock=cc.clock)
    if out.fmt == "csv":  # times for a spreadsheet to the second, as every CSV has them; JSON keeps ISO
        from datetime import datetime

        rows = [{k: datetime.fromisoformat(v) if k.endswith("_at") and isinstance(v, str) else v
                 for k, v in row.items()} for row in rows]
    if out.fmt != "table":
        out.rows(STATUS_COLUMNS, rows)
        return
    lines = []
    for row in rows:
        lines.append(f"realm {row['realm_id']}: {row['company_name'] or '(name unknown)'}"
                     f" [{row['environment'] or cc.settings.environment}]")
        lines.append(f"  access token   expires {_when(row['access_expires_at'])}"
                     f"{'' if row['access_valid'] else ' (expired; refreshed on next use)'}")
        lines.append(f"  refresh token  expires {_when(row['refresh_expires_at']) or 'unknown'}"
                     f"{'' if row['refresh_valid'] else ' (EXPIRED: run `qbsync auth login`)'}")
        lines.append(f"  hard expiry    {_when(row['refresh_hard_expires_at']) or 'not reported by Intuit'}")
    out.write("\n".join(lines) + "\n")


def _when(value: object) -> str:
    """An expiry for a person: to the second, no microseconds."""
    if not value:
        return ""
    from datetime import datetime

    from qbsync.texttable import human_time

    try:
        return human_time(datetime.fromisoformat(str(value)))
    except ValueError:
        return str(value)


@auth_group.command("logout")
@click.option("--local", is_flag=True, help="Only delete the stored tokens; do not revoke at Intuit.")
@click.pass_context
def logout_cmd(ctx: click.Context, local: bool) -> None:
    """Revoke qbsync's access to a company and delete its tokens."""
    from qbsync.qbo import connection

    settings = _settings(ctx)
    realm, revoked = connection.logout(settings, _realm_flag(ctx), revoke=not local)
    suffix = "revoked at Intuit and deleted" if revoked else "deleted locally"
    click.echo(f"Connection to realm {realm} {suffix}.")


_STORE_NAMES = {"cache": "the cache store", "file": "the file store"}


MIGRATE_COLUMNS = ("realm_id", "company_name", "action")


@auth_group.command("migrate")
@click.option("--to", "to", type=click.Choice(["cache", "file"]), required=True,
              help="cache: into the PostgreSQL cache, encrypted (a worker fleet); file: back into "
                   "token_dir (one machine).")
@click.option("--dry-run", is_flag=True, help="Only say which companies would move.")
@with_output(json_alias=True)
@click.pass_context
def migrate_cmd(ctx: click.Context, to: str, dry_run: bool, out: Output) -> None:
    """Move the stored tokens into the other token store, leaving one copy of each.

    Every company connected in the other store (or only --realm) is moved under both stores' locks:
    no refresh can run while it moves, and its old copy is deleted, so two stores never refresh the
    same connection. Running it again is harmless. Then set token_store (QBSYNC_TOKEN_STORE) to the new
    store on every machine that syncs these companies.
    """
    from qbsync.auth.stores import move_tokens, open_token_store

    settings = _settings(ctx)
    origin = "file" if to == "cache" else "cache"
    source = open_token_store(settings, kind=origin)
    destination = open_token_store(settings, kind=to)
    realm = _realm_flag(ctx)
    realms = [source.default_realm(realm)] if realm else source.realms()
    moved = move_tokens(source, destination, realms, dry_run=dry_run)
    rows = [{"realm_id": m.realm_id, "company_name": m.company_name, "action": m.action} for m in moved]
    if out.fmt != "table":
        out.rows(MIGRATE_COLUMNS, rows, doc={"to": to, "dry_run": dry_run, "companies": rows})
        return
    where, old = _STORE_NAMES[to], _STORE_NAMES[origin]
    if not moved:
        out.write(f"nothing to move: {old} holds no tokens\n")
        return
    said = {"would-move": f"would move to {where}", "moved": f"moved to {where}",
            "already": f"already in {where}; the copy in {old} removed",
            "kept-newer": f"{where} holds a newer copy (refreshed there since); the copy in {old} removed"}
    out.write("".join(f"realm {m.realm_id} ({m.company_name or 'name unknown'}): {said[m.action]}\n"
                      for m in moved))
    if not dry_run and settings.token_store != to:
        click.echo(f"now set token_store = {to} (QBSYNC_TOKEN_STORE={to}) on every machine that syncs "
                   f"these companies: {old} no longer holds their tokens", err=True)


def register(cli: click.Group) -> None:
    cli.add_command(auth_group)
