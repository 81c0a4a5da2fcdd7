"""`qbsync sandbox webhooks ...`: register the app's webhook endpoint, tune delivery, read the delivery log.

The registration and knobs live in the sandbox database (`--db`), so they apply to a server already
serving that file (it re-reads them within a quarter of a second) and to the next `sandbox serve`.
"""

from __future__ import annotations

import json
from typing import Any

import click

from qbsync.cli.options import Output, with_output
from qbsync.errors import InputError

PAYLOADS = ("cloudevents", "legacy")


def _outbox(db_path: str):  # type: ignore[no-untyped-def]
    from qbsync.sandbox.store import Store

    return Store(db_path).outbox


def _refused(exc: Exception) -> InputError:
    return InputError(str(exc), hint="see `qbsync sandbox webhooks --help` and docs/sandbox.md (Webhooks)")


db_option = click.option("--db", "db_path", required=True, type=click.Path(dir_okay=False),
                         help="SQLite file of the sandbox (the one `qbsync sandbox serve --db` serves).")


@click.group("webhooks")
def webhooks_group() -> None:
    """The app's webhook endpoint on the sandbox: register it, tune delivery, see what was sent."""


@webhooks_group.command("register")
@db_option
@click.option("--url", required=True, help="Endpoint the sandbox POSTs events to, e.g. http://127.0.0.1:8000/webhooks.")
@click.option("--verifier-token", default=None,
              help="Key of the intuit-signature HMAC (default: a new one, printed once).")
@click.option("--payload", type=click.Choice(PAYLOADS), default="cloudevents", show_default=True,
              help="CloudEvents (Intuit's format since 2025) or the legacy eventNotifications payload.")
@click.option("--entities", default=None,
              help="Comma-separated entities to subscribe to (default: every entity that sends webhooks).")
def register_cmd(db_path: str, url: str, verifier_token: str | None, payload: str,
                 entities: str | None) -> None:
    """Register (or replace) the endpoint; changes from now on are delivered to it."""
    from qbsync.sandbox.webhooks import Endpoint, WebhookError

    outbox = _outbox(db_path)
    try:
        endpoint = outbox.register(Endpoint.make(url, verifier_token, payload, entities))
    except WebhookError as exc:
        raise _refused(exc) from None
    subscribed = ", ".join(endpoint.entities) if endpoint.entities else "every entity"
    click.echo(f"webhooks: {endpoint.format} events for {subscribed} go to {endpoint.url}")
    if verifier_token is None:
        click.echo(f"  verifier token (give it to the receiver; shown once): {endpoint.verifier_token}")


@webhooks_group.command("unregister")
@db_option
def unregister_cmd(db_path: str) -> None:
    """Remove the endpoint and drop the events not yet delivered."""
    dropped = _outbox(db_path).unregister()
    click.echo(f"webhooks: endpoint removed; {dropped} queued event(s) dropped")


@webhooks_group.command("show")
@db_option
@with_output()
def show_cmd(db_path: str, out: Output) -> None:
    """The registration (token shortened), the knobs and the queue."""
    outbox = _outbox(db_path)
    endpoint = outbox.reload()
    state: dict[str, Any] = {"endpoint": endpoint.public() if endpoint else None,
                             "knobs": outbox.knobs().to_dict(), **outbox.counts()}
    if out.fmt == "json":
        out.write(json.dumps(state, indent=1) + "\n")
        return
    if out.fmt == "csv":
        flat = [{"key": "endpoint." + k, "value": v} for k, v in (state["endpoint"] or {}).items()]
        flat += [{"key": "knobs." + k, "value": v} for k, v in state["knobs"].items()]
        flat += [{"key": k, "value": v} for k, v in state.items() if k not in ("endpoint", "knobs")]
        out.rows(("key", "value"), flat)
        return
    lines = []
    if endpoint is None:
        lines.append("endpoint: none registered (`qbsync sandbox webhooks register --db ... --url ...`)")
    else:
        pub = endpoint.public()
        ents = pub["entities"] if isinstance(pub["entities"], str) else ", ".join(pub["entities"])
        lines += [f"endpoint: {endpoint.url}", f"payload:  {endpoint.format}", f"entities: {ents}",
                  f"verifier token: {pub['verifier_token']}"]
    lines.append("knobs:")
    lines += [f"  {k}: {v}" for k, v in state["knobs"].items()]
    lines.append("queue:")
    lines += [f"  {k.replace('_', ' ')}: {v}" for k, v in state.items() if k not in ("endpoint", "knobs")]
    out.write("\n".join(lines) + "\n")


