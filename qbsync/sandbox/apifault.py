"""QBO fault envelopes: the exception the sandbox raises internally and the JSON/XML bodies it sends."""

from __future__ import annotations

from typing import Any


class ApiFault(Exception):
    """One QBO error; ``status`` is the HTTP status, ``code`` the string code inside the Fault."""

    def __init__(self, status: int, code: str, message: str, detail: str = "", *,
                 element: str | None = "", fault_type: str = "ValidationFault") -> None:
        super().__init__(f"{code} {message}: {detail}")
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        self.element = element
        self.fault_type = fault_type

    def fault(self) -> dict[str, Any]:
        err: dict[str, Any] = {"Message": self.message, "Detail": self.detail, "code": self.code}
        if self.element is not None:
            err["element"] = self.element
        return {"Error": [err], "type": self.fault_type}


def query_parse_error(detail: str) -> ApiFault:
    return ApiFault(400, "4000", "Error parsing query", f"QueryParserError: {detail}", element=None)


def query_invalid(detail: str) -> ApiFault:
    return ApiFault(400, "4001", "Invalid query", f"QueryValidationError: {detail}", element=None)


def not_found(entity: str, id_: str) -> ApiFault:
    return ApiFault(400, "610", "Object Not Found",
                    "Object Not Found : Something you're trying to use has been made inactive. "
                    "Check the fields with accounts, customers, items, vendors or employees.")


def stale(user: str = "Sandbox User") -> ApiFault:
    return ApiFault(400, "5010", "Stale Object Error",
                    f"Stale Object Error : You and {user} were working on this at the same time. "
                    f"{user} finished before you did, so your work was not saved.")


def duplicate_name() -> ApiFault:
    return ApiFault(400, "6240", "Duplicate Name Exists Error", "The name supplied already exists. : null")


def required(element: str) -> ApiFault:
    return ApiFault(400, "2020", "Required param missing, need to supply the required value for the API",
                    f"Required parameter {element} is missing in the request", element=element)


def invalid_reference(element: str, value: str) -> ApiFault:
    return ApiFault(400, "2500", "Invalid Reference Id",
                    f"Invalid Reference Id : {element} assigned is not valid: {value}", element=element)


def invalid_id(value: str) -> ApiFault:
    return ApiFault(400, "2030", "Invalid ID", f"Id should be a valid number. Supplied value:{value}",
                    element="Id")


def unsupported(path: str) -> ApiFault:
    return ApiFault(400, "500", "Unsupported Operation",
                    f"Operation Could not find resource for relative : {path} is not supported.",
                    element=None)


def not_held(entity: str) -> ApiFault:
    """A write to an entity real QuickBooks has but the sandbox holds none of (docs/sandbox.md)."""
    return ApiFault(400, "500", "Unsupported Operation",
                    f"Operation Create/Update/Delete of {entity} is not supported by the qbsync sandbox: it "
                    f"answers queries and CDC for {entity} with nothing, and holds none.", element=None)


def unsupported_property(entity: str, name: str) -> ApiFault:
    return ApiFault(400, "2010", "Request has invalid or unsupported property",
                    f'Property Name:Unrecognized field "{name}" '
                    f"(class com.intuit.schema.finance.v3.{entity}), "
                    "not marked as ignorable specified is unsupported or invalid", element=None)


def business(message: str, detail: str, code: str = "6000") -> ApiFault:
    return ApiFault(400, code, message, detail)


# Deactivating a name with an open balance. The real code is unconfirmed (see docs/sandbox.md);
# kept here so it is one edit to change.
HAS_BALANCE_CODE = "6000"


def has_balance() -> ApiFault:
    return ApiFault(400, HAS_BALANCE_CODE, "Delete List Has Balance Error",
                    "Delete List Has Balance Error: The entity you are trying to delete has an open balance. "
                    "Settle or credit the balance first.")


def cdc_too_old(since: str) -> ApiFault:
    # Message as reported by API users; the code is unconfirmed.
    return ApiFault(400, "4002", "Invalid Request",
                    f"Operation cdc with changedSince date {since} which is older than fixed days is not "
                    "supported.", element=None)


def auth_401(detail: str) -> dict[str, Any]:
    """The lower-case 401 envelope (``time`` filled in by the caller)."""
    return {"warnings": None, "intuitObject": None,
            "fault": {"error": [{"message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                                 "detail": detail, "code": "3200", "element": None}],
                      "type": "AUTHENTICATION"},
            "report": None, "queryResponse": None, "batchItemResponse": [], "attachableResponse": [],
            "syncErrorResponse": None, "requestId": None, "time": 0, "status": None, "cdcresponse": []}


THROTTLE_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="{time}">\n'
    '  <Fault type="ValidationFault">\n'
    '    <Error code="3001" element="">\n'
    "      <Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>\n"
    "      <Detail>The request limit was reached. Try again later</Detail>\n"
    "    </Error>\n"
    "  </Fault>\n"
    "</IntuitResponse>\n"
)


def server_error(status: int) -> ApiFault:
    if status == 503:
        return ApiFault(503, "10000", "An application error has occurred while processing your request",
                        "System Failure Error: Service Unavailable", fault_type="SystemFault")
    return ApiFault(status, "10000", "An application error has occurred while processing your request",
                    "System Failure Error: An unexpected error occurred while accessing or saving your data. "
                    "Please wait a few minutes and try again.", fault_type="SystemFault")
