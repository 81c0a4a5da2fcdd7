"""Files users hand to `--input-csv` that are not what qbsync reads: one line, exit 2, no traceback.

Both readers (customers for duplicates, purchase logs for disappearing) open files the same way.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from qbsync.cli import cli

CUSTOMERS = "Name,Email,City\nAnna Müller,anna@example.com,Köln\nAnna Mueller,anna@example.com,Köln\n"
PURCHASES = "customer_id,date,amount\nC1,2024-01-05,10.00\nC1,2024-03-05,12.00\nC2,2024-02-01,8.00\n"
COMMANDS = {"duplicates": ["rules", "duplicates", "--input-csv"],
            "disappearing": ["rules", "disappearing", "--input-csv"]}
GOOD = {"duplicates": CUSTOMERS, "disappearing": PURCHASES}


def _run(rule: str, path: Path, tmp_path: Path) -> tuple[int, str]:
    (tmp_path / "none.toml").write_text("")
    out = CliRunner(env={"QBSYNC_CONFIG": str(tmp_path / "none.toml")}).invoke(
        cli, [*COMMANDS[rule], str(path)])
    assert out.exception is None or isinstance(out.exception, SystemExit), out.exception
    assert "Traceback" not in out.output
    return out.exit_code, out.output


@pytest.mark.parametrize("rule", sorted(COMMANDS))
def test_latin_1_text_says_to_save_as_utf8(rule: str, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(GOOD[rule].replace("C1", "Cé").encode("latin-1"))
    code, output = _run(rule, path, tmp_path)
    assert code == 2, output
    assert "is not UTF-8 text" in output and "CSV UTF-8" in output


@pytest.mark.parametrize("rule", sorted(COMMANDS))
def test_a_binary_file_is_not_read_as_csv(rule: str, tmp_path: Path) -> None:
    path = tmp_path / "customers.xlsx"
    path.write_bytes(b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)) * 40)
    code, output = _run(rule, path, tmp_path)
    assert code == 2, output
    assert "is not a text file" in output


@pytest.mark.parametrize("rule", sorted(COMMANDS))
def test_a_field_over_the_csv_limit_points_at_the_unclosed_quote(rule: str, tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    header, first, *rest = GOOD[rule].splitlines()
    # A quote opened in the second row and never closed swallows the rest of a long file.
    body = "\n".join(rest * 20000)
    opened = first.replace(",", ',"', 1)
    path.write_text(f"{header}\n{opened}\n{body}\n", encoding="utf-8")
    code, output = _run(rule, path, tmp_path)
    assert code == 2, output
    assert "a field is longer than" in output and "quote" in output


@pytest.mark.parametrize("rule", sorted(COMMANDS))
def test_the_good_files_still_read(rule: str, tmp_path: Path) -> None:
    path = tmp_path / "good.csv"
    path.write_text(GOOD[rule], encoding="utf-8-sig")  # with a BOM, as Excel writes CSV UTF-8
    code, output = _run(rule, path, tmp_path)
    assert code == 0, output
