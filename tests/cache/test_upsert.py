"""Bulk upserts overwrite by (realm, Id), replace child rows, and delete with children (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from qbsync.cache.db import create_schema, make_engine
from qbsync.cache.models import Invoice
from qbsync.cache.upsert import count_rows, delete_objects, delete_unseen, write_json, write_objects
from qbsync.errors import ServerError

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _payment(id_: str, token: str, links: list[tuple[str, int]]) -> dict[str, object]:
    return {"Id": id_, "SyncToken": token, "TxnDate": "2025-01-01", "TotalAmt": sum(a for _, a in links),
            "CustomerRef": {"value": "1"},
            "Line": [{"Amount": a, "LinkedTxn": [{"TxnId": t, "TxnType": "Invoice"}]} for t, a in links]}


def _engine(url: str) -> sa.Engine:
    engine = make_engine(url)
    create_schema(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO realms (realm_id, created_at) VALUES ('r1', :t)"),
                     {"t": T0.replace(tzinfo=None)})
    return engine


def test_upsert_overwrites_and_replaces_links(db_url: str) -> None:
    engine = _engine(db_url)
    with engine.begin() as conn:
        first = _payment("5", "0", [("1", 10), ("2", 5)])
        write_objects(conn, "Payment", "r1", [first], None)
    with engine.begin() as conn:
        second = _payment("5", "1", [("3", 7)])
        write_objects(conn, "Payment", "r1", [second], T0)
    with engine.connect() as conn:
        assert count_rows(conn, "Payment", "r1") == 1
        row = conn.execute(sa.text("SELECT sync_token FROM payments")).one()
        assert row[0] == "1"
        links = conn.execute(sa.text("SELECT txn_id, amount FROM payment_links")).all()
        assert [r[0] for r in links] == ["3"]
    with engine.begin() as conn:
        assert delete_objects(conn, "Payment", "r1", ["5", "404"]) == 1
    with engine.connect() as conn:
        assert count_rows(conn, "Payment", "r1") == 0
        assert conn.execute(sa.text("SELECT COUNT(*) FROM payment_links")).scalar_one() == 0
    engine.dispose()


def test_delete_unseen_removes_only_rows_not_seen_since_pass_start(db_url: str) -> None:
    engine = _engine(db_url)
    inv = {"TxnDate": "2025-01-01", "TotalAmt": 10, "Balance": 10,
           "Line": [{"Amount": 10, "DetailType": "SalesItemLineDetail",
                     "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}]}
    with engine.begin() as conn:
        write_objects(conn, "Invoice", "r1", [dict(inv, Id="1")], T0)
        write_objects(conn, "Invoice", "r1", [dict(inv, Id="2")], None)
        write_objects(conn, "Invoice", "r1", [dict(inv, Id="3", TotalAmt=12.5)],
                      datetime(2025, 2, 1, tzinfo=UTC))
    with engine.begin() as conn:
        assert delete_unseen(conn, "Invoice", "r1", datetime(2025, 1, 15, tzinfo=UTC)) == 2
    with engine.connect() as conn:
        assert [r[0] for r in conn.execute(sa.text("SELECT id FROM invoices"))] == ["3"]
        assert conn.execute(sa.text("SELECT txn_id FROM sales_lines")).scalars().all() == ["3"]
        assert conn.execute(sa.select(Invoice.total_amt)).scalar_one() == Decimal("12.50")
    engine.dispose()


def test_a_page_that_is_not_json_raises_a_retriable_error_and_writes_nothing(db_url: str) -> None:
    engine = _engine(db_url)
    good = b'{"QueryResponse":{"Invoice":[{"Id":"1","TxnDate":"2025-01-01","TotalAmt":1}]},"time":"x"}'
    with pytest.raises(ServerError) as caught, engine.begin() as conn:
        write_json(conn, "Invoice", "r1", good[:40] + good[50:], ("QueryResponse", "Invoice"), T0)
    assert caught.value.retriable and "not valid JSON" in caught.value.message
    with engine.connect() as conn:
        assert count_rows(conn, "Invoice", "r1") == 0
    with engine.begin() as conn:
        assert write_json(conn, "Invoice", "r1", good, ("QueryResponse", "Invoice"), T0).fetched == 1
    engine.dispose()
