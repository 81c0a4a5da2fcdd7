"""QBO JSON becomes typed cache columns in the database: times in UTC, exact money, refs, links, lines, voids.

Each case goes through ``write_objects`` (the database-side mapping, SQLite and PostgreSQL) and is
read back through the ORM's column types; ``tests.cache.reference_mapping`` is the same mapping
written independently in Python, and a generated company plus odd objects must agree with it.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from qbsync.cache.db import create_schema, make_engine
from qbsync.cache.mapping import is_deleted_stub, is_voided
from qbsync.cache.models import ENTITIES, Base
from qbsync.cache.upsert import write_objects
from tests.cache.reference_mapping import map_object

REALM = "r1"
SEEN = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)

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

INVOICE: dict[str, Any] = {
    "Id": "264", "SyncToken": "1", "TxnDate": "2020-09-29", "DueDate": "2020-10-29",
    "CustomerRef": {"value": "7"}, "TotalAmt": 0, "Balance": 0, "PrivateNote": "Voided",
    "DepartmentRef": {"value": "2"}, "ClassRef": {"value": "300"},
    "Line": [
        {"Id": "1", "Amount": 0, "DetailType": "SalesItemLineDetail",
         "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 0}},
        {"Id": "2", "Amount": 20, "DetailType": "GroupLineDetail", "GroupLineDetail": {"Line": [
            {"Amount": 20, "DetailType": "SalesItemLineDetail",
             "SalesItemLineDetail": {"ItemRef": {"value": "9"}, "ClassRef": {"value": "301"}, "Qty": 2}}]}},
        {"Amount": 0, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}},
        {"Id": "4", "Amount": 5.25, "DetailType": "SalesItemLineDetail",
         "SalesItemLineDetail": {"ItemRef": {"value": "3"}, "Qty": 1.5}},
    ],
    "MetaData": {"CreateTime": "2020-09-29T04:46:06-07:00", "LastUpdatedTime": "2022-09-02T05:58:56-07:00"},
}

PAYMENT = {"Id": "125", "SyncToken": "0", "TxnDate": "2014-09-14", "TotalAmt": 75, "UnappliedAmt": 5,
           "CustomerRef": {"value": "20"},
           "Line": [{"Amount": 25, "LinkedTxn": [{"TxnId": "67", "TxnType": "Invoice"}]},
                    {"Amount": 45, "LinkedTxn": [{"TxnId": "68", "TxnType": "Invoice"},
                                                  {"TxnId": "9", "TxnType": "CreditMemo"},
                                                  {"TxnId": "", "TxnType": "Invoice"}]},
                    "not a line"],
           "LineEx": {"any": [1]}}


def _engine(url: str) -> sa.Engine:
    engine = make_engine(url)
    create_schema(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO realms (realm_id, created_at) VALUES (:r, :t)"),
                     {"r": REALM, "t": SEEN.replace(tzinfo=None)})
    return engine


def _rows(engine: sa.Engine, table: str, **where: Any) -> list[dict[str, Any]]:
    tbl = Base.metadata.tables[table]
    stmt = sa.select(tbl).where(*(tbl.c[k] == v for k, v in where.items()))
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def _write(engine: sa.Engine, entity: str, objects: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        write_objects(conn, entity, REALM, objects, SEEN)


def test_customer_columns_keep_deleted_suffix_and_convert_times_to_utc(db_url: str) -> None:
    engine = _engine(db_url)
    _write(engine, "Customer", [CUSTOMER])
    [row] = _rows(engine, "customers")
    assert row["display_name"] == "Amy's Bird Sanctuary (deleted)"
    assert row["active"] is False and row["job"] is True and row["parent_id"] == "12" and row["level"] == 1
    assert row["email"] == "birds@intuit.com" and row["phone"] == "(650) 555-3311"
    assert row["bill_region"] == "CA" and row["bill_postal_code"] == "94326" and row["bill_line2"] is None
    assert row["balance"] == Decimal("239.00") and row["balance_with_jobs"] == Decimal("1239.50")
    assert row["created_at"] == datetime(2015, 7, 1, 17, 14, 15, tzinfo=UTC)
    assert row["updated_at"] == datetime(2015, 7, 2, 6, 30, 0, 123000, tzinfo=UTC)
    assert row["seen_at"] == SEEN and row["sync_token"] == "3"
    assert row["raw"] == CUSTOMER
    engine.dispose()


def test_invoice_lines_including_group_lines_and_void_flag(db_url: str) -> None:
    engine = _engine(db_url)
    _write(engine, "Invoice", [INVOICE, dict(INVOICE, Id="265", TotalAmt=10, Balance=10,
                                             PrivateNote="Voided by mistake? no")])
    rows = {r["id"]: r for r in _rows(engine, "invoices")}
    assert rows["264"]["voided"] is True and rows["264"]["txn_date"] == date(2020, 9, 29)
    assert rows["264"]["customer_id"] == "7" and rows["264"]["department_id"] == "2"
    assert rows["264"]["class_id"] == "300" and rows["264"]["due_date"] == date(2020, 10, 29)
    assert rows["265"]["voided"] is False and rows["265"]["balance"] == Decimal("10.00")
    lines = sorted((r["line_no"], r["item_id"], r["class_id"], r["qty"], r["amount"])
                   for r in _rows(engine, "sales_lines", txn_id="264"))
    assert lines == [(1, "1", "300", Decimal("0.00"), Decimal("0.00")),
                     (2, "9", "301", Decimal("2.00"), Decimal("20.00")),
                     (3, "3", "300", Decimal("1.50"), Decimal("5.25"))]
    engine.dispose()


def test_payment_links_one_per_linked_transaction(db_url: str) -> None:
    engine = _engine(db_url)
    _write(engine, "Payment", [PAYMENT])
    [row] = _rows(engine, "payments")
    assert row["unapplied_amt"] == Decimal("5.00") and row["total_amt"] == Decimal("75.00")
    links = sorted((x["line_no"], x["txn_id"], x["txn_type"], x["amount"])
                   for x in _rows(engine, "payment_links"))
    assert links == [(1, "67", "Invoice", Decimal("25.00")), (2, "68", "Invoice", Decimal("45.00")),
                     (3, "9", "CreditMemo", Decimal("45.00"))]
    engine.dispose()


def test_last_version_of_an_id_wins_and_children_are_replaced(db_url: str) -> None:
    engine = _engine(db_url)
    newer = copy.deepcopy(INVOICE)
    newer.update(SyncToken="2", TotalAmt=7, PrivateNote=None, Line=newer["Line"][:1])
    _write(engine, "Invoice", [INVOICE, newer])
    [row] = _rows(engine, "invoices")
    assert row["sync_token"] == "2" and row["total_amt"] == Decimal("7.00") and row["voided"] is False
    assert len(_rows(engine, "sales_lines")) == 1
    _write(engine, "Invoice", [INVOICE])
    assert len(_rows(engine, "sales_lines")) == 3
    engine.dispose()


def _odd_objects() -> dict[str, list[dict[str, Any]]]:
    """Objects QBO would rarely send, to keep both mappings honest at the edges."""
    bare = {"Id": "9001"}
    return {
        "Customer": [
            bare,
            {"Id": "9002", "DisplayName": "No offset", "Active": "true", "Job": "false", "Level": "2",
             "Balance": "12.30", "MetaData": {"CreateTime": "2024-03-01T10:00:00",
                                              "LastUpdatedTime": "2024-03-01T10:00:00Z"}},
            {"Id": "9003", "DisplayName": "Null fields", "PrimaryEmailAddr": None, "BillAddr": "text",
             "ParentRef": {"value": ""}, "Balance": None, "MetaData": {"CreateTime": "not a time"}},
        ],
        "Invoice": [
            dict(bare),
            {"Id": "9004", "TotalAmt": "15.5", "Balance": 1e7, "Line": {"not": "a list"},
             "MetaData": {"CreateTime": "2024-12-31T23:30:00-05:00"}},
            {"Id": "9005", "TxnDate": "2024-02-02", "PrivateNote": "  voided\n", "TotalAmt": 0,
             "Line": [{"DetailType": "SalesItemLineDetail", "Amount": 3, "SalesItemLineDetail": "odd"}]},
            {"Id": "9012", "TxnDate": "2024-02-02", "PrivateNote": "VOIDED", "TotalAmt": "0.00"},
            {"Id": "9013", "TxnDate": "2024-02-02", "PrivateNote": "Voided", "TotalAmt": "0.005"},
            {"Id": "9014", "TxnDate": "2024-02-02", "PrivateNote": "\tVoided: typo", "TotalAmt": "x"},
            {"Id": "9015", "TxnDate": "2024-02-02", "PrivateNote": "Void", "TotalAmt": 0},
            {"Id": "9023", "TxnDate": "2024-03-03", "TotalAmt": 108.25, "TxnTaxDetail": {"TotalTax": "8.25"}},
            {"Id": "9024", "TxnDate": "2024-03-03", "PrivateNote": "Voided", "TotalAmt": 0,
             "TxnTaxDetail": {"TotalTax": 0.005}},
        ],
        "Payment": [{"Id": "9006",
                     "Line": [{"Amount": 1, "LinkedTxn": [{"TxnId": "5"}]}, {"LinkedTxn": None}]}],
        "Item": [{"Id": "9007", "Name": "Widget", "UnitPrice": 0.125, "Type": "Service"},
                 {"Id": "9008", "DisplayName": "fallback name", "UnitPrice": 2.5}],
        "SalesReceipt": [{"Id": "9016", "TxnDate": "2024-01-01", "PrivateNote": "Voided", "TotalAmt": 0}],
        "CreditMemo": [{"Id": "9009", "TxnDate": "2024-01-01", "RemainingCredit": 4, "Balance": 9},
                       {"Id": "9017", "TxnDate": "2024-01-01", "PrivateNote": " voided ", "TotalAmt": "0"},
                       {"Id": "9010", "TxnDate": "2024-01-01", "Balance": 9}],
        "Estimate": [{"Id": "9011", "TxnDate": "2024-01-01", "TxnStatus": "Accepted",
                      "ExpirationDate": "2024-02-01T00:00:00"}],
        "RefundReceipt": [{"Id": "9018", "TxnDate": "2024-03-04", "TotalAmt": 54.13,
                           "CustomerRef": {"value": "3"},
                           "TxnTaxDetail": {"TotalTax": 4.13, "TaxLine": []},
                           "Line": [{"Amount": 50, "DetailType": "SalesItemLineDetail",
                                     "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}]},
                          {"Id": "9019", "TxnDate": "2024-03-04", "TxnTaxDetail": "odd"}],
        "Account": [{"Id": "9020", "Name": "Accounts Receivable (A/R)", "AccountType": "Accounts Receivable",
                     "AccountSubType": "AccountsReceivable", "Classification": "Asset"}],
        "JournalEntry": [{"Id": "9021", "TxnDate": "2024-05-05", "Adjustment": "true", "TotalAmt": 10,
                          "Line": [{"Id": "0", "Amount": 10, "DetailType": "JournalEntryLineDetail",
                                    "JournalEntryLineDetail": {
                                        "PostingType": "Debit", "AccountRef": {"value": "84"},
                                        "Entity": {"Type": "Customer", "EntityRef": {"value": "7"}},
                                        "ClassRef": {"value": ""}, "DepartmentRef": {"value": "2"}}},
                                   {"Amount": 10.004, "DetailType": "JournalEntryLineDetail",
                                    "JournalEntryLineDetail": {"PostingType": "Credit",
                                                               "AccountRef": {"value": "1"}}},
                                   {"Amount": 3, "DetailType": "DescriptionOnly"}, "not a line"]},
                         {"Id": "9022", "TxnDate": "2024-05-05", "Line": None}],
    }


def _cents(value: Any) -> Any:
    """What a Money column keeps of a reference value (half a cent rounds up, as on both backends)."""
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) if isinstance(value, Decimal) else value


def _expected(entity: str, obj: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    m = map_object(entity, REALM, obj, SEEN)
    children = [tuple(sorted((k, _cents(v)) for k, v in c.items()))
                for c in m.sales_lines + m.payment_links + m.journal_lines]
    return {k: _cents(v) for k, v in m.row.items()}, children


def test_database_mapping_equals_the_reference_on_a_generated_company(db_url: str) -> None:
    generator = pytest.importorskip("qbsync.sandbox.generator")
    # everyday bookkeeping: tax, discounts, refunds, voids, A/R journal entries and the accounts they use
    made = generator.generate_company(generator.CompanySpec.everyday(customers=60, seed=7), REALM)
    objects: dict[str, list[dict[str, Any]]] = {}
    for entity, batch in made.batches():
        if entity in ENTITIES:
            objects.setdefault(entity, []).extend(batch)
    for entity, extra in _odd_objects().items():
        objects.setdefault(entity, []).extend(extra)
    engine = _engine(db_url)
    for entity, batch in objects.items():
        _write(engine, entity, batch)
    lines: dict[tuple[str, str], list[tuple[tuple[str, Any], ...]]] = {
        (r["txn_type"], r["txn_id"]): [] for r in _rows(engine, "sales_lines")}
    for r in _rows(engine, "sales_lines"):
        lines[(r["txn_type"], r["txn_id"])].append(tuple(sorted(r.items())))
    links: dict[str, list[tuple[Any, ...]]] = {}
    for r in _rows(engine, "payment_links"):
        links.setdefault(r["payment_id"], []).append(tuple(sorted(r.items())))
    journal: dict[str, list[tuple[Any, ...]]] = {}
    for r in _rows(engine, "journal_lines"):
        journal.setdefault(r["txn_id"], []).append(tuple(sorted(r.items())))
    problems: list[str] = []
    checked = 0
    for entity, batch in objects.items():
        got = {r["id"]: r for r in _rows(engine, ENTITIES[entity].table)}
        for obj in batch:
            row, children = _expected(entity, obj)
            checked += 1
            for col, value in row.items():
                have = got[str(obj["Id"])][col]
                if col != "raw" and have != value:
                    problems.append(f"{entity} {obj['Id']}.{col}: database {have!r} != reference {value!r}")
            if "voided" in row and is_voided(obj) != got[str(obj["Id"])]["voided"]:
                problems.append(f"{entity} {obj['Id']}: mapping.is_voided disagrees with the database")
            if got[str(obj["Id"])]["raw"] != obj:
                problems.append(f"{entity} {obj['Id']}.raw differs")
            have_children = (links.get(str(obj["Id"]), []) if entity == "Payment"
                             else journal.get(str(obj["Id"]), []) if entity == "JournalEntry"
                             else lines.get((entity, str(obj["Id"])), []))
            if sorted(have_children) != sorted(children):
                problems.append(f"{entity} {obj['Id']}: child rows {have_children} != {children}")
    assert checked > 500
    assert not problems, "\n".join(problems[:20])
    engine.dispose()


def test_deleted_stub_detection() -> None:
    assert is_deleted_stub({"domain": "QBO", "status": "Deleted", "Id": "979"})
    assert not is_deleted_stub(CUSTOMER)
