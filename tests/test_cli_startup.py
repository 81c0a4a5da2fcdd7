"""The command line loads a command's modules when it is used: cron's `qbsync sync` starts fast."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]

HEAVY = ("scipy", "rapidfuzz", "faker", "qbsync.rules.duplicates", "qbsync.sandbox.generator")


def test_the_table_of_commands_matches_what_the_modules_register() -> None:
    from qbsync.cli import COMMANDS, cli

    ctx = click.Context(cli)
    for name in COMMANDS:
        assert cli.get_command(ctx, name) is not None, name
    assert set(cli.commands) == set(COMMANDS)  # nothing registered that the table does not know
    rules = cli.get_command(ctx, "rules")
    assert isinstance(rules, click.Group) and "duplicates" in rules.commands
    sandbox = cli.get_command(ctx, "sandbox")
    assert isinstance(sandbox, click.Group) and {"seed", "load", "advance"} <= set(sandbox.commands)
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0 and all(f"  {name} " in result.output for name in COMMANDS)


def test_sync_loads_neither_the_rules_nor_the_sample_data() -> None:
    code = ("import sys\nfrom qbsync.cli import cli\n"
            "try:\n    cli(['sync', '--help'], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
