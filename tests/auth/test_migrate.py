"""`qbsync auth migrate`: a single machine's token files move into the fleet's encrypted cache store (and
back), leaving one copy of each company's tokens, idempotently, and never while either side refreshes."""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import filelock
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

pytest.importorskip("cryptography")

from cryptography.fernet import Fernet

from qbsync.auth.oauth import TokenManager
from qbsync.auth.pgstore import PgTokenStore
from qbsync.auth.stores import move_tokens
from qbsync.auth.tokens import TokenSet, TokenStore
from qbsync.cache.schema import open_cache
from qbsync.cli import cli
from qbsync.clock import FixedClock
from qbsync.errors import AuthError, ReauthorizeError
from tests.conftest import PG_AVAILABLE, pg_schema_url

from .fakes import FakeAuthClient, FileTokenServer

pytestmark = pytest.mark.skipif(not PG_AVAILABLE, reason="the cache token store needs PostgreSQL")

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KEY = Fernet.generate_key().decode()
A, B = "9130349253365001", "9130349253365002"


def _tokens(realm: str, n: int = 0, *, at: datetime = T0) -> TokenSet:
    return TokenSet(realm_id=realm, access_token=f"access-{realm}-{n}", refresh_token=f"r{n}",
                    access_expires_at=at + timedelta(hours=1), refresh_expires_at=at + timedelta(days=100),
                    obtained_at=at, company_name=f"Company {realm[-1]}")


@pytest.fixture
def url() -> Iterator[str]:
    with pg_schema_url() as u:
        open_cache(u).dispose()
        yield u


@pytest.fixture
def stores(url: str, tmp_path: Path) -> Iterator[tuple[TokenStore, PgTokenStore]]:
    engine = sa.create_engine(url)
    yield TokenStore(tmp_path / "tokens"), PgTokenStore(engine, KEY)
    engine.dispose()


def test_files_move_into_the_cache_store_and_a_second_run_finds_nothing(
        stores: tuple[TokenStore, PgTokenStore]) -> None:
    files, cache = stores
    for realm in (A, B):
        files.save(_tokens(realm))
    moved = move_tokens(files, cache)
    assert [(m.realm_id, m.action) for m in moved] == [(A, "moved"), (B, "moved")]
    assert cache.load(A) == _tokens(A) and cache.load(B) == _tokens(B)
    assert files.realms() == [] and not (files.directory / f"{A}.json").exists()  # one copy left
    assert move_tokens(files, cache) == []
    back = move_tokens(cache, files, [B])  # and back to one machine's files
    assert [(m.realm_id, m.action) for m in back] == [(B, "moved")]
    assert files.load(B) == _tokens(B) and cache.realms() == [A]


def test_an_interrupted_move_is_finished_by_running_it_again(stores: tuple[TokenStore, PgTokenStore]) -> None:
    files, cache = stores
    files.save(_tokens(A))
    cache.save(_tokens(A))  # stopped after writing the cache store, before deleting the file
    files.save(_tokens(B, 1, at=T0))
    cache.save(_tokens(B, 2, at=T0 + timedelta(hours=1)))  # ... and the fleet refreshed it since
    moved = {m.realm_id: m.action for m in move_tokens(files, cache)}
    assert moved == {A: "already", B: "kept-newer"}
    assert cache.load(B) == _tokens(B, 2, at=T0 + timedelta(hours=1)) and files.realms() == []


def test_a_dry_run_changes_nothing(stores: tuple[TokenStore, PgTokenStore]) -> None:
    files, cache = stores
    files.save(_tokens(A))
    assert [m.action for m in move_tokens(files, cache, dry_run=True)] == ["would-move"]
    assert files.realms() == [A] and cache.realms() == []


