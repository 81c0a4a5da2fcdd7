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


def _latin_1(rule: str) -> bytes:
    return GOOD[rule].replace("C1", "Cé").encode("latin-1")


def _binary(rule: str) -> bytes:  # an Excel workbook, say
    return b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)) * 40


def _unclosed_quote(rule: str) -> bytes:
    # A quote opened in the second row and never closed swallows the rest of a long file.
    header, first, *rest = GOOD[rule].splitlines()
    body = "\n".join(rest * 20000)
    opened = first.replace(",", ',"', 1)
    return f"{header}\n{opened}\n{body}\n".encode()


#: a file that is not what qbsync reads: its name, its bytes, what the error line must say
BROKEN = {
    "latin-1 text says to save as UTF-8": ("export.csv", _latin_1, ("is not UTF-8 text", "CSV UTF-8")),
    "a binary file is not read as CSV": ("customers.xlsx", _binary, ("is not a text file",)),
    "a field over the csv limit points at the unclosed quote": (
        "broken.csv", _unclosed_quote, ("a field is longer than", "quote")),
}


@pytest.mark.parametrize("case", BROKEN)
@pytest.mark.parametrize("rule", sorted(COMMANDS))
def test_a_file_qbsync_cannot_read_exits_2_saying_why(rule: str, case: str, tmp_path: Path) -> None:
    name, content, said = BROKEN[case]
    path = tmp_path / name
    path.write_bytes(content(rule))
    code, output = _run(rule, path, tmp_path)
    assert code == 2, output
    assert all(s in output for s in said), output


@pytest.mark.parametrize("rule", sorted(COMMANDS))
def test_the_good_files_still_read(rule: str, tmp_path: Path) -> None:
    path = tmp_path / "good.csv"
    path.write_text(GOOD[rule], encoding="utf-8-sig")  # with a BOM, as Excel writes CSV UTF-8
    code, output = _run(rule, path, tmp_path)
    assert code == 0, output
