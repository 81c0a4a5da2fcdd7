"""The `qbsync writeback` commands end to end on a fake QuickBooks: plan, dry run, apply, log, undo."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from qbsync.cli import cli
from qbsync.cli.context import Env
from tests.clirunner import EnvRunner
from tests.writeback.conftest import REALM, Company, mirror


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, qbo: Company, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("QBSYNC_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")
    return EnvRunner(Env(connect=lambda settings, realm_id, clock: qbo))


def _company(qbo: Company) -> None:
    for cid, when in (("1", date(2024, 2, 1)), ("2", date(2024, 5, 9)), ("3", date(2026, 10, 1))):
        qbo.add_customer(cid, f"Customer {cid}", token="1")
        qbo.add_txn("Invoice", cid, when)
    qbo.add_customer("4", "Owes Us", token="1")
    qbo.add_txn("Invoice", "4", date(2023, 1, 1), "80.00", open_=True)


def test_plan_apply_log_undo_from_the_command_line(
    runner: CliRunner, session: Session, qbo: Company, db_url: str, tmp_path: Path
) -> None:
    _company(qbo)
    mirror(session, qbo)
    common = ["--realm", REALM, "--cache-url", db_url]
    out = runner.invoke(
        cli, ["writeback", "plan", "--rule", "inactive", "--as-of", "2026-11-23", "--format", "json", *common]
    )
    assert out.exit_code == 0, out.output
    plan = json.loads(out.stdout)
    assert {i["customer_id"] for i in plan["items"]} == {"1", "2"}  # 3 is recent, 4 owes money
    assert all(i["new"] == "inactive" and i["sync_token"] == "1" for i in plan["items"])

    csv_file = tmp_path / "plan.csv"
    out = runner.invoke(
        cli,
        [
            "writeback",
            "plan",
            "--rule",
            "inactive",
            "--as-of",
            "2026-11-23",
            "--format",
            "csv",
            "--output",
            str(csv_file),
            *common,
        ],
    )
    assert out.exit_code == 0, out.output
    assert len(list(csv.DictReader(io.StringIO(csv_file.read_text())))) == 2
    # -o as on every other command (shared option), written atomically with a "wrote" note
    json_file = tmp_path / "plan.json"
    out = runner.invoke(cli, ["writeback", "plan", "--rule", "inactive", "--as-of", "2026-11-23",
                              "--format", "json", "-o", str(json_file), *common])
    assert out.exit_code == 0, out.output
    assert len(json.loads(json_file.read_text())["items"]) == 2 and f"wrote {json_file}" in out.stderr

    # The saved plan again, unchanged and without making a new one.
    shown = runner.invoke(cli, ["writeback", "show", plan["plan_id"], "--format", "json",
                                "--cache-url", db_url])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["items"] == plan["items"]
    plans = json.loads(runner.invoke(cli, ["writeback", "log", "--plans", "--json", *common]).stdout)
    assert len(plans) == 3  # the three `plan` calls above, none from `show`

    dry = runner.invoke(cli, ["writeback", "apply", plan["plan_id"], *common])
    assert dry.exit_code == 0, dry.output
    assert "would_apply" in dry.stdout and "Nothing was written" in dry.stderr
    assert all(c["Active"] for c in qbo.customers.values())

    real = runner.invoke(cli, ["writeback", "apply", plan["plan_id"], "--yes", "--format", "json", *common])
    assert real.exit_code == 0, real.output
    report = json.loads(real.stdout)
    assert report["counts"] == {"applied": 2}
    assert not qbo.customers["1"]["Active"] and not qbo.customers["2"]["Active"]

    log = runner.invoke(cli, ["writeback", "log", "--json", *common])
    assert log.exit_code == 0, log.output
    events = json.loads(log.stdout)
    assert [e["event"] for e in events if e["customer_id"] == "1"] == ["sent", "applied"]
    assert "secret" not in log.stdout.lower()

    undo = runner.invoke(cli, ["writeback", "undo", report["run_id"], "--yes", *common])
    assert undo.exit_code == 0, undo.output
    assert qbo.customers["1"]["Active"] and qbo.customers["2"]["Active"]
    runs = json.loads(runner.invoke(cli, ["writeback", "log", "--runs", "--json", *common]).stdout)
    assert [r["kind"] for r in runs] == ["apply", "undo"]
    table = runner.invoke(cli, ["writeback", "log", "--runs", *common]).stdout
    assert "applied 2" in table and "{" not in table


def test_interrupted_apply_exits_nonzero_and_says_to_run_again(
    runner: CliRunner, session: Session, qbo: Company, db_url: str
) -> None:
    from qbsync.errors import ThrottledError

    _company(qbo)
    mirror(session, qbo)
    common = ["--realm", REALM, "--cache-url", db_url]
    plan = json.loads(
        runner.invoke(
            cli,
            ["writeback", "plan", "--rule", "inactive", "--as-of", "2026-11-23", "--format", "json", *common],
        ).stdout
    )

    def throttle(fake: Company, items: object) -> None:
        raise ThrottledError("ThrottleExceeded", status=429)

    qbo.before_batch[1] = throttle
    out = runner.invoke(cli, ["writeback", "apply", plan["plan_id"], "--yes", *common])
    assert out.exit_code == 6
    assert "run the same command again" in out.stderr
    again = runner.invoke(cli, ["writeback", "apply", plan["plan_id"], "--yes", *common])
    assert again.exit_code == 0, again.output
    assert not qbo.customers["1"]["Active"]


def test_unknown_plan_is_a_clean_error(runner: CliRunner, session: Session, qbo: Company,
                                       db_url: str) -> None:
    _company(qbo)
    mirror(session, qbo)
    out = runner.invoke(cli, ["writeback", "apply", "Pnothing", "--realm", REALM, "--cache-url", db_url])
    assert out.exit_code == 2  # bad input: not 6, whose "run it again" would make cron retry forever
    assert "no write-back plan 'Pnothing'" in out.stderr and "Traceback" not in out.output
    # The cache's only company needs no --realm; an unknown one, an unknown run or no cache at all
    # is a clear error, never a traceback or an empty answer.
    out = runner.invoke(cli, ["writeback", "apply", "Pnothing", "--cache-url", db_url])
    assert out.exit_code == 2 and "no write-back plan" in out.stderr
    out = runner.invoke(cli, ["writeback", "plan", "--rule", "inactive", "--realm", "123",
                              "--cache-url", db_url])
    assert out.exit_code == 2 and f"no company (realm) 123 in the cache: it holds {REALM}" in out.stderr
    out = runner.invoke(cli, ["writeback", "log", "--run", "Rnope", "--cache-url", db_url])
    assert out.exit_code == 2 and "no write-back run 'Rnope'" in out.stderr
    for args in (["writeback", "log", "--runs"], ["report", "health"]):
        out = runner.invoke(cli, [*args, "--realm", "123", "--cache-url", db_url])
        assert out.exit_code == 2 and "no company (realm) 123" in out.stderr, (args, out.output)
    missing = db_url.replace("cache.sqlite3", "absent.sqlite3")
    if missing.startswith("sqlite"):
        out = runner.invoke(cli, ["writeback", "plan", "--rule", "inactive", "--cache-url", missing])
        assert out.exit_code == 3 and "no cache at" in out.stderr and "qbsync sync" in out.stderr
        assert not Path(missing.removeprefix("sqlite:///")).exists()


def test_a_change_quickbooks_refuses_makes_apply_exit_nonzero(runner: CliRunner, session: Session,
                                                              qbo: Company, db_url: str) -> None:
    _company(qbo)
    mirror(session, qbo)
    common = ["--cache-url", db_url]
    plan = json.loads(runner.invoke(cli, ["writeback", "plan", "--rule", "inactive", "--as-of", "2026-11-23",
                                          "--format", "json", *common]).stdout)
    qbo.refuse["2"] = ("6240", "Duplicate Name Exists Error")
    out = runner.invoke(cli, ["writeback", "apply", plan["plan_id"], "--yes", "--format", "json", *common])
    assert out.exit_code == 6, out.output
    assert json.loads(out.stdout)["counts"] == {"applied": 1, "failed": 1}  # the report is still written
    assert "QuickBooks refused 1 change(s): Customer 2 (Id 2)" in out.stderr and "6240" in out.stderr


def test_duplicates_plan_takes_the_rules_threshold_and_deactivation_bar(runner: CliRunner, session: Session,
                                                                        qbo: Company, db_url: str) -> None:
    _company(qbo)
    mirror(session, qbo)
    common = ["--cache-url", db_url, "--format", "json"]
    out = runner.invoke(cli, ["writeback", "plan", "--rule", "duplicates", "--threshold", "0.8",
                              "--deactivate-at", "0.97", *common])
    assert out.exit_code == 0, out.output
    params = json.loads(out.stdout)["params"]
    assert (params["threshold"], params["deactivate_at"]) == (0.8, 0.97)
    assert (params["max_cluster"], params["country"]) == (20, None)  # the rule's defaults
    tuned = runner.invoke(cli, ["writeback", "plan", "--rule", "duplicates", "--max-cluster", "3",
                                "--country", "AU", *common])
    assert tuned.exit_code == 0, tuned.output
    assert {k: json.loads(tuned.stdout)["params"][k] for k in ("max_cluster", "country")} == {
        "max_cluster": 3, "country": "AU"}
    for option, value in (("--threshold", "0.8"), ("--max-cluster", "3"), ("--country", "AU")):
        wrong = runner.invoke(cli, ["writeback", "plan", "--rule", "inactive", option, value, *common])
        assert wrong.exit_code == 2 and "are for --rule duplicates" in wrong.stderr, option


def test_plan_and_show_csv_are_formula_safe(runner: CliRunner, session: Session, qbo: Company,
                                            db_url: str, tmp_path: Path) -> None:
    # Issue 10: `writeback plan|show --format csv` let a customer's =HYPERLINK(...) out raw.
    evil = {"5": '=HYPERLINK("http://evil.example","x")', "6": "\t=1+2", "7": "\r=1+2", "8": "-2+3"}
    for cid, name in evil.items():
        qbo.add_customer(cid, name, token="1")
        qbo.add_txn("Invoice", cid, date(2024, 2, 1))
    mirror(session, qbo)
    common = ["--realm", REALM, "--cache-url", db_url]
    out = runner.invoke(cli, ["writeback", "plan", "--rule", "inactive", "--as-of", "2026-11-23",
                              "--format", "csv", "-o", str(tmp_path / "plan.csv"), *common])
    assert out.exit_code == 0, out.output
    plan_id = re.search(r"^plan (\S+):", out.stderr, re.M).group(1)  # type: ignore[union-attr]
    shown = runner.invoke(cli, ["writeback", "show", plan_id, "--format", "csv", "--cache-url", db_url])
    assert shown.exit_code == 0, shown.output
    for text in ((tmp_path / "plan.csv").read_bytes().decode(), shown.stdout):
        names = {r["customer_id"]: r["display_name"] for r in csv.DictReader(io.StringIO(text, newline=""))}
        assert names == {cid: "'" + name for cid, name in evil.items()}
        assert '"\'\r=1+2"' in text  # the CR cell is quoted, so it cannot start a new row


def test_plan_judges_by_the_same_policy_as_the_rules(runner: CliRunner, session: Session, qbo: Company,
                                                     db_url: str, tmp_path: Path) -> None:
    # The config file's [rules.inactive] excluded a customer from `rules inactive`, but `writeback
    # plan` read it only with --policy FILE: the plan would deactivate a customer the list spared.
    _company(qbo)
    mirror(session, qbo)
    (tmp_path / "none.toml").write_text('[rules.inactive]\nexclude_names = ["Customer 1"]\n')
    common = ["--cache-url", db_url, "--as-of", "2026-11-23", "--format", "json"]
    listed = json.loads(runner.invoke(cli, ["rules", "inactive", *common]).stdout)
    plan = json.loads(runner.invoke(cli, ["writeback", "plan", "--rule", "inactive", *common]).stdout)
    assert {f["customer_id"] for f in listed["findings"] if f["action"] == "deactivate"} == {"2"}
    assert {i["customer_id"] for i in plan["items"]} == {"2"}
    assert plan["params"]["policy"]["exclude_names"] == ["Customer 1"]
    # the same option names as `qbsync rules`
    both = ["--exclude", "Customer 2", "--estimates", "--days", "400", *common]
    assert runner.invoke(cli, ["writeback", "plan", "--rule", "inactive", *both]).exit_code == 0
    window = runner.invoke(cli, ["writeback", "plan", "--rule", "reactivate", "--window", "30", *common])
    assert window.exit_code == 0 and json.loads(window.stdout)["params"]["reactivate_days"] == 30
    old = runner.invoke(cli, ["writeback", "plan", "--rule", "inactive", "--include-estimates", *common])
    assert old.exit_code == 2 and "No such option" in old.output
