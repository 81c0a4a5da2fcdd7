"""What outreach commands share: `--mark-sent`, `--channel`, and recording the batch in the customer file."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from qbsync.cli.choices import choice
from qbsync.cli.context import CommandContext

if TYPE_CHECKING:
    from qbsync.customers import outreach

F = TypeVar("F", bound=Callable[..., Any])


def mark_sent_options(channel: str) -> Callable[[F], F]:
    def decorate(f: F) -> F:
        f = click.option("--channel", type=choice("qbsync.customers.outreach", "CHANNELS"), default=channel,
                         show_default=True, help="How it reaches customers (recorded with each contact).")(f)
        return click.option("--mark-sent", is_flag=True, help="Record it as sent now (otherwise: "
                            "`qbsync sent BATCH` once it went out).")(f)
    return decorate


def record_batch(ctx: CommandContext, kind: str, items: Sequence[outreach.ItemSpec], description: str,
                 params: dict[str, Any], mark_sent: bool,
                 campaign_id: int | None = None) -> outreach.Batch | None:
    """Record the batch and say so on stderr (stdout may be the file itself); None when nobody is in it."""
    from qbsync.customers import outreach

    if not items:
        return None
    batch = outreach.record(ctx.engine, ctx.realm_id, kind, items, ctx.clock, as_of=ctx.as_of,
                            description=description, params=params, campaign_id=campaign_id, sent=mark_sent)
    n = f"{batch.customers} customer{'s' if batch.customers != 1 else ''}"
    if mark_sent:
        click.echo(f"batch {batch.id} ({n}) recorded as sent", err=True)
    else:
        click.echo(f"batch {batch.id} ({n}) recorded; once it went out: qbsync sent {batch.id}", err=True)
    return batch
