"""Options and output plumbing several commands share, declared once so names, types and help agree."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from qbsync.errors import InputError
from qbsync.files import write_atomic

F = TypeVar("F", bound=Callable[..., Any])

DATE = click.DateTime(formats=["%Y-%m-%d"])


def cache_url_option(*aliases: str) -> Callable[[F], F]:
    """``--cache-url`` (plus ``aliases``, e.g. the older ``--cache``) into parameter ``cache_url``."""
    return click.option(*aliases, "--cache-url", "cache_url", help="Cache database URL (default: settings).")


REALM_HELP = "QuickBooks company (realm) Id (default: settings, or the only one)."


def realm_option(help: str = REALM_HELP) -> Callable[[F], F]:
    return click.option("--realm", help=help)


def as_of_option(help: str = "See only what had happened by DATE (default today).") -> Callable[[F], F]:
    return click.option("--as-of", type=DATE, help=help, callback=_not_after_today)


def _not_after_today(ctx: click.Context, param: click.Parameter, value: datetime | None) -> datetime | None:
    # A date to come would judge today's customers by a future that has not happened: an inactive
    # plan "as of 2030" deactivates customers who bought this week.
    if value is not None and value.date() > date.today():
        raise InputError(f"--as-of {value.date().isoformat()} is after today ({date.today().isoformat()})",
                         hint="give today or a past date: rules and reports only see what has happened")
    return value


def format_option(choices: Sequence[str] | click.Choice, default: str = "table") -> Callable[[F], F]:
    kind = choices if isinstance(choices, click.Choice) else click.Choice(list(choices))
    return click.option("--format", "fmt", type=kind, default=default, show_default=True,
                        help="Output format.")


def output_option(help: str = "Write to FILE (atomically) instead of the terminal.") -> Callable[[F], F]:
    return click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help=help)


def write_output(text: str, output: Path | None, *, announce: bool = False) -> None:
    """Print ``text``, or write it atomically to ``output`` (never a half-written file)."""
    if output is None:
        click.echo(text, nl=False)
        return
    write_atomic(output, text)
    if announce:
        click.echo(f"wrote {output}", err=True)


def column_pairs(pairs: Sequence[str], example: str) -> dict[str, str]:
    """``--columns FIELD=COLUMN`` values as field -> CSV column."""
    out = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise InputError(f"--columns '{pair}' is not FIELD=COLUMN",
                             hint=f"for example --columns {example}")
        out[field.strip()] = column.strip()
    return out
