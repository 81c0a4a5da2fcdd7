"""The query language parser: grammar edge cases and the faults malformed queries get."""

from __future__ import annotations

from decimal import Decimal

import pytest

from qbsync.sandbox.apifault import ApiFault
from qbsync.sandbox.query import matches, parse


def test_select_star_with_where_order_and_paging() -> None:
    q = parse("SELECT * FROM Customer WHERE Id IN ('5', '6') AND Active IN ( true, false ) "
              "MAXRESULTS 2 STARTPOSITION 3")
    assert q.entity == "Customer"
    assert not q.count
    assert [c.op for c in q.conds] == ["in", "in"]
    assert q.conds[1].values == (True, False)
    assert (q.start, q.max_results) == (3, 2)


def test_count_is_case_insensitive_and_entity_is_canonicalised() -> None:
    q = parse("select count(*) from customer where active = false")
    assert q.count and q.entity == "Customer"
    assert q.mentions("active")


def test_order_by_two_words_and_orderby_one_word() -> None:
    a = parse("SELECT * FROM Invoice ORDER BY MetaData.LastUpdatedTime DESC, Id")
    b = parse("SELECT * FROM Invoice ORDERBY Metadata.LastUpdatedTime DESC, Id")
    assert a.order == b.order == [(("metadata", "lastupdatedtime"), True), (("id",), False)]


def test_escaped_apostrophe_and_ampersand() -> None:
    q = parse(r"SELECT * FROM Customer WHERE DisplayName = 'Amy\'s Bird & Co'")
    assert q.conds[0].values == ("Amy's Bird & Co",)


def test_maxresults_default_and_cap() -> None:
    assert parse("SELECT * FROM Item").max_results == 100
    assert parse("SELECT * FROM Item MAXRESULTS 5000").max_results == 1000


def test_select_star_with_extra_field_is_accepted() -> None:
    assert parse("SELECT *, Sku FROM Item").entity == "Item"


@pytest.mark.parametrize("text, code", [
    ("SELECT * FROM Custmoer", "4001"),
    ("SELECT * FROM Customer WHERE", "4000"),
    ("SELECT * FROM Customer WHERE Id = '1' OR Id = '2'", "4000"),
    ("SELECT * Customer", "4000"),
    ("SELECT * FROM Customer MAXRESULTS ten", "4000"),
    ("SELECT * FROM Customer WHERE DisplayName = 'unterminated", "4000"),
    ("", "4000"),
])
def test_malformed_queries_fault(text: str, code: str) -> None:
    with pytest.raises(ApiFault) as info:
        parse(text)
    assert info.value.status == 400
    assert info.value.code == code
    assert info.value.fault()["type"] == "ValidationFault"


def test_unknown_entity_detail_matches_recording() -> None:
    with pytest.raises(ApiFault) as info:
        parse("SELECT * FROM Custmoer")
    assert info.value.detail == "QueryValidationError: invalid context declaration: Custmoer"


def test_condition_evaluation_is_case_insensitive_and_numeric() -> None:
    obj = {"PrimaryEmailAddr": {"Address": "Birds@Intuit.com"}, "TotalAmt": 337.5,
           "CustomerRef": {"value": "18"}, "MetaData": {"LastUpdatedTime": "2020-09-29T06:00:44-07:00"}}
    assert matches(obj, parse("SELECT * FROM Invoice WHERE primaryemailaddr = 'birds@intuit.com'").conds[0])
    assert matches(obj, parse("SELECT * FROM Invoice WHERE TotalAmt > '300.00'").conds[0])
    assert not matches(obj, parse("SELECT * FROM Invoice WHERE TotalAmt > 400").conds[0])
    assert matches(obj, parse("SELECT * FROM Invoice WHERE CustomerRef IN ('17', '18')").conds[0])
    like = parse("SELECT * FROM Invoice WHERE PrimaryEmailAddr LIKE '%@intuit.com'")
    assert matches(obj, like.conds[0])
    # 13:00:44Z is the same instant as 06:00:44-07:00.
    since = parse("SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= '2020-09-29T13:00:44Z'")
    assert matches(obj, since.conds[0])
    assert parse("SELECT * FROM Invoice WHERE TotalAmt = 12.50").conds[0].values == (Decimal("12.50"),)
