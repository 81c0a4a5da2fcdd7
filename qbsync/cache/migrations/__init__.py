"""Alembic migrations of the cache schema (run by ``qbsync.cache.schema.open_cache``)."""
