"""`qbsync demo`: a sandbox company, connected, synced and worked on end to end, in one command."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from qbsync.cli.context import current_env
from qbsync.cli.options import Output, with_output
from qbsync.demo import DEFAULT_CUSTOMERS, DEFAULT_DIR


@click.command("demo")
@click.option("--dir", "work_dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_DIR,
              show_default=True, help="Work directory for the sandbox, cache, tokens and CSVs.")
@click.option("--fresh", is_flag=True, help="Wipe a previous demo in --dir first.")
@click.option("--customers", type=click.IntRange(min=1), default=DEFAULT_CUSTOMERS, show_default=True,
              help="Customers in the generated company.")
@click.option("--seed", type=int, default=42, show_default=True, help="Same seed, same company.")
@with_output(json_alias=True, output_help="Write the summary to FILE (atomically) instead of the terminal.")
def demo_cmd(work_dir: Path, fresh: bool, customers: int, seed: int, out: Output) -> None:
    """Seed a sandbox company, connect through OAuth, sync, run the rules, write outreach CSVs and reports.

    Everything stays in --dir; the sandbox server runs only while the demo does. Nothing is
    written back to the (sandbox) company: the write-back step only saves a plan.
    """
    from qbsync.demo import DemoOptions, run_demo

    # The steps' progress goes with the tour on stdout; with --format json|csv or -o it goes to stderr.
    to_stderr = out.fmt != "table" or out.path is not None

    def progress(line: str) -> None:
        click.echo(line, err=to_stderr)
        if not to_stderr:
            sys.stdout.flush()

    result = run_demo(DemoOptions(work_dir=work_dir, customers=customers, seed=seed, fresh=fresh),
                      progress=progress, clock=current_env().clock)
    if out.fmt == "json":
        import json

        out.write(json.dumps(result.to_json(), indent=2, default=str) + "\n")
    elif out.fmt == "csv":
        out.rows(("step", "seconds", "summary"),
                 [{"step": s.name, "seconds": round(s.seconds, 2), "summary": s.line} for s in result.steps])
    else:
        out.write(result.tour())


def register(cli: click.Group) -> None:
    cli.add_command(demo_cmd)
