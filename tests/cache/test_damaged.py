"""A damaged SQLite cache is one line and exit 3 on every command, never a traceback."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from qbsync.cache.db import session_factory
from qbsync.cache.models import Customer, Realm
from qbsync.cache.schema import open_cache
from qbsync.cli import cli

COMMANDS = [["status"], ["rules", "inactive"], ["report", "aging"], ["writeback", "log", "--runs"]]


def _cache(path: Path, customers: int = 3000) -> None:
    engine = open_cache(f"sqlite:///{path}")
    at = datetime(2026, 1, 1, tzinfo=UTC)
    with session_factory(engine)() as s:
        s.add(Realm(realm_id="1", company_name="Co", created_at=at))
        s.flush()
        s.add_all(Customer(realm_id="1", id=str(i), sync_token="0", display_name=f"Customer number {i}",
                           active=True, raw={"Id": str(i), "Notes": "x" * 200}, created_at=at, updated_at=at)
                  for i in range(customers))
        s.commit()
    engine.dispose()


def _invoke(args: list[str], path: Path, tmp_path: Path) -> tuple[int, str]:
    (tmp_path / "none.toml").write_text("")
    out = CliRunner(env={"QBSYNC_CONFIG": str(tmp_path / "none.toml")}).invoke(
        cli, [*args, "--cache-url", f"sqlite:///{path}"])
    return out.exit_code, out.output


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
def test_a_file_that_is_not_a_database(args: list[str], tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    path.write_bytes(os.urandom(64 * 1024))
    code, output = _invoke(args, path, tmp_path)
    assert code == 3, output
    assert "is damaged (file is not a database)" in output and "qbsync restore" in output
    assert "Traceback" not in output


@pytest.mark.parametrize("how", ["truncated", "overwritten"])
def test_a_cache_damaged_after_its_first_pages(how: str, tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    _cache(path)
    size = path.stat().st_size
    with path.open("r+b") as fh:
        if how == "truncated":
            fh.truncate(size // 3)
        else:  # the schema pages survive; the table's later pages are garbage
            fh.seek(size // 2)
            fh.write(os.urandom(size // 4))
    for args in COMMANDS:
        code, output = _invoke(args, path, tmp_path)
        assert code in (0, 3), (args, output)  # a command that never reads a bad page may still work
        assert "Traceback" not in output
        if code == 3:
            assert "is damaged" in output, output
    code, output = _invoke(["rules", "inactive"], path, tmp_path)  # reads every customer
    assert code == 3 and "is damaged" in output, output
