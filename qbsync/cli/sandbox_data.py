"""`qbsync sandbox seed | load | advance`: fill the sandbox with generated, imported or future activity."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click

from qbsync.errors import InputError

DEFAULT_REALM = "9341453050000001"  # the sandbox server's default company
_F = TypeVar("_F", bound=Callable[..., Any])


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{option} {value!r} is not a date", hint="write it as YYYY-MM-DD") from None


def _open_store(db_path: str):  # type: ignore[no-untyped-def]
    from qbsync.sandbox.store import Store

    return Store(db_path)


def _db_option(creates: bool) -> Callable[[_F], _F]:
    """``--db``: the sandbox's SQLite file, made when missing (``creates``) or else required to exist."""
    from qbsync.cli.sandbox import db_file

    return click.option("--db", "db_path", required=True, type=click.Path(exists=not creates, dir_okay=False),
                        callback=db_file,
                        help="SQLite file of the sandbox" + (" (created if missing)." if creates else "."))


@click.command("seed")
@_db_option(creates=True)
@click.option("--realm", "realm_id", default=DEFAULT_REALM, show_default=True, help="Company id to create.")
@click.option("--seed", default=42, show_default=True, type=int, help="Same seed, same company.")
@click.option(
    "--customers",
    default=2000,
    show_default=True,
    type=click.IntRange(1),
    help="Top-level customer records (planted duplicates included; jobs come on top).",
)
@click.option("--years", default=3, show_default=True, type=click.IntRange(1, 30), help="Years of history.")
@click.option("--end-date", default=None, help="Last day of history, YYYY-MM-DD (default: today).")
@click.option(
    "--truth",
    "truth_path",
    default=None,
    type=click.Path(dir_okay=False),
    help="Where to write the ground truth JSON (default: beside --db, <db>.<realm>.truth.json).",
)
@click.option(
    "--everyday",
    is_flag=True,
    help="Add the edits a bookkeeper makes: discounts and sales tax, refunds, voided and deleted "
    "transactions, unapplied payments, A/R journal entries (see docs/sandbox-data.md).",
)
def seed_cmd(
    db_path: str,
    realm_id: str,
    seed: int,
    customers: int,
    years: int,
    end_date: str | None,
    truth_path: str | None,
    everyday: bool,
) -> None:
    """Generate a sample company with known ground truth into the sandbox DB."""
    from qbsync.sandbox.generator import CompanySpec, seed_realm

    end = _date(end_date, "--end-date") or date.today()
    store = _open_store(db_path)
    if store.has_realm(realm_id) and store.count(realm_id, "Customer"):
        raise InputError(
            f"company {realm_id} already has customers in {db_path}",
            hint="pick another --realm or a new --db file",
        )
    make = CompanySpec.everyday if everyday else CompanySpec
    spec = make(seed=seed, customers=customers, years=years, end_date=end)
    out = Path(truth_path) if truth_path else Path(f"{db_path}.{realm_id}.truth.json")
    from qbsync.cli.progress import CountProgress, on_terminal

    started = time.monotonic()
    bar = CountProgress("customers", customers, unit="customers") if on_terminal() else None

    def progress(counts: dict[str, int], done: int, total: int) -> None:
        if bar is not None:
            txns = sum(n for e, n in counts.items() if e not in ("Customer", "Item", "Department", "Class"))
            bar.update(done, total=total, description=f"{txns:,} txns")

    with bar if bar is not None else contextlib.nullcontext():
        truth = seed_realm(store, realm_id, spec, truth_path=out, progress=progress)
    elapsed = time.monotonic() - started
    counts = truth["counts"]
    click.echo(
        f"seeded company {realm_id} in {db_path} ({elapsed:.1f} s, seed {seed}, as of {truth['as_of']})"
    )
    click.echo("  " + ", ".join(f"{e} {n:,}" for e, n in counts.items()))
    click.echo(
        f"  planted: {len(truth['duplicate_clusters'])} duplicate clusters, {len(truth['churned'])} churned "
        f"({len(truth['came_back'])} came back), {len(truth['inactive_in_qbo'])} inactive in QuickBooks "
        f"({len(truth['inactive_in_qbo_but_active'])} with recent activity), "
        f"{len(truth['brand_new'])} brand-new"
    )
    click.echo(f"  ground truth: {out}")


@click.command("load")
@_db_option(creates=True)
@click.option("--realm", "realm_id", required=True, help="Company id to load into (created if missing).")
@click.option("--company-name", default=None, help="Name of a newly created company.")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def load_cmd(db_path: str, realm_id: str, company_name: str | None, files: tuple[str, ...]) -> None:
    """Import FILES: QBO JSON (Customer.json, QueryResponse envelopes), JSON Lines (.jsonl), or CSV
    (customers: name, email, phone, address...; sales: customer, date, amount)."""
    from qbsync.sandbox.loaders import LoadError, load_files

    store = _open_store(db_path)
    try:
        counts = load_files(store, realm_id, [Path(f) for f in files], company_name=company_name)
    except LoadError as exc:
        raise InputError(
            str(exc), hint="fix the file and run the same command again; nothing was loaded"
        ) from None
    click.echo(f"loaded into company {realm_id}: " + ", ".join(f"{e} {n:,}" for e, n in counts.items()))
    for line in counts.skipped:
        click.echo(f"  {line}", err=True)


