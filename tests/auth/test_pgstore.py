"""The fleet's token store in the PostgreSQL cache: encrypted at rest, one refresh at a time across
machines (row locks), the file store's behaviour otherwise."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

pytest.importorskip("cryptography")

from cryptography.fernet import Fernet

from qbsync.auth.oauth import TokenManager
from qbsync.auth.pgstore import PgTokenStore
from qbsync.auth.stores import open_token_store
from qbsync.auth.tokens import TokenSet
from qbsync.cache.schema import open_cache
from qbsync.clock import FixedClock
from qbsync.errors import ConfigError
from qbsync.settings import load_settings
from tests.conftest import PG_AVAILABLE, pg_schema_url

from .fakes import FakeAuthClient, FileTokenServer, at_once, refresh_rounds

pytestmark = pytest.mark.skipif(not PG_AVAILABLE, reason="the cache token store needs PostgreSQL")

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
REALM = "9130349253365616"
KEY = Fernet.generate_key().decode()


def _tokens(n: int = 0) -> TokenSet:
    return TokenSet(realm_id=REALM, access_token=f"access-secret-{n}", refresh_token=f"r{n}",
                    access_expires_at=T0 + timedelta(hours=1), refresh_expires_at=T0 + timedelta(days=100),
                    obtained_at=T0, company_name="Acme")


@pytest.fixture
def url() -> Iterator[str]:
    with pg_schema_url() as u:
        open_cache(u).dispose()
        yield u


def test_tokens_round_trip_and_are_encrypted_at_rest(url: str) -> None:
    engine = sa.create_engine(url)
    store = PgTokenStore(engine, KEY)
    store.save(_tokens(0))
    assert store.load(REALM) == _tokens(0) and store.realms() == [REALM]
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT ciphertext FROM fleet_tokens")).scalar_one()
    assert "access-secret-0" not in stored and "Acme" not in stored
    assert "access-secret" not in repr(store)
    other_key = PgTokenStore(engine, Fernet.generate_key().decode())
    with pytest.raises(ConfigError, match="cannot decrypt"):
        other_key.load(REALM)
    rotated = PgTokenStore(engine, f"{Fernet.generate_key().decode()},{KEY}")  # the old key still reads
    assert rotated.load(REALM) == _tokens(0)
    assert store.delete(REALM) and store.load(REALM) is None and store.realms() == []
    engine.dispose()


def test_settings_choose_the_store_and_refuse_what_cannot_work(url: str, tmp_path: Path) -> None:
    settings = load_settings(overrides={"cache_url": url, "token_store": "cache", "token_key": KEY}, env={})
    assert isinstance(open_token_store(settings), PgTokenStore)
    with pytest.raises(ConfigError, match="token_key"):
        open_token_store(load_settings(overrides={"cache_url": url, "token_store": "cache"}, env={}))
    with pytest.raises(ConfigError, match="token_key"):
        open_token_store(load_settings(overrides={"cache_url": url, "token_store": "cache",
                                                  "token_key": "not-a-key"}, env={}))
    sqlite = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    with pytest.raises(ConfigError, match="PostgreSQL"):
        open_token_store(load_settings(overrides={"cache_url": sqlite, "token_store": "cache",
                                                  "token_key": KEY}, env={}))
    default = open_token_store(load_settings(overrides={"cache_url": sqlite}, env={}))
    assert type(default).__name__ == "TokenStore"


def _refresh_many(url: str, key: str, tmp: str, rounds: int, queue: multiprocessing.Queue) -> None:
    """One 'machine': its own engine and token manager, refreshing as if QuickBooks kept answering 401."""
    server = FileTokenServer(Path(tmp) / "server.json")
    engine = sa.create_engine(url)
    mgr = TokenManager(PgTokenStore(engine, key), REALM, lambda: FakeAuthClient(server), clock=FixedClock(T0))
    errors = refresh_rounds(mgr, rounds)
    engine.dispose()
    queue.put(errors)


def test_machines_refreshing_at_once_never_spend_one_refresh_token_twice(url: str, tmp_path: Path) -> None:
    server = FileTokenServer(tmp_path / "server.json")  # only the newest refresh token works
    engine = sa.create_engine(url)
    PgTokenStore(engine, KEY).save(TokenSet(realm_id=REALM, access_token="a0", refresh_token="r0",
                                            access_expires_at=T0 + timedelta(hours=1)))
    assert at_once(_refresh_many, (url, KEY, str(tmp_path), 15)) == [0, 0, 0]
    final = PgTokenStore(engine, KEY).load(REALM)
    assert final is not None and final.refresh_token == server.state()["valid"]
    assert server.state()["n"] >= 15
    engine.dispose()
