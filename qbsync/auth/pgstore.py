"""The fleet's token store: every company's tokens in the PostgreSQL cache, encrypted at rest.

Workers on several machines must share one copy of each company's tokens: a refresh spends the
refresh token, so a machine refreshing from a stale copy would end the connection (``invalid_grant``).
Here the tokens are a row of ``fleet_tokens``, encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under
a key from the environment (``QBSYNC_TOKEN_KEY``; several comma-separated keys decrypt, the first
encrypts, so a key can be rotated). ``lock(realm)`` holds the row (``SELECT ... FOR UPDATE``, or an
advisory lock while the row does not exist yet) for the length of a refresh: the second machine waits,
then re-reads the tokens the first one saved, exactly as the file store's flock does on one machine.

It has the file store's interface (``TokenStore``), so ``TokenManager`` and the client take either.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from qbsync.auth.tokens import TokenSet, TokenStore
from qbsync.cache.fleet_models import FleetToken
from qbsync.errors import AuthError, ConfigError

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

TOKENS = FleetToken.metadata.tables[FleetToken.__tablename__]
WRONG_KEY_HINT = ("give this machine the key the tokens were saved with (QBSYNC_TOKEN_KEY; add it after a "
                  "comma while rotating keys)")
KEY_HINT = ("set QBSYNC_TOKEN_KEY to a Fernet key, made once with `python -c \"from cryptography.fernet "
            "import Fernet; print(Fernet.generate_key().decode())\"`, and give every worker the same one")


def _fernet(keys: str | None) -> MultiFernet:
    try:
        from cryptography.fernet import Fernet, MultiFernet
    except ModuleNotFoundError:
        raise ConfigError("token_store", "the cache token store needs the `cryptography` package",
                          hint="pip install 'qbsync[fleet]'") from None
    parts = [k.strip() for k in (keys or "").split(",") if k.strip()]
    if not parts:
        raise ConfigError("token_key", "not set (the cache token store encrypts tokens with it)",
                          hint=KEY_HINT)
    try:
        return MultiFernet([Fernet(k.encode()) for k in parts])
    except ValueError:
        raise ConfigError("token_key", "is not a Fernet key (32 url-safe base64-encoded bytes)",
                          hint=KEY_HINT) from None


def _advisory_key(realm_id: str) -> int:
    digest = hashlib.sha256(f"qbsync-tokens:{realm_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def require_postgresql(backend: str) -> None:
    """The cache store's one condition on the cache (ConfigError otherwise)."""
    if backend != "postgresql":
        raise ConfigError("token_store", "`cache` keeps tokens in a PostgreSQL cache, and this cache is "
                          f"{backend}", hint="use token_store = file (the default) on one "
                          "machine, or a postgresql+psycopg:// cache_url for a fleet")


class PgTokenStore(TokenStore):
    """Tokens as encrypted rows of the PostgreSQL cache (one per company)."""

    def __init__(self, engine: sa.Engine, key: str | None) -> None:
        super().__init__(Path("."))  # the file store's directory is not used
        require_postgresql(engine.dialect.name)
        self.engine = engine
        self._crypto = _fernet(key)
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"PgTokenStore({self.engine.url.render_as_string(hide_password=True)})"

    # --- encryption ---

    def _seal(self, tokens: TokenSet) -> str:
        return self._crypto.encrypt(json.dumps(tokens.to_json()).encode()).decode()

    def _open(self, realm_id: str, ciphertext: str) -> TokenSet:
        from cryptography.fernet import InvalidToken

        try:
            raw = self._crypto.decrypt(ciphertext.encode())
        except InvalidToken:
            # A setting (exit 2), not a lost authorization: logging in again from this machine would
            # strand every other machine that still has the right key.
            raise ConfigError("token_key", f"cannot decrypt the stored tokens of company {realm_id}",
                              hint=WRONG_KEY_HINT) from None
        try:
            return TokenSet.from_json(json.loads(raw))
        except (ValueError, KeyError, TypeError):
            raise AuthError(f"the stored tokens of company {realm_id} are damaged",
                            hint=f"run `qbsync auth login --realm {realm_id}` again") from None

    # --- the store's interface ---

    @contextlib.contextmanager
    def lock(self, realm_id: str) -> Iterator[None]:
        """Hold this company's tokens (blocks until another machine's refresh has committed)."""
        realm_id = self._check_realm(realm_id)
        if getattr(self._local, "conn", None) is not None:
            raise RuntimeError("PgTokenStore.lock is not re-entrant")
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(TOKENS.c.realm_id).where(TOKENS.c.realm_id == realm_id)
                               .with_for_update()).first()
            if row is None:  # nothing to lock yet (first login): serialise on the company's advisory lock
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _advisory_key(realm_id)})
            self._local.conn = conn
            try:
                yield
                conn.commit()
            finally:
                self._local.conn = None

    @contextlib.contextmanager
    def _conn(self, write: bool) -> Iterator[sa.Connection]:
        held: sa.Connection | None = getattr(self._local, "conn", None)
        if held is not None:
            yield held
            return
        with self.engine.begin() if write else self.engine.connect() as conn:
            yield conn

    def load(self, realm_id: str) -> TokenSet | None:
        realm_id = self._check_realm(realm_id)
        with self._conn(False) as conn:
            row = conn.execute(sa.select(TOKENS.c.ciphertext).where(TOKENS.c.realm_id == realm_id)).first()
        return None if row is None else self._open(realm_id, row.ciphertext)

    def save(self, tokens: TokenSet) -> None:
        from sqlalchemy.dialects.postgresql import insert

        realm_id = self._check_realm(tokens.realm_id)
        values = dict(realm_id=realm_id, ciphertext=self._seal(tokens), updated_at=datetime.now(UTC))
        stmt = insert(TOKENS).values(values)
        stmt = stmt.on_conflict_do_update(index_elements=["realm_id"],
                                          set_={"ciphertext": stmt.excluded.ciphertext,
                                                "updated_at": stmt.excluded.updated_at})
        with self._conn(True) as conn:
            conn.execute(stmt)
            if getattr(self._local, "conn", None) is conn:
                # Persist before use, as the file store does: a crash after a refresh must not lose
                # the new refresh token. This ends the lock; a save is a refresh's last step.
                conn.commit()

    def delete(self, realm_id: str) -> bool:
        realm_id = self._check_realm(realm_id)
        with self._conn(True) as conn:
            return bool(conn.execute(TOKENS.delete().where(TOKENS.c.realm_id == realm_id)).rowcount)

    def realms(self) -> list[str]:
        with self._conn(False) as conn:
            return sorted(r for (r,) in conn.execute(sa.select(TOKENS.c.realm_id)))

    def check_key(self) -> int:
        """Decrypt every stored company's tokens (a worker's start: a wrong key stops it at once, not job
        after job); returns how many there are. ConfigError naming the companies the key cannot open."""
        from cryptography.fernet import InvalidToken

        with self._conn(False) as conn:
            rows = conn.execute(sa.select(TOKENS.c.realm_id, TOKENS.c.ciphertext)).all()
        refused = []
        for row in rows:
            try:
                self._crypto.decrypt(row.ciphertext.encode())
            except InvalidToken:
                refused.append(row.realm_id)
        if refused:
            shown = ", ".join(sorted(refused)[:5]) + (" ..." if len(refused) > 5 else "")
            raise ConfigError("token_key", f"cannot decrypt the stored tokens of {len(refused)} of "
                              f"{len(rows)} companies ({shown})", hint=WRONG_KEY_HINT)
        return len(rows)
