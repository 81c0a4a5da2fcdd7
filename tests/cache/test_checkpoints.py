"""The background WAL checkpointer copies a SQLite writer's commits back to the database file."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from qbsync.cache.db import WalCheckpointer, make_engine


def test_commits_are_checkpointed_by_the_background_thread(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x TEXT)"))
    with WalCheckpointer(engine, every=2) as ckpt:
        assert ckpt.active
        for i in range(10):
            with engine.begin() as conn:
                conn.execute(sa.text("INSERT INTO t VALUES (:x)"), {"x": "x" * 5000 + str(i)})
            ckpt.committed()
    assert ckpt.checkpoints >= 1
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM t")).scalar_one() == 10
    engine.dispose()


def test_inactive_on_memory_databases() -> None:
    engine = make_engine("sqlite://")
    with WalCheckpointer(engine) as ckpt:
        ckpt.committed()
    assert not ckpt.active and ckpt.checkpoints == 0
