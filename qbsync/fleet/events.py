"""What a QuickBooks webhook delivery says, read from its raw body; and whether Intuit signed it.

Two payloads exist (Intuit made CloudEvents mandatory by 31 July 2026; the legacy one is for apps not
yet switched):

- CloudEvents: a JSON array of events, each ``{"specversion": "1.0", "id", "source",
  "type": "qbo.<entity>.<action>.v1", "time", "intuitentityid", "intuitaccountid", "data"}``. One
  delivery may mix companies: ``intuitaccountid`` (the realm) belongs to each event, never to the
  delivery.
- legacy: ``{"eventNotifications": [{"realmId", "dataChangeEvent": {"entities": [{"name", "id",
  "operation", "lastUpdated"}]}}]}``. It has no event id: ours is a hash of what the event says, so a
  redelivery of the same notification has the same id.

The ``intuit-signature`` header is base64(HMAC-SHA256(raw body, the app's verifier token)); it is
checked over the bytes received, before any parsing, in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

CLOUDEVENTS = "cloudevents"
LEGACY = "legacy"

#: QBO entities Intuit sends webhooks for (developer.intuit.com, "Supported API entities"), by the
#: lower-case name CloudEvents types use.
WEBHOOK_ENTITIES = {name.lower(): name for name in (
    "Account", "Bill", "BillPayment", "Budget", "Class", "CreditMemo", "Currency", "Customer",
    "Department", "Deposit", "Employee", "Estimate", "Invoice", "Item", "JournalCode", "JournalEntry",
    "Payment", "PaymentMethod", "Preferences", "Purchase", "PurchaseOrder", "RefundReceipt",
    "SalesReceipt", "TaxAgency", "Term", "TimeActivity", "Transfer", "Vendor", "VendorCredit")}
#: CloudEvents action -> the legacy operation name
ACTIONS = {"created": "Create", "updated": "Update", "deleted": "Delete", "merged": "Merge",
           "voided": "Void", "emailed": "Emailed"}
_TYPE = re.compile(r"^qbo\.([a-z]+)\.([a-z]+)\.v\d+$")
_REALM = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MAX_ID = 255


class BadDelivery(ValueError):
    """The body is neither a CloudEvents batch nor a legacy notification (answered 400)."""


@dataclass(frozen=True)
class Event:
    """One change in one company: the sync it asks for is decided from these fields alone."""

    event_id: str
    realm_id: str
    entity: str  # canonical QBO name ("SalesReceipt"); an unknown one as sent
    entity_id: str
    operation: str  # Create | Update | Delete | Merge | Void | Emailed (as the legacy format names them)
    occurred_at: datetime | None  # QuickBooks' time of the change (CloudEvents ``time``, legacy lastUpdated)
    format: str


@dataclass(frozen=True)
class Delivery:
    """A parsed body: its events, and how many entries were skipped as unreadable."""

    format: str
    events: list[Event]
    skipped: int = 0

    @property
    def realms(self) -> set[str]:
        return {e.realm_id for e in self.events}


def signature(body: bytes, verifier_token: str) -> str:
    """``intuit-signature`` for ``body``: base64 of its HMAC-SHA256 under the verifier token."""
    digest = hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(body: bytes, header: str | None, verifier_token: str) -> bool:
    """True when ``header`` is Intuit's signature of exactly these bytes (constant-time comparison)."""
    if not header or not verifier_token:
        return False
    expected = signature(body, verifier_token).encode("ascii")
    return hmac.compare_digest(expected, header.strip().encode("utf-8", "replace"))


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time (``Z``, ``-07:00`` or ``-0700``; nanoseconds allowed) as aware UTC."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    frac = re.match(r"^(.*\.\d{6})\d+(.*)$", text)  # Python reads at most microseconds
    if frac:
        text = frac.group(1) + frac.group(2)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)


def _text(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if value and len(value) <= MAX_ID else None


def _realm(value: Any) -> str | None:
    text = _text(value)
    return text if text is not None and _REALM.match(text) else None


def _cloudevent(doc: Any) -> Event | None:
    if not isinstance(doc, dict) or str(doc.get("specversion", "")) != "1.0":
        return None
    event_id, realm = _text(doc.get("id")), _realm(doc.get("intuitaccountid"))
    kind = _TYPE.match(str(doc.get("type") or "").lower())
    if event_id is None or realm is None or kind is None:
        return None
    entity = WEBHOOK_ENTITIES.get(kind.group(1), kind.group(1))
    operation = ACTIONS.get(kind.group(2), kind.group(2).capitalize())
    return Event(event_id, realm, entity, _text(doc.get("intuitentityid")) or "", operation,
                 parse_time(doc.get("time")), CLOUDEVENTS)


def legacy_event_id(realm: str, entity: Any) -> str:
    """A stable id for a legacy entry (it carries none): the same notification hashes the same."""
    keys = ("name", "id", "operation", "lastUpdated", "deletedId")
    text = "\x1f".join([realm, *(str(entity.get(k, "")) for k in keys)])
    return "legacy:" + hashlib.sha256(text.encode()).hexdigest()[:40]


def _legacy(notifications: Iterable[Any]) -> tuple[list[Event], int]:
    events: list[Event] = []
    skipped = 0
    for note in notifications:
        realm = _realm(note.get("realmId")) if isinstance(note, dict) else None
        change = note.get("dataChangeEvent") if isinstance(note, dict) else None
        entities = change.get("entities") if isinstance(change, dict) else None
        if realm is None or not isinstance(entities, list):
            skipped += 1
            continue
        for ent in entities:
            name = _text(ent.get("name")) if isinstance(ent, dict) else None
            if name is None or not isinstance(ent, dict):
                skipped += 1
                continue
            events.append(Event(legacy_event_id(realm, ent), realm, WEBHOOK_ENTITIES.get(name.lower(), name),
                                _text(ent.get("id")) or "", _text(ent.get("operation")) or "Update",
                                parse_time(ent.get("lastUpdated")), LEGACY))
    return events, skipped


def parse_delivery(body: bytes) -> Delivery:
    """The events of a delivery; entries that cannot be read are counted in ``skipped``, not fatal
    (one odd event must not make Intuit redeliver the others for ever). BadDelivery when the body is
    not one of the two shapes at all."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadDelivery("the body is not JSON") from None
    if isinstance(doc, list):
        events = [e for e in (_cloudevent(d) for d in doc) if e is not None]
        return Delivery(CLOUDEVENTS, events, len(doc) - len(events))
    if isinstance(doc, dict) and isinstance(doc.get("eventNotifications"), list):
        events, skipped = _legacy(doc["eventNotifications"])
        return Delivery(LEGACY, events, skipped)
    if isinstance(doc, dict) and str(doc.get("specversion", "")) == "1.0":
        # a single CloudEvent in structured mode (not what Intuit sends, but valid CloudEvents)
        one = _cloudevent(doc)
        return Delivery(CLOUDEVENTS, [one] if one else [], 0 if one else 1)
    raise BadDelivery("the body is neither a CloudEvents array nor an eventNotifications object")
