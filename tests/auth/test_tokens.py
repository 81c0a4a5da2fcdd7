"""Token store and refresh: atomic 0600 files, cross-process locking, rotation persisted before use."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qbsync.auth.oauth import TokenManager, describe
from qbsync.auth.tokens import TokenSet, TokenStore
from qbsync.clock import FixedClock
from qbsync.errors import AuthError, ReauthorizeError

from .fakes import FakeAuthClient, FileTokenServer, at_once, oauth_error, refresh_rounds

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
REALM = "9130349253365616"


def _tokens(n: int = 0, *, expires: datetime = T0 + timedelta(hours=1)) -> TokenSet:
    return TokenSet(realm_id=REALM, access_token=f"a{n}", refresh_token=f"r{n}", access_expires_at=expires,
                    refresh_expires_at=T0 + timedelta(days=100), obtained_at=T0)


def test_saved_file_is_0600_in_a_0700_dir_and_round_trips(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens")
    store.save(_tokens(3))
    path = store.path(REALM)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    loaded = store.load(REALM)
    assert loaded == _tokens(3)
    assert store.realms() == [REALM]
    assert store.default_realm() == REALM


def test_tokens_never_appear_in_repr(tmp_path: Path) -> None:
    t = TokenSet(realm_id=REALM, access_token="SECRET-ACCESS", refresh_token="SECRET-REFRESH",
                 access_expires_at=T0)
    assert "SECRET" not in repr(t) and "SECRET" not in str(t)
    assert "SECRET" not in json.dumps(describe(t, T0))


def test_failed_write_leaves_the_old_file_and_no_temp_files(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    store = TokenStore(tmp_path)
    store.save(_tokens(1))

    def boom(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        store.save(_tokens(2))
    monkeypatch.undo()
    assert store.load(REALM) == _tokens(1)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [f"{REALM}.json"]


def _writer(directory: str, rounds: int) -> None:
    store = TokenStore(Path(directory))
    for i in range(rounds):
        store.save(_tokens(i))


def test_readers_never_see_a_partial_file(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.save(_tokens(0))
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_writer, args=(str(tmp_path), 300))
    proc.start()
    reads = 0
    while proc.is_alive() or reads == 0:
        loaded = store.load(REALM)  # raises AuthError("damaged") on a torn file
        assert loaded is not None and loaded.refresh_token.startswith("r")
        reads += 1
    proc.join()
    assert proc.exitcode == 0


def _manager(tmp_path: Path, server: FileTokenServer, clock: FixedClock,
             hard_expiry: int | None = None) -> tuple[TokenManager, list[FakeAuthClient]]:
    made: list[FakeAuthClient] = []

    def factory() -> FakeAuthClient:
        made.append(FakeAuthClient(server, hard_expiry))
        return made[-1]

    store = TokenStore(tmp_path / "tokens")
    return TokenManager(store, REALM, factory, clock=clock, skew=timedelta(minutes=5)), made


def test_proactive_refresh_inside_the_skew_persists_before_returning(tmp_path: Path) -> None:
    server = FileTokenServer(tmp_path / "server.json")
    clock = FixedClock(T0)
    mgr, made = _manager(tmp_path, server, clock)
    mgr.store.save(_tokens(0))
    assert mgr.access_token() == "a0"
    assert not made  # no AuthClient (no discovery GET) while the token is fresh
    clock.advance(timedelta(minutes=56))  # 4 minutes left < 5 minute skew
    assert mgr.access_token() == "a1"
    on_disk = mgr.store.load(REALM)
    assert on_disk is not None and on_disk.refresh_token == "r1" == server.state()["valid"]
    assert on_disk.access_expires_at == T0 + timedelta(minutes=56, hours=1)


def test_hard_expiry_is_recorded_and_kept(tmp_path: Path) -> None:
    server = FileTokenServer(tmp_path / "server.json")
    clock = FixedClock(T0)
    mgr, _ = _manager(tmp_path, server, clock, hard_expiry=3600 * 24 * 365 * 5)
    mgr.store.save(_tokens(0, expires=T0))
    mgr.access_token()
    t = mgr.store.load(REALM)
    assert t is not None and t.refresh_hard_expires_at == T0 + timedelta(days=365 * 5)


def test_invalid_grant_asks_to_log_in_again_without_leaking_tokens(tmp_path: Path) -> None:
    server = FileTokenServer(tmp_path / "server.json")
    clock = FixedClock(T0)
    mgr, _ = _manager(tmp_path, server, clock)
    mgr.store.save(_tokens(7, expires=T0))  # r7 is not the server's live token
    with pytest.raises(ReauthorizeError) as info:
        mgr.access_token()
    assert "qbsync auth login" in str(info.value)
    assert "r7" not in str(info.value) and "a7" not in str(info.value)


def test_invalid_client_is_an_auth_error_about_credentials(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    server = FileTokenServer(tmp_path / "server.json")
    mgr, _ = _manager(tmp_path, server, FixedClock(T0))
    mgr.store.save(_tokens(0, expires=T0))

    def refuse(self: FakeAuthClient, refresh_token: str | None = None) -> None:
        raise oauth_error(401, "invalid_client")

    monkeypatch.setattr(FakeAuthClient, "refresh", refuse)
    with pytest.raises(AuthError) as info:
        mgr.access_token()
    assert not isinstance(info.value, ReauthorizeError)
    assert "client_secret" in str(info.value)


def test_expired_refresh_token_fails_before_calling_intuit(tmp_path: Path) -> None:
    server = FileTokenServer(tmp_path / "server.json")
    clock = FixedClock(T0 + timedelta(days=101))
    mgr, made = _manager(tmp_path, server, clock)
    mgr.store.save(_tokens(0))
    with pytest.raises(ReauthorizeError):
        mgr.access_token()
    assert not made


def test_a_401_uses_the_token_another_process_already_refreshed(tmp_path: Path) -> None:
    server = FileTokenServer(tmp_path / "server.json")
    clock = FixedClock(T0)
    mine, made = _manager(tmp_path, server, clock)
    theirs, _ = _manager(tmp_path, server, clock)
    mine.store.save(_tokens(0))
    assert mine.access_token() == "a0"
    theirs.refresh()  # the other process rotates: a1/r1 on disk
    assert mine.refresh_after_rejection("a0") == "a1"
    assert not made or made[0].refresh_calls == 0  # reused, did not spend r1
    assert server.state()["n"] == 1


def test_refresh_does_not_log_tokens(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    server = FileTokenServer(tmp_path / "server.json")
    mgr, _ = _manager(tmp_path, server, FixedClock(T0))
    mgr.store.save(_tokens(0, expires=T0))
    with caplog.at_level(logging.DEBUG):
        mgr.access_token()
    assert "a1" not in caplog.text.split() and "r1" not in caplog.text.split()
    assert "r0" not in caplog.text


def _refresh_many(tmp: str, rounds: int, queue: multiprocessing.Queue) -> None:
    tmp_path = Path(tmp)
    server = FileTokenServer(tmp_path / "server.json")
    mgr, _ = _manager(tmp_path, server, FixedClock(T0))
    queue.put(refresh_rounds(mgr, rounds))


def test_two_processes_refreshing_never_double_spend_a_refresh_token(tmp_path: Path) -> None:
    server = FileTokenServer(tmp_path / "server.json")
    TokenStore(tmp_path / "tokens").save(_tokens(0))
    assert at_once(_refresh_many, (str(tmp_path), 40)) == [0, 0, 0]
    final = TokenStore(tmp_path / "tokens").load(REALM)
    assert final is not None and final.refresh_token == server.state()["valid"]
    assert server.state()["n"] >= 40  # every process got fresh tokens; some rounds reused another's


def test_refresh_warns_when_the_hard_expiry_is_near(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    server = FileTokenServer(tmp_path / "server.json")
    mgr, _ = _manager(tmp_path, server, FixedClock(T0), hard_expiry=3600 * 24 * 10)
    mgr.store.save(_tokens(0, expires=T0))
    with caplog.at_level(logging.WARNING):
        mgr.access_token()
    assert "qbsync auth login" in caplog.text and "2026-03-11" in caplog.text


def test_several_companies_without_a_choice_is_bad_input_naming_the_fix(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from qbsync.cli import cli
    from qbsync.errors import InputError

    store = TokenStore(tmp_path / "tokens")
    store.save(_tokens(1))
    store.save(TokenSet(realm_id="4620816365", access_token="b", refresh_token="rb",
                        access_expires_at=T0 + timedelta(hours=1), obtained_at=T0))
    with pytest.raises(InputError) as err:
        store.default_realm()
    assert err.value.exit_code == 2  # not 4: logging in again would not help
    assert "--realm" in str(err.value) and "QBSYNC_REALM" in str(err.value)
    assert store.default_realm("4620816365") == "4620816365"
    # From the command line: one line, exit 2, the hint; never a traceback.
    (tmp_path / "none.toml").write_text("")
    env = {"QBSYNC_CONFIG": str(tmp_path / "none.toml"), "QBSYNC_TOKEN_DIR": str(tmp_path / "tokens"),
           "QBSYNC_CLIENT_ID": "id", "QBSYNC_CLIENT_SECRET": "secret",
           "QBSYNC_CACHE_URL": f"sqlite:///{tmp_path / 'cache.sqlite3'}"}
    out = CliRunner(env=env).invoke(cli, ["sync"])
    assert out.exit_code == 2, out.output
    assert "connected to several companies" in out.output and "QBSYNC_REALM" in out.output
    assert "Traceback" not in out.output
