"""`qbsync demo`: a sandbox company, connected, synced and worked on end to end, in one command."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from qbsync.demo import DEFAULT_CUSTOMERS, DEFAULT_DIR, DemoOptions, run_demo


@click.command("demo")
@click.option("--dir", "work_dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_DIR,
              show_default=True, help="Work directory for the sandbox, cache, tokens and CSVs.")
@click.option("--fresh", is_flag=True, help="Wipe a previous demo in --dir first.")
@click.option("--customers", type=click.IntRange(min=1), default=DEFAULT_CUSTOMERS, show_default=True,
              help="Customers in the generated company.")
@click.option("--seed", type=int, default=42, show_default=True, help="Same seed, same company.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary instead of the tour.")
def demo_cmd(work_dir: Path, fresh: bool, customers: int, seed: int, as_json: bool) -> None:
    """Seed a sandbox company, connect through OAuth, sync, run the rules, write outreach CSVs and reports.

    Everything stays in --dir; the sandbox server runs only while the demo does. Nothing is
    written back to the (sandbox) company: the write-back step only saves a plan.
    """
    root = click.get_current_context().find_root()
    if not root.params.get("verbose"):
        # The steps print their own progress; library INFO lines (migrations, plan saved) are noise here.
        for name in ("alembic", "qbsync"):
            logging.getLogger(name).setLevel(logging.WARNING)

    def progress(line: str) -> None:
        click.echo(line, err=as_json)
        if not as_json:
            sys.stdout.flush()

    result = run_demo(DemoOptions(work_dir=work_dir, customers=customers, seed=seed, fresh=fresh),
                      progress=progress)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, default=str))
    else:
        click.echo(result.tour(), nl=False)


def register(cli: click.Group) -> None:
    cli.add_command(demo_cmd)
