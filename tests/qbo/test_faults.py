"""Fault parsing from the exact bytes QuickBooks sent (recorded) into the one error tree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qbsync.errors import (
    AuthError,
    DuplicateNameError,
    NotFoundError,
    ServerError,
    StaleObjectError,
    ThrottledError,
    ValidationError,
)
from qbsync.qbo.faults import batch_item_error, error_from_response, parse_retry_after

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "qbo"


def body(name: str) -> bytes:
    return (FIX / "recorded" / f"{name}.response.txt").read_bytes()


@pytest.mark.parametrize(("name", "status", "cls", "code"), [
    ("error__400__1", 400, ValidationError, "4001"),
    ("error__400_json__0", 400, ValidationError, "2010"),
    ("error__500__0", 400, ValidationError, "500"),  # "Unsupported Operation": code 500 inside a 400
    ("error__500__1", 400, ValidationError, "2030"),
    ("error__validation__0", 400, DuplicateNameError, "6240"),
])
def test_recorded_faults_map_to_the_tree(name: str, status: int, cls: type, code: str) -> None:
    err = error_from_response(status, body(name), {"Intuit-Tid": "1-5f733d9a-1d4e21aa217ba43177113df4"})
    assert type(err) is cls
    assert err.code == code  # type: ignore[union-attr]
    assert err.intuit_tid == "1-5f733d9a-1d4e21aa217ba43177113df4"  # type: ignore[union-attr]
    assert not err.retriable  # type: ignore[union-attr]


def test_duplicate_name_message_and_hint() -> None:
    err = error_from_response(400, body("error__validation__0"), {})
    assert "Duplicate Name Exists Error" in str(err)
    assert err.hint and "DisplayName" in err.hint


def test_lower_case_401_envelope_is_an_auth_error_without_the_token() -> None:
    raw = body("error__401__0")
    token = "AB01601390262kxzxOlnHYdhtEVRXISU7piPqQrCmmbDN35Yjd"
    assert token.encode() in raw  # QuickBooks quotes the refused token in the detail
    err = error_from_response(401, raw, {})
    assert isinstance(err, AuthError)
    assert "qbsync auth login" in str(err)
    assert token not in str(err) and token not in repr(vars(err))


def test_a_quoted_token_in_any_fault_detail_is_redacted() -> None:
    from qbsync.qbo.faults import details_from_fault

    fault = {"Error": [{"Message": "AuthenticationFailed", "Detail": "Token invalid: AB01secretvalue",
                        "code": "3200"}]}
    (detail,) = details_from_fault(fault)
    assert "AB01secretvalue" not in detail.detail and detail.detail == "Token invalid: [redacted]"


def test_xml_throttle_body_is_throttled_and_honours_retry_after() -> None:
    xml = (FIX / "throttle_429.xml").read_bytes()
    err = error_from_response(429, xml, {"Retry-After": "7"})
    assert isinstance(err, ThrottledError) and err.retriable
    assert err.code == "3001" and err.retry_after == 7.0


def test_xml_throttle_without_code_attribute_takes_it_from_the_message() -> None:
    xml = (FIX / "throttle_429.xml").read_bytes().replace(b' code="3001"', b"")
    err = error_from_response(429, xml, {})
    assert isinstance(err, ThrottledError) and err.code == "3001" and err.retry_after is None


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_without_a_body_is_a_retriable_server_error(status: int) -> None:
    err = error_from_response(status, b"<html>Bad Gateway</html>", {})
    assert isinstance(err, ServerError) and err.retriable


def test_batch_items_keep_their_own_faults() -> None:
    items = json.loads(body("batch__basic__0"))["BatchItemResponse"]
    kinds = {i["bId"]: type(batch_item_error(i)).__name__ if batch_item_error(i) else None for i in items}
    assert kinds == {"bid1": None, "bid2": NotFoundError.__name__, "bid3": StaleObjectError.__name__,
                     "bid4": None}


def test_several_errors_are_all_kept_and_the_specific_one_decides() -> None:
    fault = {"Fault": {"Error": [{"Message": "A business validation error has occurred", "code": "6000"},
                                 {"Message": "Stale Object Error", "code": "5010"}],
                       "type": "ValidationFault"}}
    err = error_from_response(400, json.dumps(fault).encode(), {})
    assert isinstance(err, StaleObjectError)
    assert [e.code for e in err.errors] == ["6000", "5010"]


def test_open_balance_deactivation_is_a_balance_error() -> None:
    fault = {"Fault": {"Error": [{"Message": "Delete List Has Balance Error",
                                  "Detail": "The entity you are trying to delete has an open balance.",
                                  "code": "6540"}], "type": "ValidationFault"}}
    err = error_from_response(400, json.dumps(fault).encode(), {})
    assert type(err).__name__ == "BalanceError" and not err.retriable  # type: ignore[union-attr]


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("soon") is None
