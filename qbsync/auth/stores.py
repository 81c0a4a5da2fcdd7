"""Which token store the settings choose: the file store (default, one machine) or the cache's (a fleet)."""

from __future__ import annotations

import sqlalchemy as sa

from qbsync.auth.tokens import TokenStore
from qbsync.settings import Settings


def open_token_store(settings: Settings, engine: sa.Engine | None = None) -> TokenStore:
    """The store of ``settings.token_store``; ``engine`` (the cache's, when already open) is reused by
    the cache store, which otherwise opens a small engine of its own on ``cache_url``."""
    if settings.token_store != "cache":
        return TokenStore(settings.token_dir)
    from qbsync.auth.pgstore import PgTokenStore

    if engine is None:
        engine = sa.create_engine(settings.cache_url, pool_size=2, max_overflow=4, pool_pre_ping=True)
    return PgTokenStore(engine, settings.token_key)
