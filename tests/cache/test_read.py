"""Reading many rows: the garbage collector stays out of a whole-cache read and comes back after it;
SQLite maps the cache file."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from qbsync.cache.db import make_engine
from qbsync.cache.read import bulk
from qbsync.rules import activity
from tests.builder import CacheBuilder


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    was_on = gc.isenabled()
    gc.enable()
    yield
    if not was_on:
        gc.disable()


def test_bulk_turns_collection_off_and_back_on() -> None:
    with bulk():
        assert not gc.isenabled()
        with bulk():  # nested: the inner one leaves it off
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


class _Node:
    """A tracked object that can sit in a cycle and be watched through a weak reference."""

    def __init__(self) -> None:
        self.other: object = None


def test_cycle_garbage_is_still_freed_by_itself_after_report_after_report() -> None:
    """A process running reads one after another (a worker, a notebook) keeps freeing the cycles
    they leave behind without anyone calling ``gc.collect()``: the collector's own young collections
    find them. (Handing what ``bulk`` built to the oldest generation on exit hid them from those
    until a full collection that never came.)"""
    import weakref

    gc.collect()
    watched = []
    for _ in range(300):
        with bulk():
            a, b = _Node(), _Node()
            a.other, b.other = b, a  # a cycle, dropped
            watched.append(weakref.ref(a))
            del a, b
        junk = [_Node() for _ in range(800)]  # ordinary work between reads
        del junk
    alive = sum(ref() is not None for ref in watched)
    assert alive < 30, f"{alive} of 300 cycles still alive"


def test_bulk_restores_collection_when_the_read_fails() -> None:
    with pytest.raises(ZeroDivisionError), bulk():
        1 / 0  # noqa: B018
    assert gc.isenabled()


def test_bulk_leaves_collection_off_when_it_was_off() -> None:
    gc.disable()
    with bulk():
        pass
    assert not gc.isenabled()


def test_the_rules_read_the_cache_without_collection(monkeypatch: pytest.MonkeyPatch) -> None:
    b = CacheBuilder("sqlite://")
    b.customer("1", "Acme Ltd")
    seen: list[bool] = []
    real = activity._table_aggregates

    def spy(*args: object, **kw: object) -> object:
        seen.append(gc.isenabled())
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(activity, "_table_aggregates", spy)
    assert activity.load_activity(b.engine, b.realm_id, date(2025, 6, 30))["1"].txn_count == 0
    assert seen and not any(seen)
    assert gc.isenabled()


def test_a_sqlite_cache_is_read_through_a_memory_map(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'cache.sqlite3'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA mmap_size").scalar_one() >= 1 << 30
    engine.dispose()


@pytest.mark.parametrize("cents", [0, 1, -5, 99, 100, 12345, -12345, 10**15 + 7])
def test_amounts_read_raw_are_the_money_columns_values_to_the_digit(cents: int) -> None:
    """An amount read raw (integer cents on SQLite) comes out as the Money column gives it: the same
    two-place Decimal, digits and exponent (a report printing ``1.5`` for ``1.50`` would show it)."""
    from decimal import Decimal

    from sqlalchemy.dialects import sqlite

    from qbsync.cache.read import Raw
    from qbsync.cache.types import Money

    expected = Decimal(cents) / 100
    column = Money().process_result_value(cents, sqlite.dialect())
    read = Raw("sqlite").money(cents)
    assert column is not None
    for value in (column, read, Raw("sqlite").total(cents)):
        assert value == expected and str(value) == f"{expected:.2f}"
        assert value.as_tuple().exponent == -2
