"""The command line loads a command's modules when it is used, and `--help` loads none of the heavy ones:
`qbsync --help` lists commands from the table, every `--help` answers without numpy, scipy, faker or
SQLAlchemy, and cron's `qbsync sync` starts fast. Imports, not times: speed is in docs/benchmarks.md."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]

#: What no `--help` may import: the numerics, the sample-data generator, the database layer, the
#: matcher, the QuickBooks client.
HEAVY = ("numpy", "scipy", "faker", "sqlalchemy", "alembic", "rapidfuzz", "phonenumbers", "quickbooks",
         "requests", "qbsync.rules.duplicates.detect", "qbsync.sandbox.generator")


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
    assert result.exit_code == 0
    for name, entry in COMMANDS.items():  # the table's one-line help, on one line
        assert f"  {name} " in result.output and entry.help in result.output, name


def _paths(cmd: click.Command, path: list[str]) -> Iterator[list[str]]:
    yield path
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd)
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from _paths(sub, [*path, name])


def _every_path() -> dict[str, list[list[str]]]:
    """Every command's path, by top-level command (walked here: that loads every module)."""
    from qbsync.cli import cli

    by_top: dict[str, list[list[str]]] = {"": [[]]}
    for path in _paths(cli, []):
        if path:
            by_top.setdefault(path[0], []).append(path)
    return by_top


HELP_RUN = """
import json, sys
from qbsync.cli import cli
heavy, loaded = json.loads(sys.argv[1]), {}
for path in json.loads(sys.argv[2]):
    try:
        cli([*path, "--help"], standalone_mode=False)
    except SystemExit:
        pass
    for m in heavy:
        if m in sys.modules and m not in loaded:
            loaded[m] = " ".join(path)
print(json.dumps(loaded))
"""


@pytest.mark.parametrize("top", sorted(_every_path()))
def test_no_help_imports_the_heavy_modules(top: str) -> None:
    # One fresh interpreter per top-level command; each of its commands' --help in turn, as a user
    # would type them. The first to import a heavy module is named.
    paths = _every_path()[top]
    out = subprocess.run([sys.executable, "-c", HELP_RUN, json.dumps(HEAVY), json.dumps(paths)], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {}, out.stdout


def test_constants_read_for_help_are_the_librarys() -> None:
    import importlib

    from qbsync.cli.choices import READ, literal

    _every_path()  # builds every command, so every constant is read
    assert READ
    for module, name in READ:
        assert literal(module, name) == getattr(importlib.import_module(module), name), (module, name)


def _loaded(setup: str, modules: tuple[str, ...]) -> list[str]:
    """Which of ``modules`` a fresh interpreter has imported after running ``setup``."""
    code = (f"import json, sys\n{setup}\n"
            f"print(json.dumps(sorted(m for m in {modules!r} if m in sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def test_sync_loads_neither_the_rules_nor_the_sample_data() -> None:
    setup = ("from qbsync.cli import cli\n"
             "try:\n    cli(['sync', '--help'], standalone_mode=False)\nexcept SystemExit:\n    pass")
    assert _loaded(setup, HEAVY) == []


def test_a_sync_with_a_valid_token_loads_no_oauth_library() -> None:
    # intuit-oauth (and PyJWT and cryptography behind it) is needed only to refresh, log in or revoke.
    setup = "import qbsync.cli.sync, qbsync.sync.runner, qbsync.qbo.client"
    assert _loaded(setup, ("intuitlib.client", "jwt", "cryptography")) == []