def _machine(url: str, key: str, tmp: str, store_kind: str, rounds: int,
             queue: multiprocessing.Queue) -> None:
    """A machine refreshing company A as fast as it can through one store: the file machine until its
    store no longer holds A (moved away), the fleet machine ``rounds`` times once A has arrived."""
    server = FileTokenServer(Path(tmp) / "server.json")
    engine = sa.create_engine(url)
    store = TokenStore(Path(tmp) / "tokens") if store_kind == "file" else PgTokenStore(engine, key)
    mgr = TokenManager(store, A, lambda: FakeAuthClient(server), clock=FixedClock(T0))
    done = spent_twice = 0
    while done < rounds:
        try:
            mgr.refresh_after_rejection(mgr.current().access_token)
            done += 1
            if store_kind == "file":
                time.sleep(0.005)  # out of the lock a moment: flock is not fair to a waiting mover
        except ReauthorizeError:  # invalid_grant: a refresh token another copy had already spent
            spent_twice += 1
            break
        except AuthError:  # not (or no longer) in this store
            if store_kind == "file":
                break
            time.sleep(0.005)  # the fleet machine waits for A to arrive
    engine.dispose()
    queue.put((store_kind, done, spent_twice))


def _rotations(server: FileTokenServer) -> int:
    with filelock.FileLock(f"{server.path}.lock"):  # read between two rotations, never during one
        return int(server.state()["n"])


def test_no_refresh_token_is_spent_twice_while_machines_refresh_during_the_move(url: str,
                                                                              tmp_path: Path) -> None:
    server = FileTokenServer(tmp_path / "server.json")  # only the newest refresh token works
    files = TokenStore(tmp_path / "tokens")
    files.save(TokenSet(realm_id=A, access_token="a0", refresh_token="r0", access_expires_at=T0))
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_machine, args=(url, KEY, str(tmp_path), kind, rounds, queue))
             for kind, rounds in (("file", 10**6), ("cache", 20))]
    for p in procs:
        p.start()
    engine = sa.create_engine(url)
    try:
        while _rotations(server) < 5:  # the file machine is refreshing
            assert all(p.is_alive() for p in procs)
            time.sleep(0.01)
        assert [m.action for m in move_tokens(files, PgTokenStore(engine, KEY))] == ["moved"]
        results = {kind: (done, spent) for kind, done, spent in (queue.get(timeout=120) for _ in procs)}
    finally:
        for p in procs:
            p.join(5)
            if p.is_alive():
                p.terminate()
    assert results["file"][1] == 0 and results["cache"] == (20, 0)
    final = PgTokenStore(engine, KEY).load(A)
    assert final is not None and final.refresh_token == server.state()["valid"]  # the machines have ended
    assert files.realms() == []
    engine.dispose()


def test_the_command(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("QBSYNC_TOKEN_STORE", "QBSYNC_REALM", "QBSYNC_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QBSYNC_CACHE_URL", url)
    monkeypatch.setenv("QBSYNC_TOKEN_KEY", KEY)
    monkeypatch.setenv("QBSYNC_TOKEN_DIR", str(tmp_path / "tokens"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    files = TokenStore(tmp_path / "tokens")
    for realm in (A, B):
        files.save(_tokens(realm))
    runner = CliRunner()
    dry = runner.invoke(cli, ["auth", "migrate", "--to", "cache", "--dry-run"])
    assert dry.exit_code == 0 and dry.stdout.count("would move to the cache store") == 2
    one = runner.invoke(cli, ["auth", "--realm", A, "migrate", "--to", "cache"])
    assert one.exit_code == 0, one.output
    assert one.stdout.strip() == f"realm {A} (Company 1): moved to the cache store"
    assert "now set token_store = cache (QBSYNC_TOKEN_STORE=cache)" in one.stderr
    rest = runner.invoke(cli, ["auth", "migrate", "--to", "cache", "--json"])
    assert json.loads(rest.stdout)["companies"] == [{"realm_id": B, "company_name": "Company 2",
                                                     "action": "moved"}]
    again = runner.invoke(cli, ["auth", "migrate", "--to", "cache"])
    assert again.exit_code == 0 and again.stdout.startswith("nothing to move: the file store")
    monkeypatch.setenv("QBSYNC_TOKEN_STORE", "cache")
    status = runner.invoke(cli, ["auth", "status", "--json"])
    assert [r["realm_id"] for r in json.loads(status.stdout)] == [A, B]
    monkeypatch.delenv("QBSYNC_TOKEN_KEY")
    refused = runner.invoke(cli, ["auth", "migrate", "--to", "file"])
    assert refused.exit_code == 2 and "token_key" in refused.stderr
