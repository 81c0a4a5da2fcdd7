"""A sandbox company over real HTTP for sync integration tests: company builder, client, snapshots."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests import fakeqbo

REALM = "9341452000000001"
# Near the real date: CLI children use the system clock for token expiry, like real users.
DATA_DAY = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"


def _meta(t: datetime) -> dict[str, str]:
    stamp = t.astimezone(datetime.strptime("-07:00", "%z").tzinfo).isoformat(timespec="seconds")
    return {"CreateTime": stamp, "LastUpdatedTime": stamp}


def _line(amount: int, item: str, qty: int = 1) -> dict[str, Any]:
    return {"Id": "1", "LineNum": 1, "Amount": amount, "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": qty, "UnitPrice": amount / qty}}


def build_company(store: Any, *, customers: int = 600, invoices: int = 1500, seed: int = 7) -> None:
    """A small but complete company: locations, classes, items, customers with jobs and inactive ones,
    invoices with lines, payments linked to invoices, sales receipts, credit memos, estimates."""
    rng = random.Random(seed)
    store.create_realm(REALM, company_info={"CompanyName": "Sync Test Co", "Country": "US"})
    next_id = iter(range(1, 10_000_000))
    t = DATA_DAY - timedelta(days=60)

    def obj(**fields: Any) -> dict[str, Any]:
        return {"Id": str(next(next_id)), "SyncToken": "0", "domain": "QBO", "sparse": False,
                "MetaData": _meta(t + timedelta(minutes=rng.randint(0, 80_000))), **fields}

    store.bulk_load(REALM, "Department", [obj(Name=f"Location {i}", FullyQualifiedName=f"Location {i}",
                                             Active=True, SubDepartment=False) for i in range(3)])
    store.bulk_load(REALM, "Class", [obj(Name=f"Class {i}", FullyQualifiedName=f"Class {i}", Active=True,
                                        SubClass=False) for i in range(2)])
    items = [obj(Name=f"Item {i}", FullyQualifiedName=f"Item {i}", Active=True, Type="Service",
                 UnitPrice=10 + i) for i in range(5)]
    store.bulk_load(REALM, "Item", items)
    custs = []
    for i in range(customers):
        active = rng.random() > 0.15
        name = f"Customer {i:05d}" + ("" if active else " (deleted)")
        c = obj(DisplayName=name, FullyQualifiedName=name, PrintOnCheckName=f"Customer {i:05d}",
                Active=active, Job=False, BillWithParent=False, Balance=0, BalanceWithJobs=0, Level=0,
                PrimaryEmailAddr={"Address": f"c{i}@example.com"},
                BillAddr={"Line1": f"{i} Main St", "City": "Springfield", "CountrySubDivisionCode": "CA",
                          "PostalCode": "94000"},
                CurrencyRef={"value": "USD", "name": "United States Dollar"})
        custs.append(c)
    for parent in custs[: customers // 20]:
        name = parent["DisplayName"] + ":Job"
        custs.append(obj(DisplayName=name.split(":")[0] + " Job", FullyQualifiedName=name, Active=True,
                         Job=True, ParentRef={"value": parent["Id"]}, Level=1, BillWithParent=True,
                         Balance=0, BalanceWithJobs=0))
    store.bulk_load(REALM, "Customer", custs)
    invs, pays, receipts, memos, ests = [], [], [], [], []
    for _ in range(invoices):
        c = rng.choice(custs)
        amt = rng.randint(5, 900)
        it = rng.choice(items)["Id"]
        inv = obj(CustomerRef={"value": c["Id"]}, TxnDate="2025-03-01", DueDate="2025-03-31", TotalAmt=amt,
                  Balance=amt, DocNumber=str(rng.randint(1000, 99999)), Line=[_line(amt, it)],
                  DepartmentRef={"value": "1"}, LinkedTxn=[])
        invs.append(inv)
        roll = rng.random()
        if roll < 0.5:
            link = {"TxnId": inv["Id"], "TxnType": "Invoice"}
            pays.append(obj(CustomerRef={"value": c["Id"]}, TxnDate="2025-03-15", TotalAmt=amt,
                            UnappliedAmt=0, Line=[{"Amount": amt, "LinkedTxn": [link]}]))
            inv["Balance"] = 0
        elif roll < 0.7:
            receipts.append(obj(CustomerRef={"value": c["Id"]}, TxnDate="2025-02-01", TotalAmt=amt, Balance=0,
                                Line=[_line(amt, it)]))
        elif roll < 0.8:
            memos.append(obj(CustomerRef={"value": c["Id"]}, TxnDate="2025-02-10", TotalAmt=amt,
                             RemainingCredit=amt, Balance=amt, Line=[_line(amt, it)]))
        elif roll < 0.9:
            ests.append(obj(CustomerRef={"value": c["Id"]}, TxnDate="2025-01-10", TotalAmt=amt,
                            TxnStatus="Pending", ExpirationDate="2025-02-10", Line=[_line(amt, it, 2)]))
    for entity, rows in (("Invoice", invs), ("Payment", pays), ("SalesReceipt", receipts),
                         ("CreditMemo", memos), ("Estimate", ests)):
        store.bulk_load(REALM, entity, rows)


def snapshot(store: Any, realm: str = REALM) -> dict[str, dict[str, Any]]:
    """Everything the sandbox holds for the mirrored entities (inactive included), read in-process."""
    return fakeqbo.snapshot(store, realm)


def mutate(store: Any, rng: random.Random, n: int = 40, realm: str = REALM) -> dict[str, int]:
    """Random creates, updates, deactivations, voids and deletes, as made in QuickBooks' UI."""
    snap = snapshot(store, realm)
    done = {"create": 0, "update": 0, "deactivate": 0, "void": 0, "delete": 0}
    cust_ids = list(snap["Customer"])
    for _ in range(n):
        op = rng.choice(list(done))
        if op == "create":
            c = rng.choice(cust_ids)
            store.put(realm, "Invoice", {"CustomerRef": {"value": c}, "TxnDate": "2025-05-01", "TotalAmt": 42,
                                         "Balance": 42, "Line": [_line(42, "3")], "LinkedTxn": []})
        elif op == "update":
            cid = rng.choice(cust_ids)
            cur = store.get(realm, "Customer", cid)
            cur["PrimaryEmailAddr"] = {"Address": f"new{rng.randint(0, 10**6)}@example.com"}
            store.put(realm, "Customer", cur)
        elif op == "deactivate":
            cid = rng.choice(cust_ids)
            cur = store.get(realm, "Customer", cid)
            if cur.get("Active", True):
                cur["Active"] = False
                cur["DisplayName"] = cur["DisplayName"] + " (deleted)"
                store.put(realm, "Customer", cur)
        elif op == "void":
            ids = list(store_ids(store, realm, "Invoice"))
            cur = store.get(realm, "Invoice", rng.choice(ids))
            cur.update(TotalAmt=0, Balance=0, PrivateNote="Voided")
            for line in cur.get("Line", []):
                line["Amount"] = 0
            store.put(realm, "Invoice", cur)
        else:
            entity = rng.choice(["Invoice", "Payment", "SalesReceipt", "CreditMemo", "Estimate"])
            ids = list(store_ids(store, realm, entity))
            if ids:
                store.delete(realm, entity, rng.choice(ids))
        done[op] += 1
    return done


