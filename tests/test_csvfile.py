"""The one CSV writer: formula-safe for a person's spreadsheet, exact for an importer."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from qbsync.csvfile import FORMULA_STARTS, IMPORTER, Phone, SafeCell, csv_text, neutralise, write_csv
from qbsync.errors import InputError

LEADS = ["=1+2", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)", "\t=1+2", "\r=1+2"]


def _back(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


def test_every_formula_trigger_is_neutralised_and_every_cell_quoted() -> None:
    assert tuple(s[0] for s in LEADS) == FORMULA_STARTS  # all six: = + - @ TAB CR
    text = csv_text(["name"], [[s] for s in LEADS])
    assert [row[0] for row in _back(text)[1:]] == ["'" + s for s in LEADS]
    assert '"\'\r=1+2"' in text and '"\'\t=1+2"' in text  # quoted: the CR cannot start a row
    assert all(line.startswith('"') for line in text.split("\r\n") if line)
    assert neutralise("a=b") == "a=b" and neutralise("") == ""


def test_our_own_values_stay_numbers_dates_and_booleans() -> None:
    text = csv_text(["a", "b", "c", "d", "e", "f"],
                    [[Decimal("-12.50"), -3, SafeCell("-1.00"), date(2025, 1, 2), True, None]])
    assert _back(text)[1] == ["-12.50", "-3", "-1.00", "2025-01-02", "true", ""]


def test_importer_files_are_exact_with_phones_in_e164() -> None:
    rows: list[list[object]] = [["=Acme", Phone("+61 2 8820 9162")], ["Bo", Phone("(02) 8820 9163", "AU")],
            ["Cy", Phone("555 0100", "US")], ["Di", None]]
    text = csv_text(["Name", "Phone"], rows, audience=IMPORTER, bom=True)
    assert not text.startswith("\ufeff") and "'" not in text
    assert _back(text)[1:] == [["=Acme", "+61288209162"], ["Bo", "+61288209163"], ["Cy", "555 0100"],
                               ["Di", ""]]
    person = csv_text(["Phone"], [[Phone("+61 2 8820 9162")]], bom=True)
    assert person.startswith("\ufeff") and _back(person)[1] == ["'+61 2 8820 9162"]


def test_a_full_number_of_its_country_goes_out_in_e164_even_outside_assigned_ranges() -> None:
    # The demo's Mailchimp and HubSpot files carried 9 of 192 phones as written ('020 5635 7803' of a
    # UK contact): full-length numbers of the contact's country, but in ranges phonenumbers does not
    # know as assigned, so they failed is_valid_number. A number too short for its country (a local
    # number without its area code, a typo) still goes out as written: no country code is guessed.
    assert Phone("020 5635 7803", "GB").e164() == "+442056357803"
    assert Phone("08 5003 1236", "AU").e164() == "+61850031236"
    assert Phone("(415) 555-2671", "US").e164() == "+14155552671"
    assert Phone("555 0100", "US").e164() is None and Phone("+61 2 88").e164() is None
    assert Phone("ask for Bo").e164() is None


def test_write_csv_streams_atomically(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    assert write_csv(path, ["n"], ([i] for i in range(3))) == 3
    assert path.read_bytes() == b'"n"\r\n"0"\r\n"1"\r\n"2"\r\n'

    def broken() -> object:
        yield [1]
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_csv(path, ["n"], broken())  # type: ignore[arg-type]
    assert path.read_bytes() == b'"n"\r\n"0"\r\n"1"\r\n"2"\r\n'  # the old file, not half a new one
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
    with pytest.raises(InputError, match="does not exist"):
        write_csv(tmp_path / "missing" / "x.csv", ["n"], [])
