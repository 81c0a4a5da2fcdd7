"""What outreach commands share: `--mark-sent`, `--channel`, the dunning letters' options, and recording the
batch in the customer file."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from qbsync.cli.choices import choice, constant
from qbsync.cli.context import CommandContext

if TYPE_CHECKING:
    from qbsync.customers import outreach

F = TypeVar("F", bound=Callable[..., Any])


def mark_sent_options(channel: str) -> Callable[[F], F]:
    def decorate(f: F) -> F:
        f = click.option("--channel", type=choice("qbsync.customers.outreach", "CHANNELS"), default=channel,
                         show_default=True, help="How it reaches customers (recorded with each contact).")(f)
        return click.option("--mark-sent", is_flag=True, help="Record it as sent now, or on --as-of when "
                            "that is an earlier day (otherwise: `qbsync sent BATCH` once it went out).")(f)
    return decorate


def dunning_options(letter_help: str) -> Callable[[F], F]:
    """Which dunning letters are due (``campaign dunning``, ``documents letters``): ``--letter``,
    ``--within-days``, ``--min-gap-days``."""
    module = "qbsync.campaigns.dunning"
    options = [
        click.option("--letter", "letters", multiple=True, type=choice(module, "LETTERS"), help=letter_help),
        click.option("--within-days", type=click.IntRange(min=0), default=7, show_default=True,
                     help="Remind about invoices falling due within N days."),
        click.option("--min-gap-days", type=click.IntRange(min=0),
                     default=constant(module, "DEFAULT_MIN_GAP_DAYS"), show_default=True,
                     help="Days between two letters to the same customer."),
    ]

    def decorate(f: F) -> F:
        for option in reversed(options):
            f = option(f)
        return f
    return decorate


def sent_on(day: date) -> datetime:
    """When a batch said to go out on ``day`` went out: noon UTC of that day (its date the same in every
    company's time zone from UTC-11 to UTC+11)."""
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def record_batch(ctx: CommandContext, kind: str, items: Sequence[outreach.ItemSpec], description: str,
                 params: dict[str, Any], mark_sent: bool,
                 campaign_id: int | None = None) -> outreach.Batch | None:
    """Record the batch and say so on stderr (stdout may be the file itself); None when nobody is in it."""
    from qbsync.customers import outreach

    if not items:
        return None
    batch = outreach.record(ctx.engine, ctx.realm_id, kind, items, ctx.clock, as_of=ctx.as_of,
                            description=description, params=params, campaign_id=campaign_id, sent=mark_sent,
                            sent_at=sent_on(ctx.as_of) if mark_sent and ctx.as_of < ctx.today else None)
    n = f"{batch.customers} customer{'s' if batch.customers != 1 else ''}"
    if mark_sent:
        assert batch.sent_at is not None
        click.echo(f"batch {batch.id} ({n}) recorded as sent on {batch.sent_at.date()}", err=True)
    else:
        click.echo(f"batch {batch.id} ({n}) recorded; once it went out: qbsync sent {batch.id}", err=True)
    return batch
