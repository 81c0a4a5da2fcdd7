"""`qbsync customer show | note | lost | language` and `qbsync sent`: the customer file from the CLI."""

from __future__ import annotations

import getpass
import json
import os
from datetime import datetime
from typing import TYPE_CHECKING

import click

from qbsync.cli.choices import choice
from qbsync.cli.context import DATE, CommandContext, with_context
from qbsync.cli.options import Output, with_output
from qbsync.cli.outreach import sent_on

if TYPE_CHECKING:
    from qbsync.customers import outreach
    from qbsync.reports.table import Table


def author() -> str | None:
    """Who is writing: QBSYNC_USER, else the login name (notes and losses record it)."""
    try:
        return os.environ.get("QBSYNC_USER") or getpass.getuser()
    except (KeyError, OSError):
        return None


@click.group("customer")
def customer_group() -> None:
    """The customer file: one customer's archive, notes, reason for loss and language."""


@customer_group.command("show")
@click.argument("customer")
@with_output(("table", "json"))
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="Show the last N transactions (JSON always has all).")
@click.option("--rules/--no-rules", default=True, show_default=True,
              help="Run the inactive, reactivate and disappearing rules for the findings.")
@click.option("--duplicates", is_flag=True, help="Also run the duplicates rule (slower on large companies).")
@with_context()
def show_cmd(ctx: CommandContext, customer: str, out: Output, limit: int, rules: bool,
             duplicates: bool) -> None:
    """Everything about CUSTOMER (Id or exact name): profile, balance, transactions and payments,
    findings, contacts made, notes and the reason for loss."""
    from qbsync.documents.archive import archive, to_text

    arc = archive(ctx.engine, ctx.realm_id, customer, ctx.as_of, rules=rules, duplicates=duplicates)
    text = (json.dumps(arc.as_dict(), indent=2, ensure_ascii=False) + "\n" if out.fmt == "json"
            else to_text(arc, limit))
    out.write(text)


@customer_group.command("note")
@click.argument("customer")
@click.argument("text", nargs=-1, required=True)
@with_context(as_of=False)
def note_cmd(ctx: CommandContext, customer: str, text: tuple[str, ...]) -> None:
    """Add a note to CUSTOMER's file: qbsync customer note 58 "called, pays on Friday"."""
    from qbsync.customers import file as cfile

    with ctx.engine.connect() as conn:
        who = cfile.resolve(conn, ctx.realm_id, customer)
    note = cfile.add_note(ctx.engine, ctx.realm_id, who.customer_id, " ".join(text), ctx.clock, author())
    click.echo(f"note {note.id} added to {who.name} (Id {who.customer_id})")


@customer_group.command("lost")
@click.argument("customer")
@click.option("--reason", type=choice("qbsync.customers.file", "LOSS_REASONS"),
              help="Why the customer was lost.")
@click.option("--on", "on", type=DATE, metavar="DATE",
              help="The day it was lost (default: --as-of, or today).")
@click.option("--note", help="A few words on what happened.")
@click.option("--clear", is_flag=True, help="The customer came back: it no longer counts as lost.")
@with_context()
def lost_cmd(ctx: CommandContext, customer: str, reason: str | None, on: datetime | None, note: str | None,
             clear: bool) -> None:
    """Record why CUSTOMER was lost (price, service, moved, competitor, closed, other); see `report lost`."""
    from qbsync.customers import file as cfile
    from qbsync.errors import InputError

    if clear == (reason is not None):
        raise InputError("give either --reason REASON or --clear",
                         hint=f"e.g. qbsync customer lost {customer} --reason price")
    with ctx.engine.connect() as conn:
        who = cfile.resolve(conn, ctx.realm_id, customer)
    if clear:
        done = cfile.clear_loss(ctx.engine, ctx.realm_id, who.customer_id, ctx.clock)
        said = "no longer counts as lost" if done else "was not recorded as lost: nothing to clear"
        click.echo(f"{who.name} (Id {who.customer_id}) {said}")
        return
    assert reason is not None
    if on is not None and on.date() > ctx.today:
        raise InputError(f"--on {on.date()} is in the future", hint="give the day the customer was lost")
    loss = cfile.mark_lost(ctx.engine, ctx.realm_id, who.customer_id, reason, on.date() if on else ctx.as_of,
                           ctx.clock, author=author(), note=note)
    click.echo(f"{who.name} (Id {who.customer_id}) recorded as lost on {loss.lost_on}: {loss.reason}")


