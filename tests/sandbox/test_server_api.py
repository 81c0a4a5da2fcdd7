"""The data API through python-quickbooks and raw HTTP: queries, writes, business rules, CDC, batch."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from quickbooks.batch import batch_update
from quickbooks.cdc import change_data_capture
from quickbooks.exceptions import QuickbooksException
from quickbooks.objects.customer import Customer
from quickbooks.objects.invoice import Invoice

from qbsync.sandbox.clock import SandboxClock
from qbsync.sandbox.server import SandboxServer

from .conftest import REALM, Raw, invoice_body


def _invoice(raw: Raw, customer: str, amount: float) -> dict[str, Any]:
    resp = raw.post("invoice", invoice_body(customer, amount))
    assert resp.status_code == 200, resp.text
    return resp.json()["Invoice"]


# ---- queries ----


def test_customer_query_filter_get_with_python_quickbooks(qb: Any) -> None:
    names = [c.DisplayName for c in Customer.all(qb=qb)]
    assert "Amy's Bird Sanctuary" in names and "Old Customer (deleted)" not in names
    amy = Customer.filter(DisplayName="Amy's Bird Sanctuary", qb=qb)
    assert [c.Id for c in amy] == ["1"]
    assert Customer.get(3, qb=qb).DisplayName == "Cool Cars"
    assert Customer.count(qb=qb) == 5
    assert Customer.count("Active IN (true, false)", qb=qb) == 6


def test_query_envelopes_match_the_recordings(raw: Raw) -> None:
    page = raw.query("SELECT * FROM Customer ORDERBY Id STARTPOSITION 2 MAXRESULTS 2").json()
    qr = page["QueryResponse"]
    assert list(qr) == ["Customer", "startPosition", "maxResults"]
    assert (qr["startPosition"], qr["maxResults"]) == (2, 2)
    assert [c["Id"] for c in qr["Customer"]] == ["2", "3"]
    assert raw.query("SELECT * FROM Customer STARTPOSITION 50").json()["QueryResponse"] == {}
    assert raw.query("select count(*) from Customer").json()["QueryResponse"] == {"totalCount": 5}
    assert "time" in page


def test_query_post_with_application_text(raw: Raw) -> None:
    resp = raw.session.post(
        f"{raw.base}/query",
        data="SELECT * FROM Customer WHERE Id = '2'",
        headers={"Content-Type": "application/text"},
        timeout=10,
    )
    assert resp.json()["QueryResponse"]["Customer"][0]["DisplayName"] == "Bill's Windsurf Shop"


def test_malformed_query_is_400_validation_fault(raw: Raw) -> None:
    resp = raw.query("SELECT * FROM Custmoer")
    assert resp.status_code == 400
    err = resp.json()["Fault"]["Error"][0]
    assert err["code"] == "4001" and "Custmoer" in err["Detail"]
    assert raw.query("SELECT * FROM Customer WHERE Id = ").status_code == 400


def test_query_like_in_and_dotted_case_insensitive_property(raw: Raw) -> None:
    r = raw.query("SELECT * FROM Customer WHERE DisplayName LIKE 'd%' ORDER BY DisplayName DESC").json()
    assert [c["DisplayName"] for c in r["QueryResponse"]["Customer"]] == [
        "Dukes Basketball Camp",
        "Diego Rodriguez",
    ]
    r = raw.query(
        "SELECT * FROM Customer WHERE primaryemailaddr.address IN ('c2@example.com', 'c3@example.com')"
    )
    assert sorted(c["Id"] for c in r.json()["QueryResponse"]["Customer"]) == ["2", "3"]
    r = raw.query("SELECT * FROM Customer WHERE Metadata.LastUpdatedTime > '2024-02-04T00:00:00-08:00'")
    assert sorted(c["Id"] for c in r.json()["QueryResponse"]["Customer"]) == ["4", "5"]


# ---- writes and rules ----


def test_stale_sync_token_is_5010(raw: Raw, qb: Any) -> None:
    amy = Customer.get(1, qb=qb)
    amy.Notes = "first"
    amy.save(qb=qb)
    amy.Notes = "second"  # still holds SyncToken 0
    with pytest.raises(QuickbooksException) as info:
        amy.save(qb=qb)
    assert info.value.error_code == 5010
    resp = raw.post("customer", {"Id": "1", "SyncToken": "0", "sparse": True, "Notes": "x"})
    assert resp.status_code == 400 and resp.json()["Fault"]["Error"][0]["code"] == "5010"


def test_duplicate_display_name_is_6240(raw: Raw) -> None:
    resp = raw.post("customer", {"DisplayName": "cool cars"})
    assert resp.status_code == 400
    assert resp.json()["Fault"]["Error"][0]["code"] == "6240"


def test_update_bumps_sync_token_and_time_and_noop_does_not(raw: Raw, clock: SandboxClock) -> None:
    clock.advance(timedelta(minutes=5))
    first = raw.post("customer", {"Id": "2", "SyncToken": "0", "sparse": True, "Notes": "hi"}).json()[
        "Customer"
    ]
    assert first["SyncToken"] == "1"
    assert first["MetaData"]["LastUpdatedTime"] == "2024-03-01T12:05:00-08:00"
    clock.advance(timedelta(minutes=5))
    again = raw.post("customer", {"Id": "2", "SyncToken": "1", "sparse": True, "Notes": "hi"}).json()[
        "Customer"
    ]
    assert again["SyncToken"] == "1"
    assert again["MetaData"] == first["MetaData"]


def test_full_update_drops_fields_left_out(raw: Raw) -> None:
    amy = raw.get("customer/1").json()["Customer"]
    assert "PrimaryEmailAddr" in amy
    body = {"Id": "1", "SyncToken": amy["SyncToken"], "DisplayName": amy["DisplayName"]}
    updated = raw.post("customer", body).json()["Customer"]
    assert "PrimaryEmailAddr" not in updated


def test_deactivate_adds_suffix_and_reactivate_removes_it(raw: Raw) -> None:
    off = raw.post("customer", {"Id": "4", "SyncToken": "0", "sparse": True, "Active": False}).json()[
        "Customer"
    ]
    assert off["DisplayName"] == "Diego Rodriguez (deleted)" and off["PrintOnCheckName"] == "Diego Rodriguez"
    on = raw.post("customer", {"Id": "4", "SyncToken": off["SyncToken"], "sparse": True, "Active": True})
    assert on.json()["Customer"]["DisplayName"] == "Diego Rodriguez"


def test_invoice_and_payment_move_balances(raw: Raw) -> None:
    inv = _invoice(raw, "2", 100)
    assert inv["TotalAmt"] == 100 and inv["Balance"] == 100 and inv["DocNumber"]
    assert inv["Line"][-1]["DetailType"] == "SubTotalLineDetail"
    assert raw.get("customer/2").json()["Customer"]["Balance"] == 100
    pay = raw.post(
        "payment",
        {
            "CustomerRef": {"value": "2"},
            "TotalAmt": 60,
            "Line": [{"Amount": 60, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}],
        },
    )
    assert pay.status_code == 200, pay.text
    assert pay.json()["Payment"]["UnappliedAmt"] == 0
    inv_after = raw.get(f"invoice/{inv['Id']}").json()["Invoice"]
    assert inv_after["Balance"] == 40
    assert {"TxnId": pay.json()["Payment"]["Id"], "TxnType": "Payment"} in inv_after["LinkedTxn"]
    assert raw.get("customer/2").json()["Customer"]["Balance"] == 40


def test_money_has_two_decimals_on_the_wire(raw: Raw) -> None:
    inv = raw.post(
        "invoice",
        {
            "CustomerRef": {"value": "2"},
            "Line": [
                {
                    "Amount": 337.5,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
                }
            ],
        },
    )
    assert '"TotalAmt":337.50' in inv.text and '"Id":"' in inv.text


def test_customer_with_open_balance_cannot_be_deactivated(raw: Raw) -> None:
    _invoice(raw, "3", 50)
    resp = raw.post("customer", {"Id": "3", "SyncToken": "0", "sparse": True, "Active": False})
    assert resp.status_code == 400
    assert resp.json()["Fault"]["Error"][0]["Message"] == "Delete List Has Balance Error"


def test_jobs_roll_up_and_deactivate_with_parent(raw: Raw) -> None:
    job = raw.post("customer", {"DisplayName": "Pond", "ParentRef": {"value": "5"}}).json()["Customer"]
    assert job["Job"] is True and job["Level"] == 1
    assert job["FullyQualifiedName"] == "Dukes Basketball Camp:Pond"
    _invoice(raw, job["Id"], 20)
    parent = raw.get("customer/5").json()["Customer"]
    assert (parent["Balance"], parent["BalanceWithJobs"]) == (0, 20)
    refused = raw.post(
        "customer", {"Id": "5", "SyncToken": parent["SyncToken"], "sparse": True, "Active": False}
    )
    assert refused.status_code == 400
    empty = raw.post("customer", {"DisplayName": "Empty Job", "ParentRef": {"value": "1"}}).json()["Customer"]
    raw.post("customer", {"Id": "1", "SyncToken": "0", "sparse": True, "Active": False})
    assert raw.get(f"customer/{empty['Id']}").json()["Customer"]["Active"] is False


def test_delete_and_void_invoice(raw: Raw, clock: SandboxClock) -> None:
    since = (clock.now() - timedelta(seconds=1)).isoformat()
    a = _invoice(raw, "2", 10)
    b = _invoice(raw, "2", 15)
    gone = raw.post("invoice", {"Id": a["Id"], "SyncToken": a["SyncToken"]}, operation="delete").json()
    assert gone["Invoice"] == {"domain": "QBO", "status": "Deleted", "Id": a["Id"]}
    assert raw.get(f"invoice/{a['Id']}").status_code == 400
    void = raw.post("invoice", {"Id": b["Id"], "SyncToken": b["SyncToken"]}, operation="void").json()[
        "Invoice"
    ]
    assert void["TotalAmt"] == 0 and void["Balance"] == 0 and void["PrivateNote"] == "Voided"
    assert raw.get("customer/2").json()["Customer"]["Balance"] == 0
    cdc = raw.get("cdc", entities="Invoice,Customer", changedSince=since).json()
    groups = cdc["CDCResponse"][0]["QueryResponse"]
    invoices = groups[0]["Invoice"]
    assert {"domain": "QBO", "status": "Deleted", "Id": a["Id"]}.items() <= invoices[0].items() or any(
        i.get("status") == "Deleted" and i["Id"] == a["Id"] for i in invoices
    )
    assert [c["Id"] for c in groups[1]["Customer"]] == ["2"]


def test_requestid_returns_the_original_response(raw: Raw) -> None:
    body = {"DisplayName": "Once Only"}
    first = raw.post("customer", body, requestid="abc-1")
    second = raw.post("customer", body, requestid="abc-1")
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert raw.query("SELECT COUNT(*) FROM Customer WHERE DisplayName = 'Once Only'").json() == {
        "QueryResponse": {"totalCount": 1},
        "time": raw.query("SELECT COUNT(*) FROM Item").json()["time"],
    }


# ---- CDC ----


def test_change_data_capture_with_python_quickbooks(
    qb: Any, server: SandboxServer, clock: SandboxClock
) -> None:
    since = clock.now() - timedelta(minutes=1)
    server.store.put(
        REALM, "Customer", {**(server.store.get(REALM, "Customer", "3") or {}), "Notes": "behind your back"}
    )
    inv = Invoice()
    inv.CustomerRef = Customer.get(2, qb=qb).to_ref()
    from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail

    line = SalesItemLine()
    line.Amount = 12
    line.SalesItemLineDetail = SalesItemLineDetail()
    inv.Line = [line]
    inv.save(qb=qb)
    # A naive time means company time, so send the offset explicitly.
    result = change_data_capture([Customer, Invoice], since.isoformat(), qb=qb)
    assert sorted(c.Id for c in result.Customer) == ["2", "3"]
    assert len(result.Invoice) == 1


def test_cdc_refuses_more_than_30_days(raw: Raw, clock: SandboxClock) -> None:
    old = (clock.now() - timedelta(days=31)).date().isoformat()
    resp = raw.get("cdc", entities="Customer", changedSince=old)
    assert resp.status_code == 400
    assert "older than fixed days" in resp.json()["Fault"]["Error"][0]["Detail"]


def test_cdc_caps_at_1000_objects(raw: Raw, server: SandboxServer, clock: SandboxClock) -> None:
    stamp = server.store.stamp(REALM)
    server.store.bulk_load(
        REALM,
        "Estimate",
        [
            {
                "Id": str(i),
                "SyncToken": "0",
                "TotalAmt": 1,
                "MetaData": {"CreateTime": stamp, "LastUpdatedTime": stamp},
            }
            for i in range(1, 1101)
        ],
    )
    since = (clock.now() - timedelta(days=1)).isoformat()
    body = raw.get("cdc", entities="Estimate", changedSince=since).json()
    assert body["CDCResponse"][0]["QueryResponse"][0]["maxResults"] == 1000


def test_cdc_empty_envelope(raw: Raw, clock: SandboxClock) -> None:
    body = raw.get("cdc", entities="Customer", changedSince=clock.now().isoformat()).json()
    assert body["CDCResponse"] == [{"QueryResponse": [{}]}]


# ---- batch ----


def test_batch_items_succeed_and_fail_independently(raw: Raw) -> None:
    resp = raw.post(
        "batch",
        {
            "BatchItemRequest": [
                {"bId": "1", "operation": "create", "Customer": {"DisplayName": "Batch One"}},
                {
                    "bId": "2",
                    "operation": "update",
                    "Customer": {"Id": "2", "SyncToken": "7", "sparse": True, "Notes": "x"},
                },
                {"bId": "3", "operation": "delete", "Invoice": {"Id": "999", "SyncToken": "0"}},
                {"bId": "4", "Query": "select * from Customer where Id = '3'"},
            ]
        },
    )
    assert resp.status_code == 200
    items = {i["bId"]: i for i in resp.json()["BatchItemResponse"]}
    assert items["1"]["Customer"]["DisplayName"] == "Batch One"
    assert items["2"]["Fault"]["Error"][0]["code"] == "5010"
    assert items["3"]["Fault"]["Error"][0]["code"] == "610"
    assert items["4"]["QueryResponse"]["Customer"][0]["Id"] == "3"


def test_batch_over_30_items_is_refused(raw: Raw) -> None:
    items = [{"bId": str(i), "Query": "select * from Item"} for i in range(31)]
    assert raw.post("batch", {"BatchItemRequest": items}).status_code == 400


def test_batch_update_with_python_quickbooks(qb: Any) -> None:
    a, b = Customer.get(1, qb=qb), Customer.get(2, qb=qb)
    a.Notes, b.Notes = "batch a", "batch b"
    result = batch_update([a, b], qb=qb)
    assert len(result.successes) == 2 and not result.faults
    assert Customer.get(2, qb=qb).Notes == "batch b"


def test_headers_as_recorded(raw: Raw) -> None:
    resp = raw.get("customer/1")
    assert resp.headers["Intuit-Tid"].startswith("1-")
    assert "Qbo-Version" in resp.headers and resp.headers["Service-Time"].startswith("total=")
    assert resp.headers["Content-Type"] == "application/json;charset=utf-8"
    bad = raw.get("customer/1.5")
    assert bad.status_code == 400 and "Intuit-Tid" in bad.headers
    assert bad.json()["Fault"]["Error"][0]["code"] == "2030"
