"""Merging two customers (or vendors) as the QuickBooks UI does, and the webhook Merge event it sends.

QuickBooks Online has no merge in its API: a user merges in the UI by renaming one record to the
other's name. The loser's transactions and sub-customers move to the survivor, the loser is left
inactive with an empty history (API-NOTES: "Intuit's UI merge is permanent"), and apps receive one
webhook event, operation ``Merge``, for the survivor with ``deletedId`` = the loser (CloudEvents:
``qbo.customer.merged.v1`` with ``data.deletedid``). The sandbox offers it behind the client's back
(admin endpoint, ``qbsync sandbox merge``) so that a receiver and a sync can meet a merge.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from qbsync.sandbox import catalog, postings, wire
from qbsync.sandbox.ledger import DELETED_SUFFIX, Ledger

MERGEABLE = ("Customer", "Vendor")


class MergeError(ValueError):
    """A merge the sandbox refuses; the message says why."""


def _base(name: str) -> str:
    return name[: -len(DELETED_SUFFIX)] if name.endswith(DELETED_SUFFIX) else name


def _ref(obj: dict[str, Any], key: str) -> str | None:
    ref = obj.get(key)
    return str(ref["value"]) if isinstance(ref, dict) and ref.get("value") is not None else None


def merge(ledger: Ledger, realm: str, entity: str, loser_id: str, survivor_id: str) -> dict[str, Any]:
    """Merge ``loser_id`` into ``survivor_id``; returns what moved. One transaction: all or nothing."""
    store = ledger.store
    ent = catalog.canonical(entity)
    if ent not in MERGEABLE:
        raise MergeError(f"the sandbox merges {' and '.join(MERGEABLE)} records, not {entity!r}")
    if str(loser_id) == str(survivor_id):
        raise MergeError(f"cannot merge {ent} {loser_id} into itself")
    if not store.has_realm(realm):
        raise MergeError(f"no company {realm} in the sandbox")
    with store.transaction():
        loser = store.get(realm, ent, loser_id)
        survivor = store.get(realm, ent, survivor_id)
        for label, obj, id_ in (("merged", loser, loser_id), ("surviving", survivor, survivor_id)):
            if obj is None:
                raise MergeError(f"no {ent} {id_} in company {realm} (the {label} record)")
            if obj.get("Active") is False:
                raise MergeError(f"{ent} {id_} is inactive: QuickBooks merges active records only")
        assert loser is not None and survivor is not None
        moved_txns = moved_jobs = 0
        if ent == "Customer":
            # The survivor may not sit under the loser: its jobs would move under themselves.
            parent = _ref(survivor, "ParentRef")
            while parent is not None:
                if parent == str(loser_id):
                    raise MergeError(f"Customer {survivor_id} is a sub-customer of {loser_id}: "
                                     "merge the other way")
                up = store.get(realm, "Customer", parent)
                parent = _ref(up, "ParentRef") if up else None
            name = _base(str(survivor.get("DisplayName", "")))
            marks = ", ".join("?" for _ in catalog.TRANSACTIONS)
            rows = store._read(f"SELECT entity, data FROM objects WHERE realm = ? AND customer_id = ? "
                               f"AND entity IN ({marks}) ORDER BY entity, id",
                               (realm, int(loser_id), *catalog.TRANSACTIONS))
            for txn_entity, text in rows:
                txn = json.loads(text)
                txn["CustomerRef"] = {"value": str(survivor_id), "name": name}
                store.save(realm, txn_entity, txn)
                moved_txns += 1
            # Journal entries name customers on their lines, not in a CustomerRef.
            for (text,) in store._read("SELECT data FROM objects WHERE realm = ? AND entity = 'JournalEntry' "
                                       "ORDER BY id", (realm,)):
                entry = json.loads(text)
                touched = False
                for line in postings.journal_lines(entry):
                    detail = line["JournalEntryLineDetail"]
                    if postings.line_customer(detail) == int(loser_id):
                        detail["Entity"]["EntityRef"] = {"value": str(survivor_id), "name": name}
                        touched = True
                if touched:
                    store.save(realm, "JournalEntry", entry)
                    moved_txns += 1
            for job in store.children(realm, "Customer", int(loser_id)):
                ledger.update(realm, "Customer", {"Id": job["Id"], "SyncToken": job["SyncToken"],
                                                  "sparse": True, "ParentRef": {"value": str(survivor_id)}})
                moved_jobs += 1
        gone = copy.deepcopy(store.get(realm, ent, loser_id) or loser)
        gone["Active"] = False
        gone["DisplayName"] = _base(str(gone.get("DisplayName", ""))) + DELETED_SUFFIX
        if ent == "Customer":
            gone["FullyQualifiedName"] = _base(str(gone.get("FullyQualifiedName", ""))) + DELETED_SUFFIX
        else:
            # A vendor's payable balance follows it to the survivor (the sandbox has no bills to move).
            owed = wire.to_decimal(gone.get("Balance"))
            if owed:
                winner = store.get(realm, ent, survivor_id) or survivor
                winner["Balance"] = float(wire.to_decimal(winner.get("Balance")) + owed)
                store.save(realm, ent, winner, bump_sync=False)
            gone["Balance"] = 0
        # The merge itself is the one event for the loser: no separate Update or Delete.
        store.save(realm, ent, gone, event=None)
        if ent == "Customer":
            ledger._refresh_customer(realm, int(loser_id))
            ledger._refresh_customer(realm, int(survivor_id))
            old_parent = _ref(loser, "ParentRef")
            if old_parent is not None:
                ledger._refresh_customer(realm, int(old_parent))
        store.note_change(realm, ent, str(survivor_id), "Merge", deleted_id=str(loser_id))
    return {"entity": ent, "merged": str(loser_id), "into": str(survivor_id), "transactions": moved_txns,
            "jobs": moved_jobs}
