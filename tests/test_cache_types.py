"""Money and UTC datetimes round-trip exactly on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa

from qbsync.cache.types import Money, UTCDateTime


@pytest.fixture
def table(db_url: str) -> tuple[sa.Engine, sa.Table]:
    engine = sa.create_engine(db_url)
    meta = sa.MetaData()
    t = sa.Table("t", meta, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("amount", Money()), sa.Column("at", UTCDateTime()))
    meta.create_all(engine)
    return engine, t


def test_money_sums_exactly(table: tuple[sa.Engine, sa.Table]) -> None:
    engine, t = table
    with engine.begin() as conn:
        conn.execute(t.insert(), [{"id": i, "amount": Decimal("0.10")} for i in range(1, 1001)])
        conn.execute(t.insert(), {"id": 2000, "amount": "337.5"})
        total = conn.execute(sa.select(sa.func.sum(t.c.amount))).scalar_one()
        back = conn.execute(sa.select(t.c.amount).where(t.c.id == 2000)).scalar_one()
    assert total == Decimal("437.50")
    assert back == Decimal("337.50") and isinstance(back, Decimal)


def test_datetimes_come_back_aware_in_utc(table: tuple[sa.Engine, sa.Table]) -> None:
    engine, t = table
    pacific = timezone(timedelta(hours=-7))
    at = datetime(2015, 7, 1, 10, 14, 15, tzinfo=pacific)
    with engine.begin() as conn:
        conn.execute(t.insert(), {"id": 1, "at": at})
        back = conn.execute(sa.select(t.c.at)).scalar_one()
    assert back == at and back.tzinfo is not None
    assert back.utcoffset() == UTC.utcoffset(None)


def test_naive_datetimes_are_refused(table: tuple[sa.Engine, sa.Table]) -> None:
    engine, t = table
    with pytest.raises(sa.exc.StatementError), engine.begin() as conn:
        conn.execute(t.insert(), {"id": 1, "at": datetime(2020, 1, 1)})
