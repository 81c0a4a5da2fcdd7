"""Statements in QuickBooks' three kinds, jobs rolled up to the parent they are billed with, batches."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from qbsync.cache.models import Customer
from qbsync.errors import InputError
from qbsync.reports import statement
from tests.builder import CacheBuilder, D

AS_OF = date(2025, 6, 30)


def _company(c: CacheBuilder) -> dict[str, str]:
    c.customer("1", "Parent Co", line1="5 Dock Rd", city="Leeds", postal="LS1 4AP", country="GB")
    c.customer("2", "Roof - Parent Co", parent="1", bill_with_parent=True)  # billed with the parent
    c.customer("3", "Shed - Parent Co", parent="1")  # billed on its own
    c.customer("4", "Quiet", line1="1 High St")
    c.customer("5", "Paid up")
    ids = {
        "old": c.invoice("1", date(2024, 3, 1), "40.00", due=date(2024, 3, 31)),
        "parent": c.invoice("1", date(2025, 5, 1), "100.00", due=date(2025, 5, 31)),
        "job": c.invoice("2", date(2025, 5, 20), "300.00", due=date(2025, 6, 19)),
        "shed": c.invoice("3", date(2025, 6, 1), "50.00", due=date(2025, 7, 1)),
        "paid": c.invoice("5", date(2025, 4, 1), "10.00", due=date(2025, 4, 1)),
    }
    c.pay("2", date(2025, 6, 10), (ids["job"], "120.00"))
    c.credit_memo("1", date(2025, 6, 15), "15.00")
    c.receipt("1", date(2025, 6, 16), "999.00")  # a sales receipt: never on a statement
    c.pay("5", date(2025, 4, 2), (ids["paid"], "10.00"))
    c.pay("4", date(2025, 2, 1), unapplied="7.50")  # in credit
    return ids


def _balance(c: CacheBuilder, *ids: str) -> Decimal:
    with c.engine.connect() as conn:
        return sum((conn.execute(sa.select(Customer.balance).where(Customer.id == i)).scalar_one()
                    for i in ids), D(0))


def test_balance_forward_rolls_up_jobs_billed_with_the_parent(db_url: str) -> None:
    c = CacheBuilder(db_url)
    _company(c)
    st = statement.statement(c.engine, c.realm_id, "Parent Co", AS_OF, start=date(2025, 5, 1))
    assert st.members == ("1", "2")
    assert st.opening == D("40.00")
    assert [(x.kind, x.customer, x.amount, x.balance) for x in st.lines] == [
        ("Invoice", "Parent Co", D("100.00"), D("140.00")),
        ("Invoice", "Roof - Parent Co", D("300.00"), D("440.00")),
        ("Payment", "Roof - Parent Co", D("-120.00"), D("320.00")),
        ("Credit Memo", "Parent Co", D("-15.00"), D("305.00"))]
    assert st.amount_due == D("305.00") == _balance(c, "1", "2")
    assert st.aging == {"current": D(0), "1-30": D("265.00"), "31-60": D(0), "61-90": D(0),
                        "over 90": D("40.00")}
    # asking for the job gives its parent's statement; the job billed alone has its own
    assert statement.statement(c.engine, c.realm_id, "2", AS_OF).customer_id == "1"
    shed = statement.statement(c.engine, c.realm_id, "3", AS_OF)
    assert shed.members == ("3",) and shed.amount_due == D("50.00")


def test_open_item_lists_what_is_open_in_the_last_365_days(db_url: str) -> None:
    c = CacheBuilder(db_url)
    ids = _company(c)
    st = statement.statement(c.engine, c.realm_id, "1", AS_OF, kind="open-item")
    assert [(x.txn_id, x.amount, x.open) for x in st.lines] == [
        (ids["parent"], D("100.00"), D("100.00")), (ids["job"], D("300.00"), D("180.00")),
        (st.lines[2].txn_id, D("-15.00"), D("-15.00"))]
    assert st.omitted == D("40.00")  # the 2024 invoice is older than the window
    assert st.amount_due == D("265.00") and st.balance == D("305.00")
    table = statement.table(st)
    assert any("older than the window" in n for n in table.notes)
    wide = statement.statement(c.engine, c.realm_id, "1", AS_OF, kind="open-item", open_item_days=800)
    assert wide.amount_due == wide.balance == D("305.00")


def test_transaction_statement_has_amount_and_received_but_no_balance(db_url: str) -> None:
    c = CacheBuilder(db_url)
    _company(c)
    st = statement.statement(c.engine, c.realm_id, "1", AS_OF, start=date(2025, 5, 1), kind="transaction")
    table = statement.table(st)
    assert [col.key for col in table.columns] == ["txn_date", "kind", "number", "txn_id", "customer",
                                                  "charge", "received"]
    assert table.totals == {"kind": "Total", "charge": D("400.00"), "received": D("135.00")}
    assert all(r.get("balance") is None for r in table.rows)


def test_batch_is_every_customer_with_an_open_or_overdue_balance(db_url: str) -> None:
    c = CacheBuilder(db_url)
    _company(c)
    open_ = statement.statements(c.engine, c.realm_id, AS_OF, start=date(2025, 6, 1))
    assert [(s.customer_id, s.amount_due) for s in open_] == [("1", D("305.00")), ("4", D("-7.50")),
                                                              ("3", D("50.00"))]
    assert open_[1].address.lines == ("Quiet", "1 High St")
    overdue = statement.statements(c.engine, c.realm_id, AS_OF, start=date(2025, 6, 1), status="overdue")
    assert [s.customer_id for s in overdue] == ["1"]  # the shed's invoice is not due yet; "4" owes nothing
    everyone = statement.statements(c.engine, c.realm_id, AS_OF, start=date(2025, 4, 1), status="all")
    assert [s.customer_id for s in everyone] == ["5", "1", "4", "3"]  # "5" had activity in the period
    table = statement.batch_table(open_, "balance-forward", AS_OF)
    assert table.totals is not None and table.totals["balance"] == D("347.50")
    assert {r["statement_customer_id"] for r in table.rows} == {"1", "3", "4"}
    with pytest.raises(InputError):
        statement.statements(c.engine, c.realm_id, AS_OF, kind="open-item", status="all")
    with pytest.raises(InputError):
        statement.statement(c.engine, c.realm_id, "1", AS_OF, kind="monthly")
