"""Opening a cache creates or upgrades its schema; a cache or backup from a newer qbsync is refused."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from qbsync.cache.db import create_schema, make_engine
from qbsync.cache.schema import head_revision, open_cache
from qbsync.errors import SchemaTooNewError

VERSION = sa.text("SELECT version_num FROM alembic_version")


def _tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_open_creates_every_table_and_records_the_revision(db_url: str) -> None:
    engine = open_cache(db_url)
    wanted = {"customers", "invoices", "payment_links", "sales_lines", "sync_state", "realms"}
    assert wanted <= _tables(engine)
    with engine.connect() as conn:
        assert conn.execute(VERSION).scalar_one() == head_revision()
    engine.dispose()
    open_cache(db_url).dispose()  # opening again is a no-op


def test_a_cache_at_the_head_opens_without_importing_alembic(tmp_path: object) -> None:
    # The head read from the revision files is Alembic's head, so a cron run on a current cache
    # skips Alembic's import (and its templates); an older cache is still upgraded through it.
    import subprocess
    import sys
    from pathlib import Path

    from qbsync.cache.schema import shipped_head

    assert shipped_head() == head_revision()
    url = f"sqlite:///{Path(str(tmp_path)) / 'cache.sqlite3'}"
    # Twice: a new cache (created from the models, stamped at the head), then that cache again.
    probe = ("import sys; from qbsync.cache.schema import open_cache; "
             f"open_cache({url!r}).dispose(); print('alembic' in sys.modules)")
    root = Path(__file__).resolve().parents[2]
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True,
                              check=True)
        assert done.stdout.strip() == "False"
    engine = open_cache(url)
    with engine.connect() as conn:
        assert conn.execute(VERSION).scalar_one() == head_revision()
        assert {"customers", "invoices", "sync_state", "realms"} <= set(sa.inspect(conn).get_table_names())
    engine.dispose()


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    # Every revision run in turn builds what the models declare: so a new cache, which open_cache
    # creates from the models and stamps at the head without running them, is what they would build.
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from qbsync.cache.models import Base
    from qbsync.cache.schema import alembic_config

    engine = make_engine(db_url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert conn.execute(VERSION).scalar_one() == head_revision()
    engine.dispose()
    assert diff == [], "models changed: run `python -m qbsync.cache.migrations.generate`"
    fresh = open_cache(db_url)  # already at the head: opened as it is
    with fresh.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    fresh.dispose()


def _index_definitions(url: str) -> dict[str, str]:
    """Every index as the database itself prints it, partial indexes' conditions included (Alembic's
    comparison does not look at those)."""
    engine = make_engine(url)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                        "AND sql IS NOT NULL")).all()
        else:
            rows = conn.execute(sa.text("SELECT indexname, indexdef FROM pg_indexes "
                                        "WHERE schemaname = current_schema()")).all()
    engine.dispose()
    # one database names its schema in the definition, the other another; SQLite keeps the text of
    # the CREATE statement as sent (quotes, spacing), so compare it normalised
    return {name: " ".join(sql.replace('"', "").split()).split(" ON ", 1)[1].split(".", 1)[-1]
            for name, sql in rows}


def test_migrated_and_new_caches_have_the_same_indexes(db_url: str, tmp_path: object) -> None:
    # A cache upgraded through the revisions and one created from the models have the same indexes,
    # down to a partial index's condition: an open-item index without its WHERE would hold every row
    # (and the reports read through it would read the whole history again).
    from pathlib import Path

    from alembic import command

    from qbsync.cache.schema import alembic_config
    from tests.conftest import pg_schema_url

    migrated = make_engine(db_url)
    with migrated.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    migrated.dispose()
    if db_url.startswith("sqlite"):
        new_url = f"sqlite:///{Path(str(tmp_path)) / 'new.sqlite3'}"
        open_cache(new_url).dispose()
        new = _index_definitions(new_url)
    else:
        with pg_schema_url() as new_url:
            open_cache(new_url).dispose()
            new = _index_definitions(new_url)
    old = _index_definitions(db_url)
    assert old == new
    assert all("WHERE" in new[f"ix_{t}_open"] for t in ("invoices", "credit_memos", "payments"))

def test_tables_made_by_create_schema_are_adopted(db_url: str) -> None:
    engine = make_engine(db_url)
    create_schema(engine)
    engine.dispose()
    engine = open_cache(db_url)
    with engine.connect() as conn:
        assert conn.execute(VERSION).scalar_one() == head_revision()
    engine.dispose()


def test_cache_from_a_newer_qbsync_is_refused(db_url: str) -> None:
    engine = open_cache(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_future'"))
    engine.dispose()
    with pytest.raises(SchemaTooNewError) as err:
        open_cache(db_url)
    assert "newer" in str(err.value) and "upgrade qbsync" in str(err.value)


def _cache_at(url: str, revision: str) -> sa.Engine:
    """A cache migrated only up to ``revision`` (as an older qbsync left it), holding company '1'."""
    from alembic import command

    from qbsync.cache.schema import alembic_config

    engine = make_engine(url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)
        conn.execute(sa.text("INSERT INTO realms (realm_id, created_at) VALUES ('1', :t)"),
                     {"t": "2025-01-01 00:00:00.000000" if engine.dialect.name == "sqlite"
                      else "2025-01-01T00:00:00+00:00"})
    return engine


def test_a_cache_at_the_first_revision_is_upgraded_on_open_and_keeps_its_rows(db_url: str) -> None:
    engine = _cache_at(db_url, "0001")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO invoices (realm_id, id, sync_token, raw, customer_id, txn_date, "
                             "total_amt, balance, voided) VALUES ('1', '7', '0', '{}', '3', '2025-01-02', "
                             "1250, 0, false)"))
    engine.dispose()
    engine = open_cache(db_url)
    with engine.connect() as conn:
        assert conn.execute(VERSION).scalar_one() == head_revision() != "0001"
        assert conn.execute(sa.text("SELECT customer_id FROM invoices WHERE id = '7'")).scalar_one() == "3"
    indexes = {ix["name"] for ix in sa.inspect(engine).get_indexes("invoices")}
    engine.dispose()
    assert "ix_invoices_customer_activity" in indexes


def test_adopted_tables_get_the_indexes_they_lack(db_url: str) -> None:
    engine = make_engine(db_url)
    create_schema(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX ix_invoices_customer_activity"))
    engine.dispose()
    engine = open_cache(db_url)
    indexes = {ix["name"] for ix in sa.inspect(engine).get_indexes("invoices")}
    engine.dispose()
    assert "ix_invoices_customer_activity" in indexes


def test_upgrading_to_0007_flags_the_voided_receipts_payments_and_credit_memos_already_cached(
        db_url: str) -> None:
    engine = _cache_at(db_url, "0006")
    with engine.begin() as conn:
        rows = [("sales_receipts", "1", 0, " Voided\t"), ("sales_receipts", "2", 1250, "Voided"),
                ("payments", "3", 0, "VOIDED by the bank"), ("payments", "4", 0, None),
                ("credit_memos", "5", 0, "voided"), ("credit_memos", "6", 0, "not voided")]
        for table, id_, total, note in rows:
            extra = {"payments": ", unapplied_amt", "credit_memos": ", balance"}.get(table, "")
            conn.execute(sa.text(f"INSERT INTO {table} (realm_id, id, sync_token, raw, customer_id, "
                                 f"txn_date, total_amt, private_note{extra}) VALUES ('1', :id, '0', '{{}}', "
                                 f"'3', '2025-01-02', :total, :note{', 0' if extra else ''})"),
                         {"id": id_, "total": total, "note": note})
    engine.dispose()
    engine = open_cache(db_url)
    with engine.connect() as conn:
        voided = {id_ for table in ("sales_receipts", "payments", "credit_memos")
                  for (id_,) in conn.execute(sa.text(f"SELECT id FROM {table} WHERE voided"))}
    engine.dispose()
    assert voided == {"1", "3", "5"}
