"""The entity registry: each mirrored entity declared once, and a declaration is all a new one needs.

The last test declares a JournalEntry-like entity (lines with a customer, no group lines) outside
the real schema and writes QBO JSON through the ordinary page writer: no mapping or SQL is written
for it anywhere, so an entity added to ``models.py`` gets its rows and child rows the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from qbsync.cache import jsonsql
from qbsync.cache.db import make_engine
from qbsync.cache.mapping import Child, Field, qbo_column
from qbsync.cache.models import ENTITIES, Base, Entity, entity
from qbsync.cache.types import Money, UTCDateTime
from qbsync.cache.upsert import count_rows, delete_objects, write_objects
from qbsync.sync.runner import select_entities

_BOOKKEEPING = {"realm_id", "id", "raw", "seen_at"}


def test_every_mirrored_table_is_declared_once_and_every_column_is_mapped() -> None:
    tables = [e.table for e in ENTITIES.values()]
    assert len(set(tables)) == len(tables) == len(ENTITIES)
    for e in ENTITIES.values():
        columns = set(Base.metadata.tables[e.table].columns.keys())
        assert {f.column for f in e.fields} == columns - _BOOKKEEPING, e.name
        for child in e.children:
            child_columns = set(Base.metadata.tables[child.table].columns.keys())
            declared = {f.column for f in (*child.fields, *child.line_fields)}
            keys = {"realm_id", child.parent, "line_no"} | ({"txn_type"} if child.typed else set())
            assert declared | keys == child_columns, (e.name, child.table)


def test_the_sync_order_is_the_declaration_order_name_lists_first() -> None:
    order = select_entities(None)
    assert order == list(ENTITIES)
    kinds = [ENTITIES[name].name_list for name in order]
    assert kinds == sorted(kinds, reverse=True), "a name list is declared after a transaction"
    assert select_entities(["invoice", "CUSTOMER"]) == ["Customer", "Invoice"]


def test_an_unknown_entity_names_what_is_mirrored() -> None:
    with pytest.raises(ValueError, match=r"does not mirror Bill \(it mirrors .*Customer"):
        entity("Bill")


class _Scratch(DeclarativeBase):
    """Tables of the declaration under test, apart from the cache's own metadata."""


class _JournalLine(_Scratch):
    __tablename__ = "scratch_journal_lines"

    realm_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    txn_type: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    txn_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    line_no: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    posting_type: Mapped[str | None] = mapped_column(sa.String(8))
    customer_id: Mapped[str | None] = mapped_column(sa.String(32))
    amount: Mapped[Decimal] = mapped_column(Money())


class _JournalEntry(_Scratch):
    __tablename__ = "scratch_journal_entries"

    realm_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    raw: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sync_token: Mapped[str] = qbo_column("text", "SyncToken", type_=sa.String(16), default="0")
    txn_date: Mapped[date] = qbo_column("txn_date", "TxnDate", "MetaData.CreateTime")
    doc_number: Mapped[str | None] = qbo_column("text", "DocNumber", type_=sa.String(64))
    total_amt: Mapped[Decimal] = qbo_column("money0", "TotalAmt")


_JOURNAL_LINES = Child(
    "scratch_journal_lines", "lines", (
        Field("posting_type", "text", (("JournalEntryLineDetail", "PostingType"),)),
        Field("customer_id", "ref", (("JournalEntryLineDetail", "Entity", "EntityRef", "value"),)),
        Field("amount", "money0", (("Amount",),)),
    ), detail="JournalEntryLineDetail")

_ENTRY = {
    "Id": "31", "SyncToken": "2", "TxnDate": "2025-03-04", "DocNumber": "JE-7", "TotalAmt": 150,
    "Line": [
        {"Id": "0", "Amount": 150, "DetailType": "JournalEntryLineDetail", "JournalEntryLineDetail": {
            "PostingType": "Debit", "AccountRef": {"value": "84"},
            "Entity": {"Type": "Customer", "EntityRef": {"value": "58"}}}},
        {"Id": "1", "Amount": 150.004, "DetailType": "JournalEntryLineDetail", "JournalEntryLineDetail": {
            "PostingType": "Credit", "AccountRef": {"value": "1"}}},
        {"Amount": 150, "DetailType": "DescriptionOnly"},
    ],
}


@pytest.fixture
def journal(monkeypatch: pytest.MonkeyPatch, db_url: str) -> Iterator[sa.Engine]:
    monkeypatch.setitem(ENTITIES, "JournalEntry", Entity("JournalEntry", _JournalEntry, "transaction",
                                                         (_JOURNAL_LINES,)))
    jsonsql.page_sql.cache_clear()
    engine = make_engine(db_url)
    _Scratch.metadata.create_all(engine)
    yield engine
    jsonsql.page_sql.cache_clear()
    engine.dispose()


def test_a_new_entity_needs_only_its_declaration(journal: sa.Engine) -> None:
    seen = datetime(2025, 3, 5, 9, 30, tzinfo=UTC)
    with journal.begin() as conn:
        first = write_objects(conn, "JournalEntry", "r1", [_ENTRY], seen)
        again = write_objects(conn, "JournalEntry", "r1", [dict(_ENTRY, SyncToken="3")], seen)
    assert (first.fetched, first.changed, again.cached, again.changed) == (1, 1, 1, 1)
    with journal.connect() as conn:
        row = conn.execute(sa.select(_JournalEntry)).one()
        lines = conn.execute(sa.select(_JournalLine).order_by(_JournalLine.line_no)).all()
        assert count_rows(conn, "JournalEntry", "r1") == 1
    assert (row.sync_token, row.txn_date, row.doc_number, row.total_amt) == (
        "3", date(2025, 3, 4), "JE-7", Decimal("150.00"))
    assert [(x.txn_type, x.txn_id, x.line_no, x.posting_type, x.customer_id, x.amount) for x in lines] == [
        ("JournalEntry", "31", 1, "Debit", "58", Decimal("150.00")),
        ("JournalEntry", "31", 2, "Credit", None, Decimal("150.00")),
    ]  # written once although the entry was written twice: its lines are replaced, not added
    with journal.begin() as conn:
        assert delete_objects(conn, "JournalEntry", "r1", ["31"]) == 1
    with journal.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(_JournalLine)).scalar_one() == 0
