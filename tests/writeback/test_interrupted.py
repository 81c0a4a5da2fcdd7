"""A write-back run whose process is killed shows as interrupted, never "running" forever."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.orm import Session

from qbsync.cache.locks import run_lock
from qbsync.cache.models import Realm
from qbsync.cli import cli
from qbsync.errors import LockedError
from tests.writeback.conftest import REALM

ROOT = Path(__file__).resolve().parents[2]

#: A process that starts a real run (lock first, then the "running" row) and then hangs mid-way,
#: as one does between two batches of writes.
HOLDER = textwrap.dedent("""
    import sys, time
    from datetime import UTC, datetime
    from qbsync.cache.db import make_engine, session_factory
    from qbsync.clock import FixedClock
    from qbsync.writeback.audit import running

    engine = make_engine(sys.argv[1])
    clock = FixedClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    with session_factory(engine)() as session:
        with running(session, clock, sys.argv[2], "apply", dry_run=False) as run:
            print(run.id, flush=True)
            time.sleep(600)
""")


def _runs(db_url: str, tmp_path: Path) -> list[dict[str, object]]:
    (tmp_path / "none.toml").write_text("")
    out = CliRunner(env={"QBSYNC_CONFIG": str(tmp_path / "none.toml")}).invoke(
        cli, ["writeback", "log", "--runs", "--json", "--cache-url", db_url])
    assert out.exit_code == 0, out.output
    rows: list[dict[str, object]] = json.loads(out.stdout)
    return rows


def test_a_killed_run_shows_as_interrupted(db_url: str, engine: sa.Engine, session: Session,
                                           tmp_path: Path) -> None:
    session.add(Realm(realm_id=REALM, company_name="Test", created_at=datetime(2026, 1, 1, tzinfo=UTC)))
    session.commit()
    child = subprocess.Popen([sys.executable, "-c", HOLDER, db_url, REALM], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        run_id = child.stdout.readline().strip()
        assert run_id.startswith("R"), child.stderr.read() if child.stderr else ""
        # While its process lives, the run is running, and nobody else can carry it out.
        (row,) = _runs(db_url, tmp_path)
        assert row["run_id"] == run_id and row["status"] == "running"
        with pytest.raises(LockedError), run_lock(engine, run_id):
            pass
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    (row,) = _runs(db_url, tmp_path)
    assert row["status"] == "interrupted"
    assert "ended before it finished" in str(row["error"])
    # It stays interrupted: the verdict is written, not guessed afresh on every read.
    (row,) = _runs(db_url, tmp_path)
    assert row["status"] == "interrupted"
