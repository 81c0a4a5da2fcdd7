"""The local cache: SQLAlchemy models, engine and sessions, upserts, migrations."""
