"""Options and output plumbing several commands share, declared once so names, types and help agree.

- ``with_output``: ``--format table|csv|json``, ``-o/--output FILE`` and ``--bom``, handed to the
  command as one ``Output`` that prints or writes atomically;
- ``policy_options``: the inactive policy's options, the same in ``rules`` and ``writeback plan``
  (``--policy``, ``--days``, ``--type-days``, ``--location-days``, ``--grace-days``, ``--exclude``,
  ``--estimates/--no-estimates``, ``--window``), turned into an ``InactivePolicy`` by ``policy_from``;
- ``statement_options``: which statements (``report statement``, ``documents statements``);
- ``column_pairs``: ``--columns FIELD=COLUMN``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from qbsync.cli.choices import choice, constant
from qbsync.cli.context import DATE
from qbsync.errors import InputError

if TYPE_CHECKING:
    from qbsync.reports.table import Table
    from qbsync.rules.policy import InactivePolicy
    from qbsync.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])

FORMATS = ("table", "csv", "json")


@dataclass
class Output:
    """Where and how a command's data goes: ``fmt``, ``path`` (None: the terminal) and ``bom``."""

    fmt: str = "table"
    path: Path | None = None
    bom: bool = False

    def write(self, text: str, *, rows: int | None = None) -> None:
        """Print ``text``, or write it atomically to ``path`` (never a half-written file) and say so."""
        if self.path is None:
            click.echo(text, nl=False)
            return
        from qbsync.files import write_atomic

        write_atomic(self.path, text)
        click.echo(f"wrote {self.path}" + (f" ({rows:,} row{'s' if rows != 1 else ''})" if rows is not None
                                           else ""), err=True)

    def table(self, table: Table) -> None:
        """A report ``Table`` as a terminal table, CSV for a spreadsheet, or JSON."""
        from qbsync.reports import render

        self.write(render.render(table, self.fmt, bom=self.bom), rows=len(table.rows))

    def rows(self, columns: Sequence[str], rows: Sequence[dict[str, Any]], *, title: str | None = None,
             doc: Any = None, width: int = 60) -> None:
        """Plain rows (dicts) as an aligned table, CSV for a spreadsheet, or JSON (``doc``, else the rows)."""
        if self.fmt == "json":
            import json

            self.write(json.dumps(rows if doc is None else doc, indent=2, default=_json_default) + "\n",
                       rows=len(rows))
        elif self.fmt == "csv":
            from qbsync.csvfile import csv_text
            from qbsync.texttable import shown

            cells = ([shown(v) if isinstance(v, dict) else v for v in (r.get(c) for c in columns)]
                     for r in rows)
            self.write(csv_text(columns, cells, bom=self.bom), rows=len(rows))
        else:
            from qbsync.texttable import aligned

            text = aligned(columns, rows, width=width)
            self.write((f"{title}\n" if title else "") + text, rows=len(rows))


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def format_option(choices: Sequence[str] = FORMATS, default: str = "table") -> Callable[[F], F]:
    return click.option("--format", "fmt", type=click.Choice(list(choices)), default=default,
                        show_default=True, help="Output format.")


def output_option(help: str = "Write to FILE (atomically) instead of the terminal.") -> Callable[[F], F]:
    return click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
                        help=help)


def bom_option() -> Callable[[F], F]:
    return click.option("--bom", is_flag=True,
                        help="Start CSV with a UTF-8 byte-order mark, so Excel reads it on double-click.")


def with_output(formats: Sequence[str] = FORMATS, *, json_alias: bool = False,
                output_help: str | None = None) -> Callable[[F], F]:
    """``--format``, ``-o/--output`` and ``--bom``, given to the command as ``out: Output``.

    ``json_alias``: also accept the older ``--json`` (same as ``--format json``).
    """
    def decorate(func: F) -> F:
        @functools.wraps(func)
        def run(*args: Any, **kw: Any) -> Any:
            fmt, path, bom = kw.pop("fmt"), kw.pop("output"), kw.pop("bom")
            if kw.pop("as_json", False):
                fmt = "json"
            if bom and fmt != "csv":
                raise InputError("--bom is for CSV files", hint="add --format csv, or drop --bom")
            return func(*args, out=Output(fmt, path, bom), **kw)

        wrapped: Any = bom_option()(run)
        wrapped = output_option(output_help or "Write to FILE (atomically) instead of the terminal.")(wrapped)
        if json_alias:
            wrapped = click.option("--json", "as_json", is_flag=True, help="Same as --format json.")(wrapped)
        wrapped = format_option(formats)(wrapped)
        return cast(F, wrapped)

    return decorate


