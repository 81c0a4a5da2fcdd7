"""Turn QuickBooks fault bodies (JSON ``Fault``/``fault`` and the XML 429 body) into the error tree.

Classification happens here, once: the retry policy only asks ``error.retriable``.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from qbsync.errors import (
    ApiError,
    AuthError,
    BalanceError,
    DuplicateNameError,
    FaultDetail,
    NotFoundError,
    ServerError,
    StaleObjectError,
    ThrottledError,
    ValidationError,
)

RETRY_STATUSES = frozenset({500, 502, 503, 504})
_BALANCE_RE = re.compile(r"has (an )?open balance|List Has Balance", re.IGNORECASE)
_CODE_IN_MESSAGE = re.compile(r"errorCode=0*(\d+)")


def _get(d: Mapping[str, Any], *names: str) -> Any:
    for n in names:
        if n in d:
            return d[n]
    return None


#: QuickBooks' 401 detail quotes the token it refused ("Token expired: AB0160..."); the part after the
#: colon is a secret and must not reach a log line or an error message.
_TOKEN_IN_DETAIL = re.compile(r"(Token\s+\w+\s*:\s*)\S+", re.IGNORECASE)


def _scrub(detail: str) -> str:
    return _TOKEN_IN_DETAIL.sub(r"\1[redacted]", detail)


def details_from_fault(fault: Mapping[str, Any]) -> list[FaultDetail]:
    """The error items of a ``Fault`` (or lower-case ``fault``) object, all of them, in order."""
    items = _get(fault, "Error", "error") or []
    if isinstance(items, Mapping):
        items = [items]
    out: list[FaultDetail] = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        message = str(_get(item, "Message", "message") or "")
        code = _get(item, "code", "Code")
        if code in (None, "") and (m := _CODE_IN_MESSAGE.search(message)):
            code = m.group(1)
        out.append(FaultDetail(code=str(code or ""), message=message,
                               detail=_scrub(str(_get(item, "Detail", "detail") or "")),
                               element=str(_get(item, "element", "Element") or "")))
    return out


def _summary(details: list[FaultDetail]) -> str:
    if not details:
        return "QuickBooks returned a fault without details"
    first = details[0]
    text = f"{first.message} (code {first.code})" if first.code else first.message
    if first.detail and first.detail != first.message:
        text += f": {first.detail}"
    if len(details) > 1:
        text += f" (+{len(details) - 1} more)"
    return text


_HINTS: dict[type[ApiError], str] = {
    StaleObjectError: "read the record again (its SyncToken changed) and retry the change",
    DuplicateNameError: "choose a DisplayName not used by another customer, vendor or employee",
    NotFoundError: "sync again: the record was deleted or made inactive in QuickBooks",
    BalanceError: "settle the customer's open balance in QuickBooks first",
    ThrottledError: "wait a minute, or lower requests_per_minute / max_concurrent",
    ServerError: "QuickBooks is having trouble; try again later",
}


def classify(status: int | None, details: list[FaultDetail], fault_type: str = "") -> type[ApiError]:
    """The most specific error class for a fault; any item can decide it (they may come in any order)."""
    codes = {d.code for d in details}
    text = " ".join(f"{d.message} {d.detail}" for d in details)
    if status == 429 or "3001" in codes or "ThrottleExceeded" in text:
        return ThrottledError
    if "5010" in codes:
        return StaleObjectError
    if "6240" in codes:
        return DuplicateNameError
    if _BALANCE_RE.search(text):
        return BalanceError
    if "610" in codes or status == 404:
        return NotFoundError
    if status is not None and status in RETRY_STATUSES:
        return ServerError
    if status is not None and status >= 500:
        return ServerError
    return ValidationError


def is_auth_fault(status: int | None, details: list[FaultDetail], fault_type: str = "") -> bool:
    codes = {d.code for d in details}
    return status in (401, 403) or fault_type.upper() == "AUTHENTICATION" or bool(codes & {"3200", "3100"})


def error_from_fault(fault: Mapping[str, Any], *, status: int | None = None,
                     intuit_tid: str | None = None, retry_after: float | None = None) -> ApiError | AuthError:
    """One error for a parsed ``Fault`` object (a whole response or one batch item)."""
    details = details_from_fault(fault)
    fault_type = str(_get(fault, "type", "Type") or "")
    message = _summary(details)
    if is_auth_fault(status, details, fault_type):
        return AuthError(f"QuickBooks refused the credentials: {message}",
                         hint="run `qbsync auth login` again")
    cls = classify(status, details, fault_type)
    kw: dict[str, Any] = {"status": status, "errors": details, "intuit_tid": intuit_tid,
                          "hint": _HINTS.get(cls)}
    if cls is ThrottledError:
        return ThrottledError(message, retry_after=retry_after, **kw)
    return cls(message, **kw)


def _xml_fault(body: bytes) -> tuple[dict[str, Any], str | None] | None:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None

    def local(tag: str) -> str:
        return tag.rsplit("}", 1)[-1]

    fault = root if local(root.tag) == "Fault" else next(
        (el for el in root.iter() if local(el.tag) == "Fault"), None)
    if fault is None:
        return None
    errors = []
    for el in fault.iter():
        if local(el.tag) != "Error":
            continue
        item = {"code": el.get("code", ""), "element": el.get("element", "")}
        for child in el:
            item[local(child.tag)] = (child.text or "").strip()
        errors.append(item)
    return {"Error": errors, "type": fault.get("type", "")}, root.get("time")


def parse_fault_body(body: bytes) -> tuple[Mapping[str, Any], object] | None:
    """``(fault, time)`` from a JSON or XML response body, or None when it holds no fault."""
    text = body.lstrip()
    if text.startswith(b"<"):
        return _xml_fault(text)
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if not isinstance(doc, Mapping):
        return None
    fault = _get(doc, "Fault", "fault")
    if isinstance(fault, Mapping):
        return fault, doc.get("time")
    return None


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    from datetime import UTC, datetime

    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_from_response(status: int, body: bytes, headers: Mapping[str, str]) -> ApiError | AuthError:
    """The error for a non-2xx response (or a 2xx whose body is a fault)."""
    tid = headers.get("Intuit-Tid") or headers.get("intuit_tid")
    retry_after = parse_retry_after(headers.get("Retry-After"))
    parsed = parse_fault_body(body)
    if parsed is not None:
        return error_from_fault(parsed[0], status=status, intuit_tid=tid, retry_after=retry_after)
    if status in (401, 403):
        return AuthError(f"QuickBooks refused the credentials (HTTP {status})",
                         hint="run `qbsync auth login` again")
    if status == 429:
        return ThrottledError("QuickBooks throttled the request (HTTP 429)", status=status,
                              intuit_tid=tid, retry_after=retry_after, hint=_HINTS[ThrottledError])
    if status >= 500:
        return ServerError(f"QuickBooks answered HTTP {status}", status=status, intuit_tid=tid,
                           hint=_HINTS[ServerError])
    if status == 404:
        return NotFoundError("QuickBooks answered HTTP 404 for this URL", status=status,
                             intuit_tid=tid, hint=_HINTS[NotFoundError])
    return ValidationError(f"QuickBooks answered HTTP {status} without a fault body", status=status,
                           intuit_tid=tid)


def batch_item_error(item: Mapping[str, Any]) -> ApiError | AuthError | None:
    """The error of one BatchItemResponse item, or None when it succeeded."""
    fault = _get(item, "Fault", "fault")
    return error_from_fault(fault) if isinstance(fault, Mapping) else None
