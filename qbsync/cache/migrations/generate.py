"""Write the next schema revision from the models: ``python -m qbsync.cache.migrations.generate "message"``.

Caches stamped with a revision exist (0001 since the first sync), so a model change is a new
revision on top of the head, never an edit of a shipped one: an empty SQLite database is upgraded
to the head, compared with ``Base.metadata`` by Alembic's autogenerate, and the difference is
written as revision head + 1 (``0002_<message>.py``, ...). Review the file it writes: autogenerate
sees tables, columns, types and indexes, not renames or data moves. Nothing is written when the
models match the head. ``tests/cache/test_schema.py`` fails when models and revisions drift apart.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from qbsync.cache.models import Base
from qbsync.cache.schema import MIGRATIONS, alembic_config, head_revision


def generate(message: str) -> Path | None:
    """The revision file written for ``message``, or None when the models match the head."""
    rev_id = f"{int(head_revision()) + 1:04d}"
    with tempfile.TemporaryDirectory() as tmp:
        engine = sa.create_engine(f"sqlite:///{Path(tmp) / 'head.sqlite3'}")
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
        with engine.begin() as conn:
            if not compare_metadata(MigrationContext.configure(conn), Base.metadata):
                engine.dispose()
                return None
            command.revision(alembic_config(conn), message=message, autogenerate=True, rev_id=rev_id)
        engine.dispose()
    (made,) = (MIGRATIONS / "versions").glob(f"{rev_id}_*.py")
    return made


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("message", help="what the revision changes, e.g. 'covering activity index'")
    made = generate(parser.parse_args().message)
    print(f"wrote {made}" if made else "the models match the head revision: nothing to write")
