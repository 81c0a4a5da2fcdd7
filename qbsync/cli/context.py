"""The one command context: every command receives it, built one way from its flags and the process.

A command declares what it needs with ``@with_context(...)``, which adds the shared options
(``--cache-url``, ``--realm``, ``--as-of``) and hands the command a ``CommandContext`` as its first
argument. The context holds:

- ``settings``: loaded once (flag > ``QBSYNC_*`` > config file > default);
- ``clock``: the process's clock (``Env.clock``; tests inject a ``FixedClock``);
- ``engine``: the cache, opened on first use and closed when the command ends, the same way for
  every command (``existing=True``: a missing cache is an error, never a new empty one);
- ``realm_id``: ``--realm`` / the ``realm`` setting, checked against the cache, or its only company;
- ``zone`` and ``today``: the company's time (see ``company_zone``) and the date on the clock there;
- ``as_of``: ``--as-of`` or ``today``; a date after today is refused.

The company's time is, in order: the ``timezone`` setting (an IANA name, exact across daylight
saving); the UTC offset QuickBooks writes on the company's own timestamps (CompanyInfo's
``MetaData``, read by ``qbsync sync``); this computer's zone. Every rule, report and plan of one
run therefore judges the same day, whatever ``TZ`` the shell has.

Errors of the database under a command (a locked, corrupt or vanished cache) end as one line naming
the cache, exit 3, like every other ``CacheError``. Nothing here imports SQLAlchemy at start-up:
``qbsync --help`` stays light.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from qbsync.clock import Clock, SystemClock, local_zone, zone_of_timestamp
from qbsync.errors import InputError
from qbsync.settings import Settings, load_settings

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from qbsync.qbo.gateway import QboGateway

F = TypeVar("F", bound=Callable[..., Any])

DATE = click.DateTime(formats=["%Y-%m-%d"])
AS_OF_HELP = "See only what had happened by DATE (default: today in the company's time zone)."
REALM_HELP = "QuickBooks company (realm) Id (default: the realm setting, or the cache's only company)."
CACHE_HELP = "Cache database URL (default: the cache_url setting)."

Connect = Callable[[Settings, "str | None", Clock], "QboGateway"]


def _connect_live(settings: Settings, realm_id: str | None, clock: Clock) -> QboGateway:
    from qbsync.qbo.client import connect

    gateway: QboGateway = connect(settings, realm_id, clock=clock)
    return gateway


@dataclass
class Env:
    """What the process gives every command. Tests pass their own:
    ``CliRunner().invoke(cli, args, obj=Env(clock=FixedClock(...), connect=lambda *a: fake))``."""

    clock: Clock = field(default_factory=SystemClock)
    local_zone: tzinfo | None = None  # None: this computer's zone (TZ), looked up when needed
    connect: Connect = _connect_live
    config_path: Path | None = None  # `qbsync --config FILE`; None: QBSYNC_CONFIG or the default


def current_env() -> Env:
    """The ``Env`` of the running command (a default one outside click)."""
    ctx = click.get_current_context(silent=True)
    env = ctx.find_object(Env) if ctx is not None else None
    return env if env is not None else Env()


class CommandContext:
    """Settings, clock, a lazily opened cache, the realm and the as-of date of one command run."""

    def __init__(self, settings: Settings, env: Env | None = None, *, as_of: date | None = None,
                 existing_cache: bool = True) -> None:
        self.settings = settings
        self.env = env or Env()
        self.clock: Clock = self.env.clock
        self._as_of_flag = as_of
        self._existing = existing_cache
        #: The command reads the cache, so the company's zone may come from it. A command that reads
        #: a file instead (``--input-csv``) sets this False and never opens the cache.
        self.reads_cache = existing_cache
        self._engine: sa.Engine | None = None
        self._realm_id: str | None = None
        self._zone: tzinfo | None = None

    @classmethod
    def build(cls, env: Env | None = None, *, as_of: date | datetime | None = None,
              existing_cache: bool = True, **overrides: Any) -> CommandContext:
        """From flags: ``overrides`` are setting names (``cache_url``, ``realm``, ...); None means unset."""
        env = env or current_env()
        settings = load_settings(overrides=overrides, config_path=env.config_path)
        day = as_of.date() if isinstance(as_of, datetime) else as_of
        return cls(settings, env, as_of=day, existing_cache=existing_cache)

    # ---- the cache -------------------------------------------------------------------------------

    @property
    def engine(self) -> sa.Engine:
        """The cache, opened (and migrated) on first use."""
        if self._engine is None:
            from qbsync.cache.schema import open_cache

            self._engine = open_cache(self.settings.cache_url, existing=self._existing)
        return self._engine

    @property
    def cache_opened(self) -> bool:
        return self._engine is not None

    @contextmanager
    def session(self) -> Iterator[Session]:
        from qbsync.cache.db import session_factory

        with session_factory(self.engine)() as session:
            yield session

    @property
    def realm_id(self) -> str:
        """``--realm`` or the realm setting, checked against the cache; else the cache's only company."""
        if self._realm_id is None:
            from qbsync.cache.schema import resolve_realm

            self._realm_id = resolve_realm(self.engine, self.settings.realm)
        return self._realm_id

    def check_realm(self) -> str | None:
        """The realm asked for (checked: an unknown one is an error, not an empty answer), or None."""
        return self.realm_id if self.settings.realm else None

    # ---- time ------------------------------------------------------------------------------------

    @property
    def zone(self) -> tzinfo:
        """The company's time zone (setting, else QuickBooks' offset for it, else this computer's)."""
        if self._zone is None:
            engine, realm_id = None, None
            if self.reads_cache and not self.settings.timezone:
                engine, realm_id = self.engine, self.realm_id
            self._zone = company_zone(self.settings, self.env, engine, realm_id)
        return self._zone

    def now(self) -> datetime:
        """Now, in the company's time zone."""
        return self.clock.now().astimezone(self.zone)

    @property
    def today(self) -> date:
        """The date on the clock in the company's time zone."""
        return self.now().date()

    @property
    def as_of(self) -> date:
        """``--as-of``, else today in the company's time; a date after today is refused."""
        if self._as_of_flag is None:
            return self.today
        today = self.today
        if self._as_of_flag > today:
            # A date to come would judge today's customers by a future that has not happened: an
            # inactive plan "as of 2030" deactivates customers who bought this week.
            raise InputError(f"--as-of {self._as_of_flag.isoformat()} is after today ({today.isoformat()})",
                             hint="give today or a past date: rules and reports only see what has happened")
        return self._as_of_flag

    @property
    def as_of_given(self) -> bool:
        return self._as_of_flag is not None

    # ---- QuickBooks ------------------------------------------------------------------------------

    def connect(self, realm_id: str | None) -> QboGateway:
        """The QuickBooks connection for ``realm_id`` (tokens from the token store)."""
        return self.env.connect(self.settings, realm_id, self.clock)

    # ---- end -------------------------------------------------------------------------------------

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def company_zone(settings: Settings, env: Env, engine: sa.Engine | None, realm_id: str | None) -> tzinfo:
    """The company's time zone: the ``timezone`` setting; else the offset on CompanyInfo's own
    timestamps in the cache; else this computer's zone."""
    if settings.timezone:
        from zoneinfo import ZoneInfo

        return ZoneInfo(settings.timezone)
    if engine is not None and realm_id is not None:
        zone = _zone_in_cache(engine, realm_id)
        if zone is not None:
            return zone
    return env.local_zone or local_zone()


