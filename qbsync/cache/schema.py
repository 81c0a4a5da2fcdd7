"""Opening a cache: upgrade it to the code's schema on open, refuse one written by a newer qbsync.

``open_cache(url)`` is what every command uses; ``create_schema`` stays for tests that want bare
tables. A cache whose tables were made by ``create_schema`` (no alembic_version) is completed and
stamped at the head revision.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from qbsync.cache.db import cache_error, make_engine
from qbsync.cache.models import Base, Realm
from qbsync.errors import CacheError, ConfigError, InputError, SchemaTooNewError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: sa.Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def known_revisions() -> set[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return {rev.revision for rev in script.walk_revisions()}


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise CacheError("qbsync ships no schema revision", hint="reinstall qbsync")
    return head


def current_revisions(conn: sa.Connection) -> set[str]:
    return set(MigrationContext.configure(conn).get_current_heads())


def check_revisions(revisions: set[str], where: str) -> None:
    """SchemaTooNewError when ``revisions`` holds a revision this qbsync does not know."""
    unknown = revisions - known_revisions()
    if unknown:
        raise SchemaTooNewError(
            f"{where} has schema revision {', '.join(sorted(unknown))}, newer than this qbsync knows",
            hint="upgrade qbsync (pip install -U qbsync) before using it")


def upgrade(engine: sa.Engine) -> None:
    """Bring the cache to the head revision (no-op when it is there already)."""
    with engine.begin() as conn:
        current = current_revisions(conn)
        check_revisions(current, "the cache")
        head = head_revision()
        if current == {head}:
            return
        inspector = sa.inspect(conn)
        if not current and inspector.has_table("sync_state"):
            # Tables from create_schema (tests, early versions): add what is missing and adopt them.
            # create_all skips a table that exists, indexes included, so those are checked one by one.
            Base.metadata.create_all(conn)
            for table in Base.metadata.sorted_tables:
                for index in table.indexes:
                    index.create(conn, checkfirst=True)
            command.stamp(alembic_config(conn), "head")
            return
        command.upgrade(alembic_config(conn), "head")


_DRIVERS = ("use sqlite:///PATH, or postgresql+psycopg://USER@HOST/DB with `pip install 'qbsync[postgres]'` "
            "(the databases qbsync supports)")
_NO_CACHE = "run `qbsync sync` (or `qbsync demo`) first, or point --cache-url / QBSYNC_CACHE_URL at it"


def open_cache(url: str, *, existing: bool = False, **kw: Any) -> sa.Engine:
    """An engine on ``url`` whose schema is current (created or upgraded on open).

    ``existing``: for commands that read what a sync wrote, a SQLite file that is not there, or a
    database without the cache's tables, is an error naming the fix, not a new empty cache.
    """
    parsed = sa.engine.make_url(url)
    database = parsed.database or ""
    if (existing and parsed.get_backend_name() == "sqlite" and database not in ("", ":memory:")
            and not database.startswith("file:") and not Path(database).exists()):
        raise CacheError(f"no cache at {database}", hint=_NO_CACHE)
    try:
        engine = make_engine(url, **kw)
    except ModuleNotFoundError as exc:
        if parsed.get_backend_name() == "postgresql":
            shown = parsed.render_as_string(hide_password=True)
            raise CacheError(f"the cache URL {shown} needs PostgreSQL's driver, not installed ({exc})",
                             hint="pip install 'qbsync[postgres]' (the driver is an extra: SQLite needs "
                                  "nothing)") from exc
        raise CacheError(f"cannot use the cache URL {parsed.render_as_string(hide_password=True)}: {exc}",
                         hint=_DRIVERS) from exc
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
        raise CacheError(f"cannot use the cache URL {parsed.render_as_string(hide_password=True)}: {exc}",
                         hint=_DRIVERS) from exc
    try:
        if existing:
            with engine.connect() as conn:
                if not sa.inspect(conn).has_table("realms"):
                    raise CacheError(f"no qbsync cache at {parsed.render_as_string(hide_password=True)} (the "
                                     "database is there but holds no cache tables)", hint=_NO_CACHE)
        upgrade(engine)
    except (SchemaTooNewError, CacheError):
        engine.dispose()
        raise
    except sa.exc.DBAPIError as exc:  # unreachable, refused, or a damaged SQLite file
        engine.dispose()
        raise cache_error(exc, engine.url) from exc
    return engine


def resolve_realm(engine: sa.Engine, realm: str | None) -> str:
    """``realm`` when given and in the cache; otherwise the cache's only company (a cache with one
    realm needs no --realm)."""
    with engine.connect() as conn:
        realms = sorted(r for (r,) in conn.execute(sa.select(Realm.realm_id)))
    if realm:
        if realm not in realms:
            held = f"it holds {', '.join(realms)}" if realms else "it holds no company yet"
            raise InputError(f"no company (realm) {realm} in the cache: {held}",
                             hint=f"pass one of those with --realm, or run `qbsync sync --realm {realm}` "
                                  "first")
        return realm
    if len(realms) != 1:
        raise ConfigError("realm", "not set" if realms else "not set, and the cache holds no company",
                          hint="pass --realm, set QBSYNC_REALM, or run `qbsync sync` first")
    return realms[0]