@click.command("advance")
@_db_option(creates=False)
@click.option("--realm", "realm_id", required=True)
@click.option("--days", required=True, type=click.IntRange(1, 366), help="How many days to play forward.")
@click.option(
    "--start",
    default=None,
    help="First day, YYYY-MM-DD (default: the day after the seeded history, else today).",
)
@click.option(
    "--contacted",
    "contacted_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Customer Ids reached by a campaign: one per line, or a CSV with an 'Id' column.",
)
@click.option(
    "--contacted-rate",
    required=True,
    type=click.FloatRange(0, 1),
    help="Share of contacted customers who buy again.",
)
@click.option(
    "--other-rate",
    required=True,
    type=click.FloatRange(0, 1),
    help="Share of every other active customer who buys.",
)
@click.option("--seed", default=1, show_default=True, type=int)
@click.option(
    "-o",
    "--output",
    "out_path",
    default=None,
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Write who returned as JSON to FILE (atomically), as -o does on every command.",
)
def advance_cmd(
    db_path: str,
    realm_id: str,
    days: int,
    start: str | None,
    contacted_file: str,
    contacted_rate: float,
    other_rate: float,
    seed: int,
    out_path: str | None,
) -> None:
    """Create the next DAYS of purchases: contacted customers return at one rate, others at another."""
    from qbsync.sandbox.generator.timeforward import advance

    store = _open_store(db_path)
    if not store.has_realm(realm_id):
        raise InputError(f"no company {realm_id} in {db_path}", hint="seed or load it first")
    contacted = _read_ids(Path(contacted_file))
    first = (
        _date(start, "--start") or _after_history(Path(f"{db_path}.{realm_id}.truth.json")) or date.today()
    )
    try:
        result = advance(
            store,
            realm_id,
            days,
            start=first,
            contacted_ids=contacted,
            contacted_rate=contacted_rate,
            other_rate=other_rate,
            seed=seed,
        )
    except ValueError as exc:
        raise InputError(str(exc), hint="use Ids of customers in this company") from None
    c, o = result["contacted"], result["others"]
    click.echo(
        f"{result['start']} .. {result['end']}: contacted {len(c['returned'])}/{c['population']} "
        f"returned ({c['share']:.1%}), others {len(o['returned'])}/{o['population']} ({o['share']:.1%}); "
        f"{result['transactions_created']} transactions"
    )
    if out_path:
        from qbsync.files import write_atomic

        write_atomic(out_path, json.dumps(result, indent=1, sort_keys=True) + "\n")
        click.echo(f"  details: {out_path}")


@click.command("merge")
@_db_option(creates=False)
@click.option("--realm", "realm_id", required=True)
@click.option("--entity", type=click.Choice(["Customer", "Vendor"], case_sensitive=False), default="Customer",
              show_default=True)
@click.option("--from", "from_id", required=True, help="Id of the record merged away (left inactive).")
@click.option("--into", "into_id", required=True, help="Id of the record that survives.")
def merge_cmd(db_path: str, realm_id: str, entity: str, from_id: str, into_id: str) -> None:
    """Merge two customers (or vendors) as the QuickBooks UI does: history moves to --into, --from is made
    inactive, and a webhook Merge event is sent (the API itself cannot merge)."""
    from qbsync.sandbox.apifault import ApiFault
    from qbsync.sandbox.ledger import Ledger
    from qbsync.sandbox.merge import MergeError, merge

    store = _open_store(db_path)
    try:
        done = merge(Ledger(store), realm_id, entity, from_id, into_id)
    except MergeError as exc:
        raise InputError(str(exc), hint="check the Ids (the sandbox's query API); nothing changed") from None
    except ApiFault as fault:
        raise InputError(f"merge refused: {fault.detail}", hint="nothing was changed") from None
    click.echo(f"merged {done['entity']} {done['merged']} into {done['into']} in company {realm_id}: "
               f"{done['transactions']} transaction(s) and {done['jobs']} sub-customer(s) moved")


def _after_history(truth_path: Path) -> date | None:
    if not truth_path.is_file():
        return None
    as_of = date.fromisoformat(json.loads(truth_path.read_text(encoding="utf-8"))["as_of"])
    return date.fromordinal(as_of.toordinal() + 1)


def _read_ids(path: Path) -> set[str]:
    import csv

    text = path.read_text(encoding="utf-8-sig")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if lines and not lines[0].strip().isdigit():  # a header: read it as CSV
        reader = csv.DictReader(lines)
        col = next(
            (c for c in reader.fieldnames or [] if c.strip().lower() in ("id", "customer id", "customerid")),
            None,
        )
        if col is None:
            raise InputError(
                f"{path}: no 'Id' column", hint="one customer Id per line, or a CSV with an Id column"
            )
        ids = {row[col].strip() for row in reader if row.get(col, "").strip()}
    else:
        ids = {ln.strip() for ln in lines}
    bad = sorted(i for i in ids if not i.isdigit())
    if bad:
        raise InputError(f"{path}: {bad[0]!r} is not a customer Id", hint="customer Ids are numbers")
    return ids


def register(cli: click.Group) -> None:
    group = cli.commands["sandbox"]
    assert isinstance(group, click.Group)
    group.add_command(seed_cmd)
    group.add_command(load_cmd)
    group.add_command(advance_cmd)
    group.add_command(merge_cmd)
