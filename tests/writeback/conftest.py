"""Fixtures for write-back tests: a cache on SQLite and PostgreSQL, a fake QuickBooks mirrored into it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from qbsync.cache.db import create_schema, make_engine, session_factory
from qbsync.cache.models import ENTITY_MODELS, Customer, Realm
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


def _when(row: dict[str, Any], key: str) -> datetime | None:
    value = (row.get("MetaData") or {}).get(key)
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


def mirror_rows(
    session: Session, customers: Iterable[dict[str, Any]], txns: Mapping[str, Iterable[dict[str, Any]]]
) -> None:
    """Write QBO-shaped rows into the cache (a stand-in for `qbsync sync` in these tests)."""
    if session.get(Realm, REALM) is None:
        session.add(Realm(realm_id=REALM, company_name="Fake", created_at=datetime(2026, 1, 1, tzinfo=UTC)))
        session.flush()
    for row in customers:
        session.merge(
            Customer(
                realm_id=REALM,
                id=row["Id"],
                sync_token=row["SyncToken"],
                raw=dict(row),
                display_name=row["DisplayName"],
                active=row["Active"],
                job=row.get("Job", False),
                parent_id=(row.get("ParentRef") or {}).get("value"),
                level=row.get("Level", 0),
                created_at=_when(row, "CreateTime"),
                updated_at=_when(row, "LastUpdatedTime"),
                balance=Decimal(str(row.get("Balance", 0))),
                balance_with_jobs=Decimal(str(row.get("BalanceWithJobs", 0))),
            )
        )
    for entity, rows in txns.items():
        model: Any = ENTITY_MODELS[entity]
        for t in rows:
            fields: dict[str, Any] = dict(
                realm_id=REALM,
                id=t["Id"],
                sync_token=t["SyncToken"],
                raw=dict(t),
                customer_id=t["CustomerRef"]["value"],
                txn_date=date.fromisoformat(t["TxnDate"]),
                total_amt=Decimal(str(t.get("TotalAmt", 0))),
            )
            if entity in ("Invoice", "CreditMemo"):
                fields["balance"] = Decimal(str(t.get("Balance", 0)))
            session.merge(model(**fields))
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
