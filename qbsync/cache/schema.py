"""Opening a cache: upgrade it to the code's schema on open, refuse one written by a newer qbsync.

``open_cache(url)`` is what every command uses; ``create_schema`` stays for tests that want bare
tables. A cache whose tables were made by ``create_schema`` (no alembic_version) is completed and
stamped at the head revision. A new, empty database gets the models' tables stamped at the head
without Alembic; every other cache is upgraded through the revisions.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from qbsync.cache.db import cache_error, make_engine
from qbsync.cache.models import Base, Realm
from qbsync.errors import CacheError, ConfigError, InputError, SchemaTooNewError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: the one line each revision file names itself and its parent with (script.py.mako writes it)
_REVISION = re.compile(r"^revision, down_revision = '([^']+)', (?:None|'([^']+)')$", re.MULTILINE)


@cache
def shipped_head() -> str | None:
    """The head revision read from the revision files' ``revision, down_revision = ...`` lines, without
    Alembic (importing it and its templates costs a cron run ~0.1-0.3 s); None when that reading is
    not a single head, and Alembic must be asked."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("[0-9]*.py"):
        text = path.read_text(encoding="utf-8")
        found = _REVISION.findall(text)
        if len(found) != 1:  # written in another style: only Alembic can tell
            return None
        revision, down = found[0]
        revisions.add(revision)
        downs.update([down] if down else [])
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 else None


def _at_shipped_head(conn: sa.Connection, tables: list[str]) -> bool:
    """The cache is stamped with exactly the head this qbsync ships (the usual case): nothing to do."""
    head = shipped_head()
    if head is None or "alembic_version" not in tables:
        return False
    stamped = {v for (v,) in conn.execute(sa.text("SELECT version_num FROM alembic_version"))}
    return stamped == {head}


def _create_at_head(conn: sa.Connection, head: str) -> None:
    """A new, empty database (a first sync): the models' tables and indexes, stamped with the head, in
    one transaction. That is what the revisions build (test_schema holds a migrated cache equal to the
    models; the revisions' data updates have no rows to change here), without importing Alembic and
    running every revision (~0.2 s of CPU, and on a busy disk a good part of a second, before a first
    sync's first request)."""
    Base.metadata.create_all(conn)
    version = sa.Table("alembic_version", sa.MetaData(),
                       sa.Column("version_num", sa.String(32), nullable=False),
                       sa.PrimaryKeyConstraint("version_num", name="alembic_version_pkc"))
    version.create(conn)
    conn.execute(version.insert().values(version_num=head))


def alembic_config(connection: sa.Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    return {rev.revision for rev in script.walk_revisions()}


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise CacheError("qbsync ships no schema revision", hint="reinstall qbsync")
    return head


def current_revisions(conn: sa.Connection) -> set[str]:
    from alembic.runtime.migration import MigrationContext

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
        tables = sa.inspect(conn).get_table_names()
        if _at_shipped_head(conn, tables):
            return
        head = shipped_head()
        if not tables and head is not None:
            _create_at_head(conn, head)
            return
        from alembic import command

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
    if len(realms) > 1:
        raise InputError(f"the cache holds several companies ({', '.join(realms)}): which one?",
                         hint="pass --realm ID, or set QBSYNC_REALM (or `realm` in the config file)")
    if not realms:
        raise ConfigError("realm", "not set, and the cache holds no company",
                          hint="run `qbsync sync` first, or point --cache-url at the cache that holds it")
    return realms[0]
