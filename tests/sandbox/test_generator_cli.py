"""`qbsync sandbox seed | load | advance` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from qbsync.cli import cli
from qbsync.sandbox.store import Store

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "sandbox"


def test_seed_then_advance_then_load(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    runner = CliRunner()
    res = runner.invoke(
        cli,
        [
            "sandbox",
            "seed",
            "--db",
            str(db),
            "--realm",
            "123",
            "--customers",
            "120",
            "--years",
            "1",
            "--end-date",
            "2025-06-30",
            "--seed",
            "4",
        ],
    )
    assert res.exit_code == 0, res.output
    truth_path = Path(f"{db}.123.truth.json")
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    assert truth["as_of"] == "2025-06-30" and str(truth_path) in res.output
    assert Store(str(db)).count("123", "Customer") == truth["counts"]["Customer"]

    again = runner.invoke(cli, ["sandbox", "seed", "--db", str(db), "--realm", "123"])
    assert again.exit_code == 2 and "already has customers" in again.output

    contacted = tmp_path / "contacted.txt"
    contacted.write_text("1\n2\n3\n", encoding="utf-8")
    out = tmp_path / "returned.json"
    res = runner.invoke(
        cli,
        [
            "sandbox",
            "advance",
            "--db",
            str(db),
            "--realm",
            "123",
            "--days",
            "14",
            "--contacted",
            str(contacted),
            "--contacted-rate",
            "1",
            "--other-rate",
            "0",
            "-o",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["start"] == "2025-07-01" and sorted(result["contacted"]["returned"]) == ["1", "2", "3"]
    assert result["others"]["returned"] == []

    res = runner.invoke(
        cli,
        [
            "sandbox",
            "load",
            "--db",
            str(db),
            "--realm",
            "456",
            str(FIX / "customers.csv"),
            str(FIX / "sales.csv"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "Customer 3" in res.output and "SalesReceipt 3" in res.output


def test_load_error_is_a_clean_message(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        cli,
        [
            "sandbox",
            "load",
            "--db",
            str(tmp_path / "x.db"),
            "--realm",
            "1",
            str(FIX / "customers.csv"),
            str(FIX / "sales_bad_customer.csv"),
        ],
    )
    assert res.exit_code == 2
    assert "sales_bad_customer.csv line 3" in res.output and "Traceback" not in res.output


def test_a_db_path_that_names_a_folder_is_one_line(tmp_path: Path) -> None:
    # `sandbox seed --db work/` made a SQLite file called 'work', then failed writing the truth file
    # beside it (FileExistsError traceback).
    for command in (["seed", "--customers", "5"], ["serve", "--port", "0"]):
        res = CliRunner().invoke(cli, ["sandbox", *command, "--db", f"{tmp_path / 'work'}/"])
        assert res.exit_code == 2 and "names a folder" in res.output, res.output
        assert res.exception is None or isinstance(res.exception, SystemExit)
        assert not (tmp_path / "work").exists()
