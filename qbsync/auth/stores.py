"""Which token store the settings choose: the file store (default, one machine) or the cache's (a fleet);
and moving a company's tokens from one store to the other (`qbsync auth migrate`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from qbsync.auth.tokens import TokenSet, TokenStore
from qbsync.errors import AuthError
from qbsync.settings import Settings


def open_token_store(settings: Settings, engine: sa.Engine | None = None, *,
                     kind: str | None = None) -> TokenStore:
    """The store of ``settings.token_store`` (or ``kind``: ``file`` | ``cache``); ``engine`` (the cache's,
    when already open) is reused by the cache store, which otherwise opens a small engine of its own on
    ``cache_url``."""
    if (kind or settings.token_store) != "cache":
        return TokenStore(settings.token_dir)
    from qbsync.auth.pgstore import PgTokenStore, require_postgresql

    if engine is None:
        # Checked before opening: a SQLite URL must not leave an empty cache file behind its error.
        require_postgresql(sa.engine.make_url(settings.cache_url).get_backend_name())
        from qbsync.cache.schema import open_cache

        # Through open_cache, so that the store's table exists on a database no command used yet
        # (`auth login` is often the first).
        engine = open_cache(settings.cache_url, pool_size=2, max_overflow=4, pool_pre_ping=True)
    return PgTokenStore(engine, settings.token_key)


@dataclass(frozen=True)
class Moved:
    """What moving one company's tokens did: ``moved`` (copied, then the source copy deleted),
    ``already`` (the destination held the same tokens), ``kept-newer`` (the destination's copy was
    refreshed later than the source's: kept, the source's deleted), or ``would-move`` (dry run)."""

    realm_id: str
    action: str
    company_name: str | None = None


def _stamp(tokens: TokenSet) -> datetime:
    return tokens.obtained_at or datetime.min.replace(tzinfo=UTC)


def move_tokens(source: TokenStore, destination: TokenStore, realms: Sequence[str] | None = None, *,
                dry_run: bool = False) -> list[Moved]:
    """Move each company's tokens from ``source`` to ``destination``, leaving one copy.

    A refresh spends the refresh token, so two stores each holding a company's tokens would each
    refresh their own copy and one would end in ``invalid_grant``. Per company, both stores' locks are
    held (the file lock, the row lock) while the tokens are read, written to ``destination`` and
    deleted from ``source``: no refresh on either side can fall in between. Idempotent: a run stopped
    between the write and the delete leaves two identical copies, and running it again removes the
    source's (or, if that copy was refreshed meanwhile, the newer one wins).
    """
    wanted = list(realms) if realms is not None else source.realms()
    out: list[Moved] = []
    for realm in wanted:
        with source.lock(realm), destination.lock(realm):
            tokens = source.load(realm)
            if tokens is None:
                raise AuthError(f"company {realm} has no stored tokens to move",
                                hint="`qbsync auth status` lists the connected companies")
            there = destination.load(realm)
            if dry_run:
                out.append(Moved(realm, "would-move", tokens.company_name))
                continue
            if there is not None and there == tokens:
                action = "already"
            elif there is not None and _stamp(there) > _stamp(tokens):
                action = "kept-newer"  # refreshed in its new home since an earlier, interrupted move
            else:
                destination.save(tokens)
                action = "moved"
            source.delete(realm)
        out.append(Moved(realm, action, tokens.company_name))
    return out