def _zone_in_cache(engine: sa.Engine, realm_id: str) -> tzinfo | None:
    import sqlalchemy as sa

    from qbsync.cache.models import Realm

    with engine.connect() as conn:
        info = conn.execute(sa.select(Realm.raw_company_info).where(Realm.realm_id == realm_id)).scalar()
    meta = info.get("MetaData") if isinstance(info, dict) else None
    if not isinstance(meta, dict):
        return None
    return zone_of_timestamp(meta.get("LastUpdatedTime")) or zone_of_timestamp(meta.get("CreateTime"))


@contextmanager
def database_errors(ctx: CommandContext) -> Iterator[None]:
    """A database failure under a command becomes one CacheError line naming the cache (exit 3)."""
    try:
        yield
    except Exception as exc:
        if "sqlalchemy" not in sys.modules:
            raise
        from sqlalchemy.exc import DBAPIError

        if not isinstance(exc, DBAPIError):
            raise
        from qbsync.cache.db import cache_error

        raise cache_error(exc, ctx.settings.cache_url) from exc


def cache_url_option() -> Callable[[F], F]:
    return click.option("--cache-url", "cache_url", metavar="URL", help=CACHE_HELP)


def realm_option(help: str = REALM_HELP) -> Callable[[F], F]:
    return click.option("--realm", metavar="ID", help=help)


def as_of_option(help: str = AS_OF_HELP) -> Callable[[F], F]:
    return click.option("--as-of", "as_of", type=DATE, metavar="DATE", help=help)


def with_context(*, realm: bool | str = True, as_of: bool | str = True, cache: bool = True,
                 existing_cache: bool = True) -> Callable[[F], F]:
    """Give the command a ``CommandContext`` as its first argument, with the shared options.

    ``realm``/``as_of``: add ``--realm`` / ``--as-of`` (a string is its help text). ``cache``: add
    ``--cache-url``. ``existing_cache=False`` lets the command create the cache (``sync``).
    The context is closed when the command ends; database errors become one clean line.
    """
    def decorate(func: F) -> F:
        @functools.wraps(func)
        def run(*args: Any, **kw: Any) -> Any:
            overrides = {"cache_url": kw.pop("cache_url", None), "realm": kw.pop("realm", None)}
            day = kw.pop("as_of", None)
            ctx = CommandContext.build(as_of=day, existing_cache=existing_cache, **overrides)
            try:
                with database_errors(ctx):
                    return func(ctx, *args, **kw)
            finally:
                ctx.close()

        wrapped: Any = run
        if as_of:
            wrapped = as_of_option(as_of if isinstance(as_of, str) else AS_OF_HELP)(wrapped)
        if realm:
            wrapped = realm_option(realm if isinstance(realm, str) else REALM_HELP)(wrapped)
        if cache:
            wrapped = cache_url_option()(wrapped)
        return cast(F, wrapped)

    return decorate
