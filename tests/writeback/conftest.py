"""Fixtures for write-back tests: a cache on SQLite and PostgreSQL, a fake QuickBooks mirrored into it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from qbsync.cache.db import create_schema, make_engine, session_factory
from qbsync.cache.models import Customer, Realm
from qbsync.cache.upsert import write_objects
from qbsync.clock import FixedClock
from qbsync.rules.findings import Finding
from tests.writeback.fakes import FakeQbo

REALM = "9130"


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = make_engine(db_url)
    create_schema(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: sa.Engine) -> Iterator[Session]:
    with session_factory(engine)() as s:
        yield s


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))


@pytest.fixture
def qbo() -> FakeQbo:
    return FakeQbo(REALM)


def mirror(session: Session, qbo: FakeQbo) -> None:
    """Copy the fake company into the cache, as a sync would."""
    mirror_rows(session, qbo.customers.values(), qbo.txns)


def mirror_rows(
    session: Session, customers: Iterable[dict[str, Any]], txns: Mapping[str, Iterable[dict[str, Any]]]
) -> None:
    """Write QBO-shaped rows into the cache through the sync's own mapping (``write_objects``)."""
    if session.get(Realm, REALM) is None:
        session.add(Realm(realm_id=REALM, company_name="Fake", created_at=datetime(2026, 1, 1, tzinfo=UTC)))
        session.commit()
    conn = session.connection()
    write_objects(conn, "Customer", REALM, list(customers), None)
    for entity, rows in txns.items():
        write_objects(conn, entity, REALM, list(rows), None)
    session.commit()


def finding(
    qbo: FakeQbo, cid: str, action: str = "deactivate", rule: str = "inactive", **facts: Any
) -> Finding:
    row = qbo.customers[cid]
    return Finding(
        realm_id=REALM,
        customer_id=cid,
        display_name=row["DisplayName"],
        rule=rule,
        action=action,  # type: ignore[arg-type]
        reason=f"test reason for {cid}",
        facts=facts,
        sync_token=row["SyncToken"],
        active=row["Active"],
    )


def cached(session: Session, cid: str) -> Customer:
    session.expire_all()
    row = session.get(Customer, (REALM, cid))
    assert row is not None
    return row
