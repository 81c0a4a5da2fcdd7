"""Normalising names, companies, emails, phones and addresses so the same customer compares equal."""

from __future__ import annotations

import numpy as np
import pytest

from qbsync.rules.duplicates import normalize as nz
from qbsync.rules.duplicates.blocking import Candidates
from qbsync.rules.duplicates.compare import COMPARISONS, compare
from qbsync.rules.duplicates.records import CustomerRecord, prepare


@pytest.mark.parametrize(("raw", "expected"), [
    ("Zoë O'Neil-Smith", "zoe o neil smith"),
    ("  JOSÉ   García ", "jose garcia"),
    ("Müller, Jürgen", "muller jurgen"),
])
def test_fold_removes_case_accents_and_punctuation(raw: str, expected: str) -> None:
    assert nz.fold(raw) == expected


@pytest.mark.parametrize("variant", ["Acme Inc", "ACME, Inc.", "The Acme Company", "Acme LLC", "acme ltd.",
                                     "Acme GmbH", "Acme Corp (deleted)", "Acme Pty Ltd"])
def test_company_names_lose_legal_form_and_deleted_suffix(variant: str) -> None:
    assert nz.company_name(variant) == "acme"


def test_company_ampersand_and_and_are_the_same() -> None:
    assert nz.company_name("Smith & Sons Ltd") == nz.company_name("Smith and Sons")


def test_deleted_suffix_is_stripped_from_person_names() -> None:
    assert nz.person_name("Dr. Jane O'Hara (deleted)") == "jane ohara"


@pytest.mark.parametrize(("display", "expected"), [
    ("Smith, John", ("john", "smith")),
    ("John Smith", ("john", "smith")),
    ("Mr John Smith (deleted)", ("john", "smith")),
])
def test_display_names_split_into_given_and_family(display: str, expected: tuple[str, str]) -> None:
    assert nz.split_display_name(display) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("John.Smith+invoices@GMail.com", "johnsmith@gmail.com"),
    ("j.smith@googlemail.com", "jsmith@gmail.com"),
    ("Sales+q3@Acme.co.uk ", "sales@acme.co.uk"),
    ("not an email", ""),
])
def test_emails(raw: str, expected: str) -> None:
    assert nz.email(raw) == expected


@pytest.mark.parametrize(("raw", "region"), [
    ("(415) 555-0132", "US"), ("415.555.0132", "US"), ("+1 415 555 0132", None), ("1-415-555-0132", "CA"),
])
def test_north_american_phones_to_e164(raw: str, region: str | None) -> None:
    assert nz.phone(raw, region) == "+14155550132"


def test_uk_phone_to_e164_when_the_country_is_known() -> None:
    assert nz.phone("020 7946 0958", "GB") == "+442079460958"
    assert nz.phone("+44 20 7946 0958") == "+442079460958"


def test_phone_without_country_keeps_its_digits() -> None:
    assert nz.phone("020 7946 0958") == "02079460958"


@pytest.mark.parametrize(("country", "code"), [("United States", "US"), ("USA", "US"), ("U.K.", "GB"),
                                                ("Deutschland", "DE"), ("ca", "CA"), ("Narnia", None)])
def test_country_codes(country: str, code: str | None) -> None:
    assert nz.country_code(country) == code


def test_street_types_and_numbers() -> None:
    assert nz.street("12B Main Street.") == ("12b", "main st")
    assert nz.street("12b MAIN ST") == ("12b", "main st")
    assert nz.street("400 North Avenue") == nz.street("400 N Ave")


def test_postcodes() -> None:
    assert nz.postcode("sw1a 1aa") == "SW1A1AA"
    assert nz.postcode("94105-1234") == "941051234"


def test_prepare_swaps_nothing_but_reads_display_names_and_zip_plus_four() -> None:
    recs = [CustomerRecord("1", "Smith, John", bill_postal_code="94105-1234", bill_country="USA",
                           phone="(415) 555-0132"),
            CustomerRecord("2", "Acme Widgets, Inc."),
            CustomerRecord("3", "Smith Plumbing", given_name="John", family_name="Smith")]
    prep = prepare(recs)
    assert (prep.col("given")[0], prep.col("family")[0]) == ("john", "smith")
    assert prep.col("postcode")[0] == "94105"
    assert prep.col("phone1")[0] == "+14155550132"
    assert prep.col("company")[1] == "acme widgets"
    assert prep.col("given")[1] == ""
    assert prep.col("company")[2] == "smith plumbing"


def test_nicknames_and_initials_compare_as_close_not_exact() -> None:
    recs = [CustomerRecord("1", "Bill Smith", given_name="Bill", family_name="Smith"),
            CustomerRecord("2", "William Smith", given_name="William", family_name="Smith"),
            CustomerRecord("3", "J. Smith", given_name="J.", family_name="Smith"),
            CustomerRecord("4", "John Smith", given_name="John", family_name="Smith"),
            CustomerRecord("5", "Smith, Bill", given_name="Smith", family_name="Bill")]
    left, right = np.array([0, 2, 0, 0, 0]), np.array([1, 3, 3, 4, 2])
    got = compare(prepare(recs), Candidates(left, right, {}))
    levels = COMPARISONS[0].levels
    given = [levels[g] for g in got.gamma[:, 0]]
    assert given[0].startswith("close")  # Bill ~ William
    assert given[1].startswith("similar")  # J. ~ John
    assert given[2] == "different"  # Bill ~ John
    assert given[3] == "exact" and bool(got.swapped[3])  # swapped given/family
    assert given[4] == "different"  # Bill ~ J.


def test_letters_without_decomposition_and_german_and_french_street_forms() -> None:
    assert nz.fold("Straße Øster Łódź") == "strasse oster lodz"
    assert nz.street("Hauptstraße 12") == nz.street("Hauptstr. 12") == ("12", "hauptstr")
    assert nz.street("12 boulevard Haussmann") == nz.street("12 bd Haussmann")
