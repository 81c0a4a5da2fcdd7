"""QBO JSON becomes typed cache columns: times in UTC, exact money, refs, links, lines, voids."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from qbsync.cache.mapping import is_deleted_stub, map_object

CUSTOMER = {
    "Id": "58", "SyncToken": "3", "DisplayName": "Amy's Bird Sanctuary (deleted)",
    "GivenName": "Amy", "FamilyName": "Lauterbach", "CompanyName": "Amy's Bird Sanctuary",
    "FullyQualifiedName": "Amy's Bird Sanctuary", "PrimaryEmailAddr": {"Address": "birds@intuit.com"},
    "PrimaryPhone": {"FreeFormNumber": "(650) 555-3311"}, "Mobile": {"FreeFormNumber": "555-1"},
    "BillAddr": {"Id": "2", "Line1": "4581 Finch St.", "City": "Bayshore", "CountrySubDivisionCode": "CA",
                 "PostalCode": "94326", "Lat": "INVALID"},
    "Balance": 239.0, "BalanceWithJobs": 1239.5, "Active": False, "Job": True,
    "ParentRef": {"value": "12"}, "Level": 1, "BillWithParent": True, "CurrencyRef": {"value": "USD"},
    "IsProject": False, "V4IDPseudonym": "002098", "SomeFutureField": {"x": 1},
    "MetaData": {"CreateTime": "2015-07-01T10:14:15-07:00",
                 "LastUpdatedTime": "2015-07-01T23:30:00.123-07:00"},
}


def test_customer_columns_keep_deleted_suffix_and_convert_times_to_utc() -> None:
    row = map_object("Customer", "r1", CUSTOMER).row
    assert row["display_name"] == "Amy's Bird Sanctuary (deleted)"
    assert row["active"] is False and row["job"] is True and row["parent_id"] == "12" and row["level"] == 1
    assert row["email"] == "birds@intuit.com" and row["phone"] == "(650) 555-3311"
    assert row["bill_region"] == "CA" and row["bill_postal_code"] == "94326" and row["bill_line2"] is None
    assert row["balance"] == Decimal("239.0") and row["balance_with_jobs"] == Decimal("1239.5")
    assert row["created_at"] == datetime(2015, 7, 1, 17, 14, 15, tzinfo=UTC)
    assert row["updated_at"] == datetime(2015, 7, 2, 6, 30, 0, 123000, tzinfo=UTC)
    assert row["raw"] is CUSTOMER and "SomeFutureField" not in row


def test_invoice_lines_including_group_lines_and_void_flag() -> None:
    inv = {
        "Id": "264", "SyncToken": "1", "TxnDate": "2020-09-29", "DueDate": "2020-10-29",
        "CustomerRef": {"value": "7"}, "TotalAmt": 0, "Balance": 0, "PrivateNote": "Voided",
        "DepartmentRef": {"value": "2"}, "ClassRef": {"value": "300"},
        "Line": [
            {"Id": "1", "Amount": 0, "DetailType": "SalesItemLineDetail",
             "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 0}},
            {"Id": "2", "Amount": 20, "DetailType": "GroupLineDetail", "GroupLineDetail": {"Line": [
                {"Amount": 20, "DetailType": "SalesItemLineDetail",
                 "SalesItemLineDetail": {"ItemRef": {"value": "9"}, "ClassRef": {"value": "301"},
                                         "Qty": 2}}]}},
            {"Amount": 0, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}},
        ],
        "MetaData": {"CreateTime": "2020-09-29T04:46:06-07:00",
                     "LastUpdatedTime": "2022-09-02T05:58:56-07:00"},
    }
    m = map_object("Invoice", "r1", inv)
    assert m.row["voided"] is True and m.row["txn_date"] == date(2020, 9, 29)
    assert m.row["customer_id"] == "7" and m.row["department_id"] == "2" and m.row["class_id"] == "300"
    assert [(sl["item_id"], sl["class_id"], sl["qty"]) for sl in m.sales_lines] == [
        ("1", "300", Decimal("0")), ("9", "301", Decimal("2"))]
    inv2 = dict(inv, TotalAmt=10, PrivateNote="Voided by mistake? no", Balance=10)
    assert map_object("Invoice", "r1", inv2).row["voided"] is False


def test_payment_links_one_per_linked_transaction() -> None:
    pay = {"Id": "125", "SyncToken": "0", "TxnDate": "2014-09-14", "TotalAmt": 75, "UnappliedAmt": 5,
           "CustomerRef": {"value": "20"},
           "Line": [{"Amount": 25, "LinkedTxn": [{"TxnId": "67", "TxnType": "Invoice"}]},
                    {"Amount": 45, "LinkedTxn": [{"TxnId": "68", "TxnType": "Invoice"},
                                                  {"TxnId": "9", "TxnType": "CreditMemo"}]}],
           "LineEx": {"any": [1]}}
    m = map_object("Payment", "r1", pay)
    assert m.row["unapplied_amt"] == Decimal("5")
    assert [(x["line_no"], x["txn_id"], x["txn_type"], x["amount"]) for x in m.payment_links] == [
        (1, "67", "Invoice", Decimal("25")), (2, "68", "Invoice", Decimal("45")),
        (3, "9", "CreditMemo", Decimal("45"))]


def test_deleted_stub_detection() -> None:
    assert is_deleted_stub({"domain": "QBO", "status": "Deleted", "Id": "979"})
    assert not is_deleted_stub(CUSTOMER)
