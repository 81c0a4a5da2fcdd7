"""The sandbox store: realms, raw loads, behind-the-back changes, deletes and the query planner."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qbsync.sandbox.clock import SandboxClock
from qbsync.sandbox.query import parse
from qbsync.sandbox.store import Store

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def _customer(i: int, name: str, active: bool = True) -> dict:
    return {"Id": str(i), "SyncToken": "0", "DisplayName": name, "FullyQualifiedName": name,
            "Active": active, "Balance": 0, "MetaData": {"CreateTime": "2020-01-01T00:00:00-08:00",
                                       "LastUpdatedTime": f"2020-01-{i:02d}T00:00:00-08:00"}}


@pytest.fixture
def store() -> Store:
    s = Store(clock=SandboxClock(T0))
    s.create_realm("r1", company_info={"CompanyName": "Sandbox Co"})
    rows = [_customer(1, "Zed"), _customer(2, "amy"), _customer(3, "Bob", active=False)]
    s.bulk_load("r1", "Customer", rows)
    return s


def test_realms_and_company_info(store: Store) -> None:
    assert store.realms() == ["r1"]
    info = store.get("r1", "CompanyInfo", "1")
    assert info is not None and info["CompanyName"] == "Sandbox Co"


def test_put_bumps_sync_token_and_time_in_company_offset(store: Store) -> None:
    obj = store.get("r1", "Customer", "2")
    assert obj is not None
    obj["Notes"] = "changed in the UI"
    stored = store.put("r1", "Customer", obj)
    assert stored["SyncToken"] == "1"
    assert stored["MetaData"]["LastUpdatedTime"] == "2024-03-01T04:00:00-08:00"
    assert store.get("r1", "Customer", "2")["Notes"] == "changed in the UI"  # type: ignore[index]


def test_put_without_id_creates(store: Store) -> None:
    new = store.put("r1", "Customer", {"DisplayName": "New"})
    assert new["Id"] == "4" and new["SyncToken"] == "0"


def test_query_hides_inactive_and_orders_by_name(store: Store) -> None:
    res = store.run_query("r1", parse("SELECT * FROM Customer"))
    assert [json.loads(t)["DisplayName"] for t in res.texts] == ["amy", "Zed"]
    res = store.run_query("r1", parse("SELECT COUNT(*) FROM Customer WHERE Active IN (true, false)"))
    assert res.count == 3


def test_query_generic_property_and_paging(store: Store) -> None:
    res = store.run_query("r1", parse("SELECT * FROM Customer WHERE Balance = '0' ORDERBY Id DESC "
                                      "STARTPOSITION 2 MAXRESULTS 1"))
    assert [json.loads(t)["Id"] for t in res.texts] == ["1"]


def test_query_impossible_id_returns_nothing(store: Store) -> None:
    assert store.run_query("r1", parse("SELECT * FROM Customer WHERE Id = 'abc'")).texts == []


def test_delete_leaves_tombstone_for_cdc(store: Store) -> None:
    store.bulk_load("r1", "Invoice", [{"Id": "9", "SyncToken": "0", "CustomerRef": {"value": "1"},
                                       "Balance": 10,
                                       "MetaData": {"LastUpdatedTime": "2020-01-01T00:00:00-08:00"}}])
    store.delete("r1", "Invoice", "9")
    assert store.get("r1", "Invoice", "9") is None
    rows = store.changed_since("r1", "Invoice", T0 - timedelta(days=1), 1000)
    assert [json.loads(t)["status"] for _, t in rows] == ["Deleted"]


def test_money_written_with_two_decimals(store: Store) -> None:
    inv = {"Id": "1", "TotalAmt": 337.5, "Balance": 0, "Line": [{"Amount": 100}]}
    store.bulk_load("r1", "Invoice", [inv])
    text = store.get_text("r1", "Invoice", "1")
    assert text is not None
    assert '"TotalAmt":337.50' in text and '"Balance":0' in text and '"Amount":100.00' in text


def test_file_store_persists(tmp_path: Path) -> None:
    path = str(tmp_path / "sb.sqlite3")
    s = Store(path, clock=SandboxClock(T0))
    s.create_realm("r9", company_info={"CompanyName": "Persisted"})
    s.bulk_load("r9", "Customer", [_customer(1, "Keep")])
    s.close()
    again = Store(path)
    assert again.realms() == ["r9"]
    assert again.get("r9", "Customer", 1)["DisplayName"] == "Keep"  # type: ignore[index]
