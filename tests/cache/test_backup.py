"""Online SQLite backup and restore; newer-schema backups refused; PostgreSQL gets pg_dump guidance."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from qbsync.cache.backup import backup, restore
from qbsync.cache.schema import open_cache
from qbsync.errors import CacheError, QbsyncError, SchemaTooNewError

INSERT = sa.text("INSERT INTO realms (realm_id, company_name, created_at) VALUES (:r, :n, '2025-01-01')")


def _names(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT company_name FROM realms ORDER BY realm_id")).scalars())


def test_backup_then_restore_returns_to_the_backed_up_state(sqlite_url: str, tmp_path: Path) -> None:
    engine = open_cache(sqlite_url)
    with engine.begin() as conn:
        conn.execute(INSERT, {"r": "1", "n": "Before"})
    reader = engine.connect()  # an open reader does not stop an online backup
    reader.execute(sa.text("SELECT 1 FROM realms")).all()
    info = backup(engine, tmp_path / "b" / "cache.bak")
    reader.close()
    assert info.bytes > 0 and info.revision
    with engine.begin() as conn:
        conn.execute(INSERT, {"r": "2", "n": "After"})
    assert _names(engine) == ["Before", "After"]
    restore(engine, info.path)
    assert _names(engine) == ["Before"]
    engine.dispose()


def test_restore_refuses_a_backup_from_a_newer_schema(sqlite_url: str, tmp_path: Path) -> None:
    engine = open_cache(sqlite_url)
    with engine.begin() as conn:
        conn.execute(INSERT, {"r": "1", "n": "Live"})
    info = backup(engine, tmp_path / "cache.bak")
    with sqlite3.connect(info.path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
    with pytest.raises(SchemaTooNewError):
        restore(engine, info.path)
    assert _names(engine) == ["Live"]
    engine.dispose()


def test_restore_refuses_a_file_that_is_not_a_cache(sqlite_url: str, tmp_path: Path) -> None:
    engine = open_cache(sqlite_url)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(QbsyncError):  # InputError: not a SQLite database
        restore(engine, junk)
    engine.dispose()


def test_postgresql_backup_explains_pg_dump(db_url: str, tmp_path: Path) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL-only behaviour")
    engine = open_cache(db_url)
    with pytest.raises(CacheError) as err:
        backup(engine, tmp_path / "x.bak")
    assert "pg_dump" in str(err.value)
    engine.dispose()


def test_an_empty_backup_is_refused_and_the_commands_never_create_a_cache(
        sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from qbsync.cli import cli

    engine = open_cache(sqlite_url)
    with engine.begin() as conn:
        conn.execute(INSERT, {"r": "1", "n": "Live"})
    empty = open_cache(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    info = backup(empty, tmp_path / "empty.bak")
    empty.dispose()
    with pytest.raises(QbsyncError, match="holds no company"):
        restore(engine, info.path)
    assert _names(engine) == ["Live"]
    engine.dispose()
    (tmp_path / "qbsync.toml").write_text("", encoding="utf-8")
    monkeypatch.setenv("QBSYNC_CONFIG", str(tmp_path / "qbsync.toml"))
    runner = CliRunner()
    typo = f"sqlite:///{tmp_path / 'typo.sqlite3'}"
    for args in (["status"], ["backup", str(tmp_path / "b.bak")]):
        out = runner.invoke(cli, [*args, "--cache-url", typo])
        assert out.exit_code == 3 and "no cache at" in out.output, (args, out.output)
    assert not (tmp_path / "typo.sqlite3").exists() and not (tmp_path / "b.bak").exists()
    # Not on a terminal, restore asks for --yes instead of going ahead.
    out = runner.invoke(cli, ["restore", str(info.path), "--cache-url", sqlite_url], input="n\n")
    assert out.exit_code == 2 and "--yes" in out.output
    out = runner.invoke(cli, ["status", "--realm", "123", "--cache-url", sqlite_url])
    assert out.exit_code == 2 and "no company (realm) 123" in out.output