@customer_group.command("language")
@click.argument("customer")
@click.argument("language", required=False)
@click.option("--clear", is_flag=True, help="Write to this customer in the company's language again.")
@with_context(as_of=False)
def language_cmd(ctx: CommandContext, customer: str, language: str | None, clear: bool) -> None:
    """Show or set the language letters and statements to CUSTOMER are written in (en, pt, zh, fr, es...)."""
    from qbsync.customers import file as cfile

    with ctx.engine.connect() as conn:
        who = cfile.resolve(conn, ctx.realm_id, customer)
        current = cfile.languages(conn, ctx.realm_id).get(who.customer_id)
    if language is None and not clear:
        click.echo(f"{who.name} (Id {who.customer_id}): {current or 'the company language (not set)'}")
        return
    cfile.set_language(ctx.engine, ctx.realm_id, who.customer_id, None if clear else language, ctx.clock)
    value = "the company language" if clear else cfile.normalise_language(language or "")
    click.echo(f"{who.name} (Id {who.customer_id}) will be written to in {value}")


# --- sent ---------------------------------------------------------------------------------------------


def _batch_rows(found: list[outreach.Batch]) -> Table:
    from qbsync.reports.table import Column, Table

    rows = [{"id": b.id, "status": b.status, "kind": b.kind, "created": b.created_at.date(),
             "sent": b.sent_at.date() if b.sent_at else None, "customers": b.customers - b.excluded,
             "description": b.description} for b in found]
    cols = [Column("id", "Batch"), Column("status", "Status"), Column("kind", "Kind"),
            Column("created", "Made", "date"), Column("sent", "Sent", "date"),
            Column("customers", "Customers", "int"), Column("description", "What")]
    return Table("Outreach batches", cols, rows,
                 notes=["mark a pending batch sent once it went out: qbsync sent BATCH"] if any(
                     b.status == "pending" for b in found) else [])


@click.command("sent")
@click.argument("batch", required=False)
@click.option("--on", "on", type=DATE, metavar="DATE", help="When it went out (default: now).")
@click.option("--except", "except_ids", multiple=True, metavar="CUSTOMER_ID",
              help="A customer of the batch who was not reached after all (repeatable).")
@click.option("--cancel", is_flag=True, help="The batch will never go out: forget it.")
@click.option("--all", "show_all", is_flag=True, help="List sent and cancelled batches too.")
@with_output()
@with_context(as_of=False)
def sent_cmd(ctx: CommandContext, batch: str | None, on: datetime | None, except_ids: tuple[str, ...],
             cancel: bool, show_all: bool, out: Output) -> None:
    """Mark outreach BATCH as sent (letters posted, list imported and mailed): its customers count as
    contacted, and the next dunning run moves each one a stage on. Without BATCH: the batches
    waiting to be marked."""
    from qbsync.customers import outreach
    from qbsync.errors import InputError

    if batch is None:
        if cancel or except_ids or on:
            raise InputError("name the batch", hint="`qbsync sent` without options lists them")
        with ctx.engine.connect() as conn:
            found = outreach.batches(conn, ctx.realm_id, status=None if show_all else "pending")
        out.table(_batch_rows(found))
        return
    if cancel:
        done = outreach.cancel(ctx.engine, ctx.realm_id, batch, ctx.clock)
        click.echo(f"batch {done.id} cancelled: its {done.customers} customers do not count as contacted")
        return
    when = None
    if on is not None:
        if on.date() > ctx.today:
            raise InputError(f"--on {on.date()} is in the future",
                             hint="give the day it went out, or leave it out")
        when = sent_on(on.date())
    done, changed = outreach.mark_sent(ctx.engine, ctx.realm_id, batch, ctx.clock, on=when,
                                       except_ids=except_ids)
    assert done.sent_at is not None
    if not changed:
        click.echo(f"batch {done.id} was already marked sent on {done.sent_at.date()}: nothing changed")
        return
    left = f" ({done.excluded} left out)" if done.excluded else ""
    click.echo(f"batch {done.id} marked sent on {done.sent_at.date()}: {done.customers - done.excluded} "
               f"customers contacted{left} - {done.description}")


def register(cli: click.Group) -> None:
    cli.add_command(customer_group)
    cli.add_command(sent_cmd)
