"""`qbsync documents letters | statements | templates`: what a bookkeeper sends, as PDF or HTML."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from qbsync.cli.context import CommandContext, with_context
from qbsync.cli.options import statement_options
from qbsync.cli.outreach import dunning_options, mark_sent_options, record_batch
from qbsync.errors import InputError


def _output_options(f: Any) -> Any:
    f = click.option("--paper", type=click.Choice(["A4", "Letter"]),
                     help="Paper size (default: Letter in the US and Canada, A4 elsewhere).")(f)
    f = click.option("--language",
                     help="Write every document in this language (default: each customer's).")(f)
    f = click.option("--templates", "template_dir", type=click.Path(file_okay=False, path_type=Path),
                     help="Folder of your own templates (see `documents templates --copy`).")(f)
    f = click.option("--locale", help="The company's locale, e.g. pt_BR (default: from its CompanyInfo).")(f)
    f = click.option("--dir", "out_dir", type=click.Path(file_okay=False, path_type=Path),
                     help="One file per customer in this folder.")(f)
    f = click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
                     help="One file with every document (each starts a new page).")(f)
    return click.option("--format", "fmt", type=click.Choice(["pdf", "html"]), default="pdf",
                        show_default=True, help="PDF (WeasyPrint) or HTML.")(f)


def _composer(ctx: CommandContext, locale: str | None, template_dir: Path | None, language: str | None,
              paper: str | None) -> Any:
    from qbsync.documents.company import company
    from qbsync.documents.compose import Composer

    return Composer(company(ctx.engine, ctx.realm_id, locale=locale), template_dir, language, paper)


def _check_output(output: Path | None, out_dir: Path | None) -> None:
    if (output is None) == (out_dir is None):
        raise InputError("give either -o FILE (one file) or --dir DIR (one file per customer)",
                         hint="e.g. --dir letters/ or -o letters.pdf")


def _write(articles: list[Any], composer: Any, fmt: str, output: Path | None, out_dir: Path | None,
           title: str, name_of: Any) -> dict[str, str]:
    """Write the batch file or one file per customer; customer id -> the file it is in."""
    from qbsync.documents.compose import PdfMaker
    from qbsync.files import write_atomic, write_atomic_bytes

    _check_output(output, out_dir)
    maker = PdfMaker() if fmt == "pdf" else None
    files: dict[str, str] = {}
    if output is not None:
        if maker is None:
            write_atomic(output, composer.page(articles, title=title, pdf=False))
        else:
            write_atomic_bytes(output, maker.pdfs(composer, articles, title=title))
        files = {a.customer_id: str(output) for a in articles}
    else:
        assert out_dir is not None
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = [out_dir / f"{name_of(a)}.{fmt}" for a in articles]
        if maker is None:
            for a, path in zip(articles, paths, strict=True):
                write_atomic(path, composer.page([a], title=f"{title}: {a.name}", pdf=False))
        else:
            maker.files(composer, articles, paths, title=title)
        files = {a.customer_id: str(path) for a, path in zip(articles, paths, strict=True)}
    for note in composer.warnings:
        click.echo(f"note: {note}", err=True)
    return files


@click.group("documents")
def documents_group() -> None:
    """Letters and statements to send: PDF or HTML, in each customer's language, from editable templates."""


@documents_group.command("letters")
@dunning_options("Only these letters (repeatable; default all that are due).")
@_output_options
@mark_sent_options("mail")
@with_context()
def letters_cmd(ctx: CommandContext, letters: tuple[str, ...], within_days: int, min_gap_days: int, fmt: str,
                output: Path | None, out_dir: Path | None, locale: str | None, template_dir: Path | None,
                language: str | None, paper: str | None, mark_sent: bool, channel: str) -> None:
    """Reminder and dunning letters due today, one per customer: reminder, first, second or final notice,
    one stage on from the last letter marked sent (see `campaign dunning` for the same list as CSV)."""
    from qbsync.campaigns import dunning
    from qbsync.documents.compose import slug
    from qbsync.documents.letters import letters as make_letters

    _check_output(output, out_dir)
    composer = _composer(ctx, locale, template_dir, language, paper)
    found = dunning.dunning_plan(ctx.engine, ctx.realm_id, ctx.as_of, within_days=within_days,
                                 min_gap_days=min_gap_days)
    chosen = letters or dunning.LETTERS
    made = make_letters(ctx.engine, ctx.realm_id, found, composer, chosen)
    if not made:
        click.echo(f"no letter is due on {ctx.as_of} ({found.count('waiting')} customers waiting, "
                   f"{found.count('past final')} past the final notice)")
        return
    by_id = {c.customer_id: c for c, _ in made}
    files = _write([a for _, a in made], composer, fmt, output, out_dir, f"Letters {ctx.as_of}",
                   lambda a: f"{by_id[a.customer_id].letter}-{a.customer_id}-{slug(a.name)}")
    counts = {s: sum(1 for c, _ in made if c.letter == s) for s in chosen}
    click.echo("letters: " + ", ".join(f"{s} {n}" for s, n in counts.items() if n)
               + f" -> {output or out_dir}")
    record_batch(ctx, "dunning", dunning.outreach_items(found, chosen, channel=channel, files=files),
                 f"letters {ctx.as_of} ({fmt})", {"command": "documents letters", "format": fmt,
                                                  "output": str(output or out_dir), "letters": list(chosen)},
                 mark_sent)


