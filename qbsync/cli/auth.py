"""`qbsync auth login | status | logout`: connect a QuickBooks company and manage the stored tokens."""

from __future__ import annotations

import json
from pathlib import Path

import click

from qbsync.qbo import connection
from qbsync.settings import Settings, load_settings


def _settings(ctx: click.Context) -> Settings:
    obj = ctx.find_object(dict) or {}
    return load_settings({"environment": obj.get("environment"), "realm": obj.get("realm")},
                         config_path=obj.get("config"))


@click.group("auth")
@click.option("--config", "config", type=click.Path(path_type=Path), default=None,
              help="Config file (default: QBSYNC_CONFIG or the user config dir).")
@click.option("--environment", default=None, help="production, sandbox, or a qbsync sandbox URL.")
@click.option("--realm", default=None, help="Company (realm) id, when several are connected.")
@click.pass_context
def auth_group(ctx: click.Context, config: Path | None, environment: str | None, realm: str | None) -> None:
    """Connect to QuickBooks Online and manage the stored connection."""
    ctx.ensure_object(dict)
    ctx.obj.update({"config": config, "environment": environment, "realm": realm})


@auth_group.command("login")
@click.option("--no-browser", is_flag=True,
              help="Do not open a browser or listen locally: paste the redirected URL instead.")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for the redirect.")
@click.pass_context
def login_cmd(ctx: click.Context, no_browser: bool, timeout: float) -> None:
    """Authorize qbsync for a company (OAuth) and store its tokens."""
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


@auth_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def status_cmd(ctx: click.Context, as_json: bool) -> None:
    """Show connected companies and when their tokens expire."""
    settings = _settings(ctx)
    rows = connection.status(settings, ctx.obj.get("realm"))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"realm {row['realm_id']}: {row['company_name'] or '(name unknown)'}"
                   f" [{row['environment'] or settings.environment}]")
        click.echo(f"  access token   expires {row['access_expires_at']}"
                   f"{'' if row['access_valid'] else ' (expired; refreshed on next use)'}")
        click.echo(f"  refresh token  expires {row['refresh_expires_at'] or 'unknown'}"
                   f"{'' if row['refresh_valid'] else ' (EXPIRED: run `qbsync auth login`)'}")
        click.echo(f"  hard expiry    {row['refresh_hard_expires_at'] or 'not reported by Intuit'}")


@auth_group.command("logout")
@click.option("--local", is_flag=True, help="Only delete the stored tokens; do not revoke at Intuit.")
@click.pass_context
def logout_cmd(ctx: click.Context, local: bool) -> None:
    """Revoke qbsync's access to a company and delete its tokens."""
    settings = _settings(ctx)
    realm, revoked = connection.logout(settings, ctx.obj.get("realm"), revoke=not local)
    suffix = "revoked at Intuit and deleted" if revoked else "deleted locally"
    click.echo(f"Connection to realm {realm} {suffix}.")


def register(cli: click.Group) -> None:
    cli.add_command(auth_group)
