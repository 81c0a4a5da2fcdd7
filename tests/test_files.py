"""Atomic writes: what a user shares gets their usual file mode; a secret is 0600 whatever the umask."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from qbsync.files import atomic_writer, write_atomic, write_atomic_bytes

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


@pytest.fixture
def umask() -> Iterator[object]:
    """Set the process umask for one test (the test says which), then put the old one back."""
    old = os.umask(0o022)

    class Set:
        def __call__(self, value: int) -> None:
            os.umask(value)

    yield Set()
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_a_shared_file_gets_the_users_usual_mode(tmp_path: Path, umask: object, mask: int,
                                                 expected: int) -> None:
    umask(mask)  # type: ignore[operator]
    write_atomic(tmp_path / "report.csv", "a,b\r\n")
    write_atomic_bytes(tmp_path / "statements.pdf", b"%PDF-1.7")
    with atomic_writer(tmp_path / "page.html") as fh:
        fh.write("<p>hi</p>")
    assert {p.name: mode(p) for p in tmp_path.iterdir()} == dict.fromkeys(
        ("report.csv", "statements.pdf", "page.html"), expected)


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o277])
def test_a_secret_is_0600_whatever_the_umask(tmp_path: Path, umask: object, mask: int) -> None:
    umask(mask)  # type: ignore[operator]
    write_atomic(tmp_path / "tokens.json", "{}", private=True)
    write_atomic_bytes(tmp_path / "key.bin", b"k", private=True)
    assert mode(tmp_path / "tokens.json") == 0o600 and mode(tmp_path / "key.bin") == 0o600


def test_replacing_keeps_it_atomic_and_leaves_no_temp_file(tmp_path: Path, umask: object) -> None:
    target = tmp_path / "out.txt"
    write_atomic(target, "old")
    with pytest.raises(RuntimeError), atomic_writer(target) as fh:
        fh.write("new, half")
        raise RuntimeError("stopped")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    write_atomic(target, "new")
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_the_token_store_stays_private_and_reports_do_not(tmp_path: Path, umask: object) -> None:
    """End to end: the token store's file is 0600, a report written with -o is 0644 (umask 022)."""
    from click.testing import CliRunner

    from qbsync.auth.tokens import TokenSet, TokenStore
    from qbsync.cli import cli
    from tests.builder import CacheBuilder

    now = datetime(2025, 6, 1, tzinfo=UTC)
    store = TokenStore(tmp_path / "tokens")
    store.save(TokenSet(realm_id="9130349253365616", access_token="a", refresh_token="r",
                        access_expires_at=now + timedelta(hours=1),
                        refresh_expires_at=now + timedelta(days=99)))
    assert mode(store.path("9130349253365616")) == 0o600

    url = f"sqlite:///{tmp_path / 'cache.sqlite3'}"
    b = CacheBuilder(url)
    b.customer("1", "Ann")
    b.invoice("1", date(2025, 5, 1), "100.00", due=date(2025, 5, 31))
    out = tmp_path / "aging.csv"
    result = CliRunner().invoke(cli, ["report", "aging", "--format", "csv", "-o", str(out), "--as-of",
                                      "2025-06-01", "--cache-url", url], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert mode(out) == 0o644