@documents_group.command("statements")
@click.argument("customers", nargs=-1)
@statement_options
@_output_options
@mark_sent_options("mail")
@with_context()
def statements_cmd(ctx: CommandContext, customers: tuple[str, ...], kind: str, batch: bool, balance: str,
                   from_: datetime | None, open_item_days: int, fmt: str, output: Path | None,
                   out_dir: Path | None, locale: str | None, template_dir: Path | None, language: str | None,
                   paper: str | None, mark_sent: bool, channel: str) -> None:
    """Statements for CUSTOMERS (Ids or exact names) or a batch (--all), QuickBooks' kinds as `report
    statement` makes them, each in its customer's language."""
    from qbsync.customers.outreach import ItemSpec
    from qbsync.documents.compose import slug
    from qbsync.documents.statements import statements

    if bool(customers) == batch:
        raise InputError("name the customers or pass --all",
                         hint="e.g. qbsync documents statements 58 -o s.pdf")
    _check_output(output, out_dir)
    composer = _composer(ctx, locale, template_dir, language, paper)
    made = statements(ctx.engine, ctx.realm_id, list(customers), ctx.as_of, from_.date() if from_ else None,
                      composer, kind=kind, balance=balance, open_item_days=open_item_days)
    if not made:
        click.echo(f"no customer to send a statement to on {ctx.as_of} (--balance {balance})")
        return
    files = _write([a for _, a in made], composer, fmt, output, out_dir, f"Statements {ctx.as_of}",
                   lambda a: f"statement-{a.customer_id}-{slug(a.name)}")
    click.echo(f"statements: {len(made)} -> {output or out_dir}")
    items = [ItemSpec(v.customer_id, "statement", channel, v.kind,
                      {"amount_due": None if v.amount_due is None else str(v.amount_due),
                       "file": files.get(v.customer_id)}) for v, _ in made]
    record_batch(ctx, "statement", items, f"statements {ctx.as_of} ({fmt})",
                 {"command": "documents statements", "format": fmt, "output": str(output or out_dir)},
                 mark_sent)


@documents_group.command("templates")
@click.option("--copy", "copy_to", type=click.Path(file_okay=False, path_type=Path),
              help="Copy the built-in templates and translations here to edit them.")
def templates_cmd(copy_to: Path | None) -> None:
    """List the built-in templates, or copy them (and their translations) to a folder to edit; then pass
    --templates DIR to `documents letters` / `statements` (a template there wins over the built-in one)."""
    from qbsync.documents.localise import LOCALE_DIR
    from qbsync.documents.templating import BUILTIN

    names = sorted(p.name for p in BUILTIN.iterdir() if p.is_file() and p.name != "report.html")
    if copy_to is None:
        for name in names:
            click.echo(name)
        return
    copy_to.mkdir(parents=True, exist_ok=True)
    kept = [n for n in names if (copy_to / n).exists()]
    if kept:
        raise InputError(f"{copy_to} already has {', '.join(kept)}", hint="copy to an empty folder")
    for name in names:
        shutil.copy2(BUILTIN / name, copy_to / name)
    shutil.copytree(LOCALE_DIR, copy_to / "locale", dirs_exist_ok=True)
    click.echo(f"copied {len(names)} templates and the translations to {copy_to}; edit them and pass "
               f"--templates {copy_to}")


def register(cli: click.Group) -> None:
    cli.add_command(documents_group)