def statement_options(func: F) -> F:
    """Which statements to make: ``--kind``, ``--from``, ``--all``, ``--balance``, ``--open-item-days``."""
    module = "qbsync.reports.statement"
    options = [
        click.option("--kind", type=choice(module, "KINDS"), default="balance-forward", show_default=True,
                     help="QuickBooks' statement type."),
        click.option("--from", "from_", type=DATE, metavar="DATE",
                     help="Start date (balance forward, transaction); earlier activity is the balance "
                          "forward."),
        click.option("--all", "batch", is_flag=True, help="A statement for every customer with --balance."),
        click.option("--balance", type=choice(module, "STATUSES"), default="open", show_default=True,
                     help="With --all: customers with an open balance, something overdue, or any (all)."),
        click.option("--open-item-days", type=click.IntRange(min=1),
                     default=constant(module, "OPEN_ITEM_DAYS"), show_default=True,
                     help="Open item statements list transactions of the last N days."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


# ---- the inactive policy, the same options wherever it is used -------------------------------------

POLICY_PARAMS = ("policy_path", "days", "type_days", "location_days", "grace_days", "exclude", "estimates",
                 "window")


def policy_options(*, window: bool = True) -> Callable[[F], F]:
    """The inactive policy's options (``rules inactive|reactivate|disappearing``, ``writeback plan``)."""
    options = [
        click.option("--policy", "policy_path", type=click.Path(dir_okay=False, path_type=Path),
                     metavar="FILE",
                     help="TOML file with a [rules.inactive] table (default: the settings' config file)."),
        click.option("--days", type=click.IntRange(min=1),
                     help="Inactive after this many days (default 365)."),
        click.option("--type-days", multiple=True, metavar="TYPE_ID=DAYS",
                     help="Threshold for a customer type (repeatable)."),
        click.option("--location-days", multiple=True, metavar="LOCATION=DAYS",
                     help="Threshold for a location, by Id or name (repeatable)."),
        click.option("--grace-days", type=click.IntRange(min=1),
                     help="Spare customers without transactions this long after creation (default 90)."),
        click.option("--exclude", multiple=True, metavar="ID_OR_GLOB",
                     help="Never flag this customer Id or name pattern, e.g. 'Internal*' (repeatable)."),
        click.option("--estimates/--no-estimates", "estimates", default=None,
                     help="Count estimates as activity (default: no, or the policy file)."),
    ]
    if window:
        options.append(click.option(
            "--window", type=click.IntRange(min=1), metavar="DAYS",
            help="Reactivate: activity within this many days makes an inactive customer due back "
                 "(default: the customer's inactive threshold)."))

    def decorate(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def policy_from(settings: Settings, kw: dict[str, Any]) -> InactivePolicy:
    """The policy file's ``[rules.inactive]`` (``--policy``, else the settings' config file) with the
    command line's overrides; pops the policy options out of ``kw``."""
    from qbsync.rules.policy import load_policy

    values = {name: kw.pop(name, None) for name in POLICY_PARAMS}
    policy = load_policy(values["policy_path"] or settings.config_path)
    exclude: tuple[str, ...] = values["exclude"] or ()
    type_days: tuple[str, ...] = values["type_days"] or ()
    location_days: tuple[str, ...] = values["location_days"] or ()
    ids = frozenset(e for e in exclude if e.isdigit())
    globs = tuple(e for e in exclude if not e.isdigit())
    return policy.with_overrides(
        days=values["days"], grace_days=values["grace_days"], include_estimates=values["estimates"],
        reactivate_days=values["window"],
        type_days={**policy.type_days, **_day_pairs(type_days, "--type-days")} if type_days else None,
        location_days=({**policy.location_days, **_day_pairs(location_days, "--location-days")}
                       if location_days else None),
        exclude_ids=policy.exclude_ids | ids if ids else None,
        exclude_names=policy.exclude_names + globs if globs else None,
    )


def describe_policy(p: InactivePolicy) -> dict[str, Any]:
    return {"days": p.days, "grace_days": p.grace_days, "reactivate_days": p.reactivate_days,
            "include_estimates": p.include_estimates, "type_days": dict(p.type_days),
            "location_days": dict(p.location_days), "exclude_ids": sorted(p.exclude_ids),
            "exclude_names": list(p.exclude_names)}


def _day_pairs(values: tuple[str, ...], option: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        key, sep, days = value.rpartition("=")
        if not sep or not key.strip() or not days.strip().isdigit() or int(days) < 1:
            raise InputError(f"{option} '{value}' is not KEY=DAYS", hint=f"for example {option} 3=730")
        out[key.strip()] = int(days)
    return out


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
