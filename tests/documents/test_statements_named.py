"""Statements for named customers: read from the cache once for all of them, and the same statements
as the batch makes (jobs billed with their parent rolled up, each customer billed once, in order)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import pytest
import sqlalchemy as sa

from qbsync.documents.company import company
from qbsync.documents.compose import Composer
from qbsync.documents.statements import statements
from qbsync.reports import statement
from tests.builder import CacheBuilder

pytest.importorskip("babel")
AS_OF = date(2025, 6, 30)


def _company(url: str, extra: int) -> CacheBuilder:
    c = CacheBuilder(url)
    c.customer("1", "Parent Co", line1="5 Dock Rd", city="Leeds")
    c.customer("2", "Roof - Parent Co", parent="1", bill_with_parent=True)
    c.customer("3", "Shed - Parent Co", parent="1")  # billed on its own
    c.customer("4", "Quiet", line1="1 High St")
    inv = c.invoice("1", date(2025, 5, 1), "100.00", due=date(2025, 5, 31))
    c.invoice("2", date(2025, 5, 20), "300.00", due=date(2025, 6, 19))
    c.invoice("3", date(2025, 6, 1), "50.00", due=date(2025, 7, 1))
    c.pay("1", date(2025, 6, 10), (inv, "60.00"))
    c.pay("4", date(2025, 2, 1), unapplied="7.50")
    for i in range(10, 10 + extra):
        c.customer(str(i), f"Shop {i}")
        c.invoice(str(i), date(2025, 4, 1), f"{i}.00", due=date(2025, 5, 1))
    return c


@contextmanager
def counting(engine: sa.Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: object, cursor: object, sql: str, *args: object) -> None:
        if sql.lstrip().upper().startswith("SELECT"):
            seen.append(sql)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def test_named_statements_read_the_cache_once_for_all_of_them(db_url: str) -> None:
    c = _company(db_url, 40)
    composer = Composer(company(c.engine, c.realm_id))
    with counting(c.engine) as few:
        statements(c.engine, c.realm_id, ["2", "4"], AS_OF, None, composer)
    with counting(c.engine) as many:
        made = statements(c.engine, c.realm_id, ["2", "4", *(str(i) for i in range(10, 50))], AS_OF, None,
                          composer)
    assert len(made) == 42
    # per customer it was 8+ queries each; now the same handful whatever the number named
    assert len(many) == len(few), (len(few), len(many))


@pytest.mark.parametrize("kind", statement.KINDS)
def test_named_statements_are_the_batchs_own(db_url: str, kind: str) -> None:
    c = _company(db_url, 3)
    start = date(2025, 5, 15) if kind != "open-item" else None
    named = statement.named(c.engine, c.realm_id, ["Quiet", "2", "3", "1", "11"], AS_OF, start, kind)
    # the job billed with its parent gives the parent's statement, once; the order is the order named
    assert [st.customer_id for st in named] == ["4", "1", "3", "11"]
    assert named[1].members == ("1", "2")
    status = "open" if kind == "open-item" else "all"
    batch = {st.customer_id: st
             for st in statement.statements(c.engine, c.realm_id, AS_OF, start, kind, status)}
    for st in named:
        assert st == batch[st.customer_id], st.customer_id
    one = statement.statement(c.engine, c.realm_id, "Roof - Parent Co", AS_OF, start, kind)
    assert one == batch["1"]


def test_an_unknown_or_ambiguous_name_among_many_says_which(db_url: str) -> None:
    from qbsync.errors import InputError

    c = _company(db_url, 2)
    c.customer("90", "Twin")
    c.customer("91", "Twin")
    with pytest.raises(InputError, match="no customer with Id or name 'Nobody'"):
        statement.named(c.engine, c.realm_id, ["1", "Nobody"], AS_OF)
    with pytest.raises(InputError, match="'Twin' matches 2 customers"):
        statement.named(c.engine, c.realm_id, ["1", "Twin"], AS_OF)
