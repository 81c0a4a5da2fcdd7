"""Regenerate the initial revision from the models: ``python -m qbsync.cache.migrations.generate``.

Until the first release the schema has one revision, 0001, rebuilt from ``Base.metadata`` whenever a
model changes; after a release, add revisions with ``alembic revision --autogenerate`` instead.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import sqlalchemy as sa
from alembic import command

from qbsync.cache.schema import MIGRATIONS, alembic_config

INITIAL = "0001"


def regenerate() -> Path:
    versions = MIGRATIONS / "versions"
    for old in versions.glob(f"{INITIAL}_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        engine = sa.create_engine(f"sqlite:///{Path(tmp) / 'empty.sqlite3'}")
        with engine.begin() as conn:
            command.revision(alembic_config(conn), message="initial schema", autogenerate=True,
                             rev_id=INITIAL)
        engine.dispose()
    (made,) = versions.glob(f"{INITIAL}_*.py")
    return made


if __name__ == "__main__":
    print(f"wrote {regenerate()}")
