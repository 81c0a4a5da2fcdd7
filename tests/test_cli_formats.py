"""Every command behaves alike: --format table|csv|json and -o on every command that prints data, the
same option names for the same thing, and one home for each rule's list."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import click
import pytest

from qbsync.cli import cli
from tests.builder import CacheBuilder
from tests.clirunner import EnvRunner

#: Every command that prints data (issue 10 part 3 names status, the sync summary, auth status,
#: writeback log, campaign report and demo; the rest had it already).
DATA_COMMANDS = [
    "status", "sync", "demo", "auth status", "writeback plan", "writeback show", "writeback apply",
    "writeback undo", "writeback log", "rules inactive", "rules reactivate", "rules disappearing",
    "rules duplicates", "report best", "report cross", "report aging", "report payments", "report statement",
    "report baddebt", "report health", "report lost", "campaign segments", "campaign list", "campaign report",
    "campaign followup", "campaign dunning", "sent", "worker", "sandbox webhooks show",
    "sandbox webhooks log",
]


def _command(path: str) -> click.Command:
    ctx = click.Context(cli)
    cmd: click.Command | None = cli
    for name in path.split():
        assert isinstance(cmd, click.Group), path
        cmd = cmd.get_command(ctx, name)
        assert cmd is not None, path
    assert cmd is not None
    return cmd


def _options(cmd: click.Command) -> dict[str, click.Parameter]:
    return {opt: p for p in cmd.params for opt in [*p.opts, *p.secondary_opts]}


@pytest.mark.parametrize("path", DATA_COMMANDS)
def test_every_command_that_prints_data_has_format_output_and_bom(path: str) -> None:
    options = _options(_command(path))
    fmt = options["--format"]
    assert isinstance(fmt.type, click.Choice) and list(fmt.type.choices) == ["table", "csv", "json"], path
    assert {"-o", "--output", "--bom"} <= set(options), path


def test_the_same_thing_has_the_same_name_in_rules_and_writeback_plan() -> None:
    policy = {"--policy", "--days", "--type-days", "--location-days", "--grace-days", "--exclude",
              "--estimates", "--no-estimates", "--window", "--as-of", "--realm", "--cache-url"}
    plan = set(_options(_command("writeback plan")))
    reactivate = set(_options(_command("rules reactivate")))
    assert policy <= plan and policy <= reactivate
    assert not {"--config", "--include-estimates", "--reactivate-days", "--cache"} & (plan | reactivate)
    # what shapes the duplicates list, named as `rules duplicates` names it (--max-cluster and --country
    # were missing, so a plan could not be made of the list a user had tuned)
    shaping = {"--threshold", "--deactivate-at", "--max-cluster", "--country", "--as-of", "--realm"}
    assert shaping <= set(_options(_command("rules duplicates"))) and shaping <= plan
    for path in ("rules inactive", "rules duplicates", "report aging", "report health", "status",
                 "writeback log", "campaign report", "customer show", "webhooks serve", "worker"):
        assert "--cache-url" in _options(_command(path)) and "--cache" not in _options(_command(path)), path


def test_every_rule_and_dated_report_takes_as_of() -> None:
    # The README: "Every rule and every dated report takes --as-of DATE". `report health` says how
    # fresh the cache is now (the cache keeps no history of its sync state; docs/cli.md says so).
    ctx = click.Context(cli)
    for group in ("rules", "report"):
        grp = _command(group)
        assert isinstance(grp, click.Group)
        for name in grp.list_commands(ctx):
            cmd = grp.get_command(ctx, name)
            assert cmd is not None
            if cmd.hidden or (group, name) == ("report", "health"):
                continue
            assert "--as-of" in _options(cmd), f"{group} {name}"
    assert "--as-of" not in _options(_command("report health"))
    cli_md = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text(encoding="utf-8")
    assert "`report health` has no `--as-of`" in cli_md


def test_report_rule_lists_point_to_their_one_home() -> None:
    for rule in ("inactive", "disappearing", "duplicates"):
        result = EnvRunner().invoke(cli, ["report", rule, "--days", "400"])
        assert result.exit_code == 2
        assert f"`qbsync report {rule}` is now `qbsync rules {rule}`" in result.output
    listed = EnvRunner().invoke(cli, ["report", "--help"]).output
    assert "inactive" not in listed.split("Commands:")[1]


@pytest.fixture
def shop(config_file: Path, sqlite_url: str) -> str:
    c = CacheBuilder(sqlite_url)
    for i in range(12):
        c.customer(str(i), f"=Customer {i}", email=f"c{i}@example.com")
        c.receipt(str(i), date(2023, 2, 1), "10.00")
    c.engine.dispose()
    return sqlite_url


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


def test_status_log_and_campaign_report_print_csv_and_json_and_write_files(shop: str, tmp_path: Path) -> None:
    runner = EnvRunner()
    status = _csv(runner.invoke(cli, ["status", "--cache-url", shop, "--format", "csv"]).stdout)
    assert {r["entity"] for r in status} >= {"Customer", "Invoice"}
    assert json.loads(runner.invoke(cli, ["status", "--cache-url", shop, "--json"]).stdout)[0]["realm_id"]
    out = tmp_path / "status.csv"
    done = runner.invoke(cli, ["status", "--cache-url", shop, "--format", "csv", "-o", str(out), "--bom"])
    assert done.exit_code == 0 and f"wrote {out}" in done.stderr
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    assert runner.invoke(cli, ["status", "--cache-url", shop, "--bom"]).exit_code == 2  # --bom is for CSV

    plan = runner.invoke(cli, ["writeback", "plan", "--rule", "inactive", "--cache-url", shop, "--as-of",
                               "2025-06-30", "--format", "json"])
    assert plan.exit_code == 0, plan.output
    plans = _csv(runner.invoke(cli, ["writeback", "log", "--plans", "--cache-url", shop, "--format", "csv"]
                               ).stdout)
    assert [p["plan_id"] for p in plans] == [json.loads(plan.stdout)["plan_id"]]
    assert len(plans[0]["created_at"]) == len("2026-12-05 14:03:07+00:00")  # to the second

    made = runner.invoke(cli, ["campaign", "create", "back", "--kind", "all", "--cache-url", shop,
                               "--as-of", "2025-01-01", "--seed", "3"])
    assert made.exit_code == 0, made.output
    report = _csv(runner.invoke(cli, ["campaign", "report", "back", "--cache-url", shop, "--format", "csv",
                                      "--as-of", "2025-03-01"]).stdout)
    assert [r["group"] for r in report] == ["contacted", "control"]
    assert sum(int(r["members"]) for r in report) == 12