@webhooks_group.command("knobs")
@db_option
@click.option("--delay", type=click.FloatRange(0), help="Seconds from a change until its event may be sent.")
@click.option("--batch-window", type=click.FloatRange(0),
              help="Seconds to wait for more events once the first is due.")
@click.option("--batch-size", type=click.IntRange(1, 1000), help="Events per delivery (Intuit: up to 100).")
@click.option("--duplicate-rate", type=click.FloatRange(0, 1),
              help="Chance that an event is delivered twice (the copy in a later delivery).")
@click.option("--reorder-rate", type=click.FloatRange(0, 1),
              help="Chance that an event is held back one delivery, so later events overtake it.")
@click.option("--seed", type=int, help="Seed of the duplicate and reorder draws.")
@click.option("--timeout", type=click.FloatRange(0, min_open=True),
              help="Seconds the endpoint has to answer (Intuit: 3).")
@click.option("--max-attempts", type=click.IntRange(0),
              help="Give up on a delivery after N attempts (0: never, as Intuit).")
@click.option("--retry-schedule", default=None,
              help="Comma-separated seconds to wait after each failed attempt; the last repeats.")
def knobs_cmd(db_path: str, delay: float | None, batch_window: float | None, batch_size: int | None,
              duplicate_rate: float | None, reorder_rate: float | None, seed: int | None,
              timeout: float | None, max_attempts: int | None, retry_schedule: str | None) -> None:
    """Show or change how events are delivered (only the options given change)."""
    from qbsync.sandbox.webhooks import WebhookError

    changes: dict[str, Any] = {k: v for k, v in (
        ("delay", delay), ("batch_window", batch_window), ("batch_size", batch_size),
        ("duplicate_rate", duplicate_rate), ("reorder_rate", reorder_rate), ("seed", seed),
        ("timeout", timeout)) if v is not None}
    if max_attempts is not None:
        changes["max_attempts"] = max_attempts or None
    if retry_schedule is not None:
        try:
            changes["retry_schedule"] = [float(s) for s in retry_schedule.split(",") if s.strip()]
        except ValueError:
            raise InputError(f"--retry-schedule {retry_schedule!r} is not a list of seconds",
                             hint="for example --retry-schedule 0,10,20,30,300") from None
    outbox = _outbox(db_path)
    try:
        knobs = outbox.set_knobs(changes) if changes else outbox.knobs()
    except WebhookError as exc:
        raise _refused(exc) from None
    for key, value in knobs.to_dict().items():
        click.echo(f"{key}: {value}")


@webhooks_group.command("log")
@db_option
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True,
              help="Show the last N deliveries.")
@click.option("--bodies", is_flag=True, help="Include each delivery's exact body (json format).")
@with_output()
def log_cmd(db_path: str, limit: int, bodies: bool, out: Output) -> None:
    """What was delivered: each delivery's events, companies and attempts (sandbox-clock times)."""
    from qbsync.reports.table import Column, Table

    outbox = _outbox(db_path)
    total = outbox.counts()
    deliveries = outbox.deliveries(after=0, limit=10**9)[-limit:]
    if out.fmt == "json":
        if not bodies:
            for d in deliveries:
                d.pop("body", None)
        out.write(json.dumps({"deliveries": deliveries, **total}, indent=1) + "\n")
        return
    rows = []
    for d in deliveries:
        attempts = d["attempts"]
        last = attempts[-1] if attempts else {}
        rows.append({"id": d["id"], "created": d["created"], "format": d["format"],
                     "events": len(d["events"]), "companies": len(d["realms"]), "state": d["state"],
                     "attempts": len(attempts),
                     "last": str(last.get("status") or last.get("error") or ""),
                     "next": d["next_attempt"] or ""})
    table = Table("Webhook deliveries", [
        Column("id", "Delivery", "int"), Column("created", "Created"), Column("format", "Format"),
        Column("events", "Events", "int"), Column("companies", "Companies", "int"), Column("state", "State"),
        Column("attempts", "Attempts", "int"), Column("last", "Last answer"), Column("next", "Next attempt")],
        rows, notes=[f"{total['queued_events']} event(s) queued, "
                     f"{total['pending_deliveries']} delivery pending"])
    out.table(table)


def register(cli: click.Group) -> None:
    group = cli.commands["sandbox"]
    assert isinstance(group, click.Group)
    group.add_command(webhooks_group)