def store_ids(store: Any, realm: str, entity: str) -> list[str]:
    return list(snapshot(store, realm).get(entity, {}))


@dataclass
class Connection:
    settings: Any
    token_dir: Path
    env: dict[str, str]


def connect_settings(server: Any, tmp: Path, cache_url: str, realm: str = REALM,
                     **overrides: Any) -> Connection:
    """Settings and a token store that point qbsync at the sandbox company ``realm`` (tokens issued
    without a browser)."""
    return connect_companies(server, tmp, cache_url, [realm], **{"realm": realm, **overrides})


def connect_companies(server: Any, tmp: Path, cache_url: str, realms: list[str],
                      **overrides: Any) -> Connection:
    """Settings aimed at the sandbox, a token store with tokens for each of ``realms`` (issued without a
    browser), and the environment a `qbsync` child process needs for the same."""
    from qbsync.auth.tokens import TokenSet, TokenStore
    from qbsync.settings import load_settings

    token_dir = tmp / "tokens"
    store = TokenStore(token_dir)
    now = server.clock.now()
    for realm in realms:
        issued = server.issue_tokens(realm)
        store.save(TokenSet(
            realm_id=realm, access_token=issued["access_token"], refresh_token=issued["refresh_token"],
            access_expires_at=now + timedelta(seconds=int(issued.get("expires_in", 3600))),
            refresh_expires_at=now + timedelta(days=100), obtained_at=now, environment=server.base_url))
    values = {"environment": server.base_url, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
              "token_dir": str(token_dir), "cache_url": cache_url,
              "backoff_initial_seconds": 0.01, "backoff_max_seconds": 0.05, "throttle_wait_seconds": 0.05,
              "max_attempts": 12, **overrides}
    env = {k: v for k, v in os.environ.items() if not k.startswith("QBSYNC_")}
    env.update({f"QBSYNC_{k.upper()}": str(v) for k, v in values.items()})
    env["XDG_CONFIG_HOME"] = str(tmp / "xdg")
    env["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    settings = load_settings(overrides=values, env={}, config_path=None)
    return Connection(settings, token_dir, env)
