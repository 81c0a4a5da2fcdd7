"""Normalising names, companies, emails, phones and addresses so the same customer compares equal."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from qbsync.rules.duplicates import normalize as nz
from qbsync.rules.duplicates.blocking import Candidates
from qbsync.rules.duplicates.compare import COMPARISONS, Compared, compare
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


def _levels(got: Compared, name: str) -> list[str]:
    f = [c.name for c in COMPARISONS].index(name)
    return ["missing" if g < 0 else COMPARISONS[f].levels[g] for g in got.gamma[:, f]]


def test_one_slip_of_the_finger_is_one_typo_whatever_jaro_winkler_says() -> None:
    recs = [CustomerRecord("1", "Audrey Ford", given_name="Audrey", family_name="Ford"),
            CustomerRecord("2", "Audrey Furd", given_name="Audrey", family_name="Furd"),  # JW 0.85
            CustomerRecord("3", "Anne Schutlz", given_name="Anne", family_name="Schutlz"),  # swapped letters
            CustomerRecord("4", "Anne Schultz", given_name="Anne", family_name="Schultz"),
            CustomerRecord("5", "Ann Lee", given_name="Ann", family_name="Lee"),
            CustomerRecord("6", "Anna Lee", given_name="Anna", family_name="Lee"),  # another name
            CustomerRecord("7", "Decker-Tran, Ltd.", company_name="Decker-Tran, Ltd."),
            CustomerRecord("8", "Deckes-Tran Ltd", company_name="Deckes-Tran Ltd")]
    got = compare(prepare(recs), Candidates(np.array([0, 2, 4, 6]), np.array([1, 3, 5, 7]), {}))
    family, given, company = _levels(got, "family name"), _levels(got, "given name"), _levels(got, "company")
    assert family[:2] == ["one typo", "one typo"]
    assert given[2] != "one typo"  # too short to call "ann"/"anna" a typo
    assert company[3] == "one typo"
    # The typo's weight is adjusted by how common the name is, like an exact match.
    family_col = [c.name for c in COMPARISONS].index("family name")
    assert not np.isnan(got.tf[0, family_col])


def test_activity_says_which_of_the_two_was_never_used() -> None:
    recs = [CustomerRecord("1", "A", created=date(2023, 1, 5)),
            CustomerRecord("2", "B", created=date(2024, 3, 1)),
            CustomerRecord("3", "C", created=date(2022, 1, 1)),
            CustomerRecord("4", "D", created=date(2024, 1, 1))]
    left, right = np.array([0, 0, 2, 1]), np.array([1, 2, 3, 3])
    prep = prepare(recs, txn_counts=[12, 0, 0, None])
    assert _levels(compare(prep, Candidates(left, right, {})), "activity") == [
        "only the newer has none", "only the older has none", "missing", "missing"]
    both = prepare(recs, txn_counts=[3, 4, 0, 0])
    assert _levels(compare(both, Candidates(left, right, {})), "activity")[:3] == [
        "both have transactions", "only the older has none", "neither has any"]
    # Without any activity (a CSV) the comparison is missing for every pair: it weighs nothing.
    assert set(_levels(compare(prepare(recs), Candidates(left, right, {})), "activity")) == {"missing"}


def test_a_company_and_a_person_with_its_contact_name_are_told_apart() -> None:
    recs = [CustomerRecord("1", "Cindy Lucas", given_name="Cindy", family_name="Lucas"),
            CustomerRecord("2", "Wright Cohen Inc", given_name="Cindy", family_name="Lucas",
                           company_name="Wright Cohen Inc"),
            # Initials, numbers and a parenthesis tell namesakes apart; they do not make a company.
            CustomerRecord("3", "Cindy Q. Lucas", given_name="Cindy", family_name="Lucas"),
            CustomerRecord("4", "Cindy Lucas 2 (Boston)", given_name="Cindy", family_name="Lucas")]
    prep = prepare(recs)
    assert list(prep.col("company")) == ["", "wright cohen", "", ""]
    got = compare(prep, Candidates(np.array([0, 0, 0]), np.array([1, 2, 3]), {}))
    assert _levels(got, "kind") == ["a company and a person", "both people", "both people"]


def test_contact_details_count_the_kinds_one_record_lacks() -> None:
    full = CustomerRecord("1", "A", email="a@x.test", phone="(212) 555-0101", bill_line1="1 Oak St",
                          bill_city="York", bill_country="US")
    recs = [full, CustomerRecord("2", "B", email="b@x.test", phone="(212) 555-0102", bill_city="Ely"),
            CustomerRecord("3", "C", email="c@x.test"), CustomerRecord("4", "D"), CustomerRecord("5", "E")]
    got = compare(prepare(recs, "US"), Candidates(np.array([0, 0, 0, 3]), np.array([1, 2, 3, 4]), {}))
    assert _levels(got, "contact details") == [
        "both have the same kinds", "they differ in two or more kinds", "one has none", "neither has any"]
