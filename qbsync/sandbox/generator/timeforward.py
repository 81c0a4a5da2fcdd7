"""Play time forward: the next N days of purchases, with one return rate for contacted customers and
another for everyone else (issue 5: measuring a win-back campaign against its control group)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any, Protocol

from qbsync.sandbox.query import parse

from .catalog import DEPOSIT_ACCOUNT, PAYMENT_METHODS
from .render import CURRENCY, money, ref
from .seeding import sub_rng


class _Store(Protocol):
    def put(self, realm_id: str, entity: str, obj: dict[str, Any]) -> dict[str, Any]: ...

    def get(self, realm_id: str, entity: str, id_: str | int) -> dict[str, Any] | None: ...


def _customers(store: Any, realm_id: str) -> Iterator[dict[str, Any]]:
    start = 1
    while True:
        q = parse(
            f"SELECT * FROM Customer WHERE Active IN (true, false) ORDERBY Id "
            f"STARTPOSITION {start} MAXRESULTS 1000"
        )
        texts = store.run_query(realm_id, q).texts
        for text in texts:
            yield json.loads(text)
        if len(texts) < 1000:
            return
        start += 1000


def _share(returned: int, population: int) -> float:
    return round(returned / population, 4) if population else 0.0


def advance(
    store: _Store,
    realm_id: str,
    days: int,
    *,
    start: date,
    contacted_ids: set[str],
    contacted_rate: float,
    other_rate: float,
    seed: int,
) -> dict[str, Any]:
    """Create purchases dated ``start`` .. ``start + days - 1`` through ``store.put`` (as live changes,
    visible in CDC). Each contacted customer returns (buys at least once) with probability
    ``contacted_rate``; every other active customer with ``other_rate``. Returns who returned."""
    if days < 1:
        raise ValueError("days must be at least 1")
    for name, rate in (("contacted_rate", contacted_rate), ("other_rate", other_rate)):
        if not 0 <= rate <= 1:
            raise ValueError(f"{name} must be between 0 and 1, got {rate}")
    item = store.get(realm_id, "Item", "1") or {"Id": "1", "Name": "Services", "UnitPrice": 100}
    unit = round(float(item.get("UnitPrice") or 100) * 100) or 10000
    known: set[str] = set()
    groups: dict[str, dict[str, list[str]]] = {
        "contacted": {"members": [], "returned": []},
        "others": {"members": [], "returned": []},
    }
    created = 0
    for cust in _customers(store, realm_id):
        cid = str(cust["Id"])
        known.add(cid)
        contacted = cid in contacted_ids
        if not contacted and cust.get("Active") is False:
            continue  # nobody buys from a record the owner closed, unless a campaign reached them
        group = groups["contacted" if contacted else "others"]
        group["members"].append(cid)
        rng = sub_rng(seed, "advance", int(cid))
        if rng.random() >= (contacted_rate if contacted else other_rate):
            continue
        group["returned"].append(cid)
        cref = ref(cid, cust.get("FullyQualifiedName") or cust.get("DisplayName", ""))
        for _ in range(1 + (rng.random() < 0.3) + (rng.random() < 0.1)):
            day = start + timedelta(days=int(rng.random() * days))
            qty = 1 + int(rng.random() * 4)
            cents = qty * unit
            line = [
                {
                    "LineNum": 1,
                    "Description": item.get("Name", ""),
                    "Amount": money(cents),
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {
                        "ItemRef": ref(str(item["Id"]), item.get("Name", "")),
                        "UnitPrice": money(unit),
                        "Qty": qty,
                    },
                }
            ]
            base = {
                "TxnDate": day.isoformat(),
                "CustomerRef": cref,
                "CurrencyRef": CURRENCY,
                "Line": line,
                "TotalAmt": money(cents),
            }
            method = ref(*PAYMENT_METHODS[int(rng.random() * len(PAYMENT_METHODS))])
            if rng.random() < 0.7:
                store.put(
                    realm_id,
                    "SalesReceipt",
                    {
                        **base,
                        "Balance": 0,
                        "PaymentMethodRef": method,
                        "DepositToAccountRef": DEPOSIT_ACCOUNT,
                    },
                )
                created += 1
                continue
            # A fully paid invoice: invoice, payment, then the invoice again with its new balance.
            inv = store.put(
                realm_id,
                "Invoice",
                {**base, "DueDate": day.isoformat(), "Balance": money(cents), "LinkedTxn": []},
            )
            pay = store.put(
                realm_id,
                "Payment",
                {
                    "TxnDate": day.isoformat(),
                    "CustomerRef": cref,
                    "CurrencyRef": CURRENCY,
                    "TotalAmt": money(cents),
                    "UnappliedAmt": 0,
                    "PaymentMethodRef": method,
                    "DepositToAccountRef": DEPOSIT_ACCOUNT,
                    "Line": [
                        {"Amount": money(cents), "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}
                    ],
                },
            )
            store.put(
                realm_id,
                "Invoice",
                {**inv, "Balance": 0, "LinkedTxn": [{"TxnId": pay["Id"], "TxnType": "Payment"}]},
            )
            created += 3
    missing = sorted(contacted_ids - known)
    if missing:
        raise ValueError(
            f"contacted customers not in realm {realm_id}: {', '.join(missing[:10])}"
            + (" ..." if len(missing) > 10 else "")
        )

    def summary(g: dict[str, list[str]]) -> dict[str, Any]:
        return {
            "population": len(g["members"]),
            "returned": g["returned"],
            "share": _share(len(g["returned"]), len(g["members"])),
        }

    return {
        "start": start.isoformat(),
        "end": (start + timedelta(days=days - 1)).isoformat(),
        "days": days,
        "seed": seed,
        "contacted_rate": contacted_rate,
        "other_rate": other_rate,
        "contacted": summary(groups["contacted"]),
        "others": summary(groups["others"]),
        "transactions_created": created,
    }
