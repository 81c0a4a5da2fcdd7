"""The sync's side of the cache: bookmarks (SyncState) and the transactions that write rows with them.

Every write here is one transaction that carries the rows AND the bookmark that covers them, so a
kill at any instant leaves a cache whose bookmarks never claim more than the rows hold.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from qbsync.cache.mapping import is_deleted_stub, parse_time
from qbsync.cache.models import ENTITIES, Realm, SyncState
from qbsync.cache.upsert import (
    Written,
    count_rows,
    delete_objects,
    delete_unseen,
    has_rows,
    table,
    write_json,
    write_objects,
)
from qbsync.qbo.gateway import JsonDict, Page

STATE = table(SyncState.__tablename__)
REALMS = table(Realm.__tablename__)
#: key qbsync adds to the stored CompanyInfo document: when it was read (ISO 8601, UTC)
FETCHED_AT_KEY = "qbsyncFetchedAt"


#: rows per page of a full pass (QBO's MAXRESULTS ceiling)
PAGE_SIZE = 1000


def _count(counts: EntityCounts, written: Written) -> None:
    counts.fetched += written.fetched
    counts.changed += written.changed


@dataclass
class EntityCounts:
    """What one run did to one entity (the closing summary's rows)."""

    fetched: int = 0
    changed: int = 0
    deleted: int = 0
    requests: int = 0


@dataclass
class PassState:
    """Where a full pass of one entity stands (resumable across runs)."""

    entity: str
    started_at: datetime
    total: int | None = None
    pages: set[int] = field(default_factory=set)
    #: the cache held no row of the entity when this run started the pass, so none can be unseen
    #: (every row since carries the pass's stamp or a later one) and the pass's end deletes nothing
    fresh: bool = False


@dataclass
class Bookmark:
    entity: str
    cursor: datetime | None
    full_sync_started_at: datetime | None
    full_sync_total: int | None
    full_sync_pages: list[int] | None
    full_sync_done_at: datetime | None
    row_count: int = 0


class SyncStore:
    """Reads and writes of one realm's mirrored rows and bookmarks."""

    def __init__(self, engine: sa.Engine, realm_id: str) -> None:
        self.engine = engine
        self.realm_id = realm_id
        self._bookmark_lock = threading.Lock()

    @property
    def concurrent_writers(self) -> int:
        """Page writers worth running at once: SQLite has one writer; PostgreSQL maps pages in its
        server processes, one backend per writer, so four keep a small server's cores busy even when
        other work shares them (the bookmark commit stays serialised; the rows are not)."""
        return 4 if self.engine.dialect.name == "postgresql" else 1

    # ---- realm and bookmarks ----

    def ensure_realm(self, now: datetime, company_info: JsonDict | None = None) -> None:
        realms = REALMS
        with self.engine.begin() as conn:
            mine = realms.c.realm_id == self.realm_id
            have = conn.execute(sa.select(realms.c.realm_id).where(mine)).first()
            if have is None:
                conn.execute(realms.insert().values(realm_id=self.realm_id, created_at=now))
            if company_info:
                self._set_company(conn, company_info, None, None)

    def company_fetched_at(self) -> datetime | None:
        """When CompanyInfo was last read from QuickBooks (None: never, or the name is missing)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(REALMS.c.company_name, REALMS.c.raw_company_info).where(
                REALMS.c.realm_id == self.realm_id)).first()
        if row is None or not row.company_name or not isinstance(row.raw_company_info, dict):
            return None
        stamp = row.raw_company_info.get(FETCHED_AT_KEY)
        return parse_time(stamp) if isinstance(stamp, str) else None

    def save_company(self, company_info: JsonDict, preferences: JsonDict, fetched_at: datetime) -> None:
        """CompanyInfo and Preferences as just read, in one short transaction."""
        with self.engine.begin() as conn:
            self._set_company(conn, company_info, preferences, fetched_at)

    def _set_company(self, conn: sa.Connection, info: JsonDict, prefs: JsonDict | None,
                     fetched_at: datetime | None) -> None:
        addr = info.get("CompanyAddr")
        addr = addr if isinstance(addr, dict) else {}
        values: dict[str, object] = dict(company_name=info.get("CompanyName"),
                                         country=info.get("Country") or addr.get("Country"),
                                         raw_company_info=dict(info))
        if fetched_at is not None:
            values["raw_company_info"] = {**info, FETCHED_AT_KEY: fetched_at.isoformat()}
        if prefs is not None:
            currency = ((prefs.get("CurrencyPrefs") or {}).get("HomeCurrency") or {})
            values.update(raw_preferences=dict(prefs),
                          currency=currency.get("value") if isinstance(currency, dict) else None)
        conn.execute(REALMS.update().where(REALMS.c.realm_id == self.realm_id).values(**values))

    def bookmarks(self) -> dict[str, Bookmark]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(STATE).where(STATE.c.realm_id == self.realm_id)).mappings().all()
        return {r["entity"]: Bookmark(r["entity"], r["cursor"], r["full_sync_started_at"],
                                      r["full_sync_total"], r["full_sync_pages"], r["full_sync_done_at"],
                                      int(r["row_count"] or 0))
                for r in rows}

    def _set_state(self, conn: sa.Connection, entity: str, **values: object) -> None:
        where = (STATE.c.realm_id == self.realm_id) & (STATE.c.entity == entity)
        if conn.execute(sa.select(STATE.c.entity).where(where)).first() is None:
            conn.execute(STATE.insert().values(realm_id=self.realm_id, entity=entity, row_count=0, **values))
        else:
            conn.execute(STATE.update().where(where).values(**values))

    def start_passes(self, entities: Sequence[str], started_at: datetime, now: datetime,
                     totals: dict[str, int]) -> dict[str, PassState]:
        """New passes of ``entities`` (sized by ``totals`` where known), in one transaction."""
        if not entities:
            return {}
        with self.engine.begin() as conn:
            empty = {e for e in entities if not has_rows(conn, e, self.realm_id)}
            for entity in entities:
                self._set_state(conn, entity, full_sync_started_at=started_at,
                                full_sync_total=totals.get(entity), full_sync_pages=[],
                                full_sync_done_at=None, last_run_at=now)
        return {e: PassState(e, started_at, totals.get(e), fresh=e in empty) for e in entities}

    def record_error(self, entities: Iterable[str], message: str, now: datetime,
                     requests: dict[str, int] | None = None) -> None:
        with self.engine.begin() as conn:
            for entity in entities:
                self._set_state(conn, entity, last_error=message[:2000], last_run_at=now,
                                **({"last_run_requests": requests.get(entity, 0)} if requests else {}))

    def record_requests(self, requests: dict[str, int], total: int) -> None:
        """What the run just ended cost: requests per entity, and in all (``qbsync status``)."""
        with self.engine.begin() as conn:
            for entity, n in requests.items():
                self._set_state(conn, entity, last_run_requests=n)
            conn.execute(REALMS.update().where(REALMS.c.realm_id == self.realm_id)
                         .values(last_sync_requests=total))

    # ---- rows ----

    def _write(self, conn: sa.Connection, entity: str, objects: Sequence[JsonDict], seen_at: datetime,
               counts: EntityCounts) -> bool:
        """Upsert live objects, delete stubbed ones; True when anything was deleted."""
        live = [o for o in objects if not is_deleted_stub(o)]
        gone = [str(o["Id"]) for o in objects if is_deleted_stub(o)]
        _count(counts, write_objects(conn, entity, self.realm_id, live, seen_at))
        counts.fetched += len(gone)
        removed = delete_objects(conn, entity, self.realm_id, gone)
        counts.deleted += removed
        return bool(gone)

    def write_page(self, p: PassState, page_no: int, page: Page, seen_at: datetime,
                   counts: EntityCounts) -> int:
        """One page of a full pass and the pass's progress, in one transaction; returns its row count.

        Safe to call from several threads (PostgreSQL writes pages concurrently): the rows are written
        in parallel, while the bookmark update and commit are serialised, so the page list a
        transaction commits holds only pages already committed plus its own."""
        document, path = page.json_array()
        with self.engine.connect() as conn, conn.begin() as trans:
            if conn.dialect.name == "postgresql":
                # A page does not wait for its WAL to reach the disk: should the server crash, the page
                # is lost together with the bookmark that claims it (one transaction), and the next run
                # fetches it again. The run's last transaction (the cursor) commits durably, which
                # flushes every page before it.
                conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            written = write_json(conn, p.entity, self.realm_id, document, path, seen_at)
            with self._bookmark_lock:
                self._set_state(conn, p.entity, full_sync_pages=sorted(p.pages | {page_no}),
                                full_sync_total=p.total)
                trans.commit()
                p.pages.add(page_no)
                _count(counts, written)
        return written.fetched

    def set_total(self, p: PassState, total: int) -> None:
        with self.engine.begin() as conn, self._bookmark_lock:
            self._set_state(conn, p.entity, full_sync_total=total)
            p.total = total

    def apply_changes(self, changes: dict[str, list[JsonDict]], seen_at: datetime,
                      counts: dict[str, EntityCounts], deletes_seen: set[str],
                      finalize: Finalize | None = None) -> None:
        """One CDC answer (or query catch-up page); with ``finalize``, the bookmarks move in the same
        transaction."""
        with self.engine.begin() as conn:
            for entity, objects in changes.items():
                if entity not in ENTITIES or not objects:
                    continue
                if self._write(conn, entity, objects, seen_at, counts.setdefault(entity, EntityCounts())):
                    deletes_seen.add(entity)
            if finalize is not None:
                self._finalize(conn, finalize, counts)

    def _finalize(self, conn: sa.Connection, f: Finalize, counts: dict[str, EntityCounts]) -> None:
        for entity, started in f.passes.items():
            if entity in f.fresh:
                continue
            gone = delete_unseen(conn, entity, self.realm_id, started)
            counts.setdefault(entity, EntityCounts()).deleted += gone
        for entity in f.entities:
            values: dict[str, object] = dict(
                cursor=f.cursor, last_success_at=f.now, last_run_at=f.now, last_error=None,
                row_count=count_rows(conn, entity, self.realm_id))
            if entity in f.passes:
                values.update(full_sync_started_at=None, full_sync_total=None, full_sync_pages=None,
                              full_sync_done_at=f.cursor)
            self._set_state(conn, entity, **values)

    def finalize(self, f: Finalize, counts: dict[str, EntityCounts]) -> None:
        with self.engine.begin() as conn:
            self._finalize(conn, f, counts)

    def local_count(self, entity: str) -> int:
        with self.engine.connect() as conn:
            return count_rows(conn, entity, self.realm_id)


@dataclass
class Finalize:
    """Bookmarks to commit with the last rows of a run: the new cursor of ``entities``, and the end of
    the full passes in ``passes`` (entity -> pass start; rows not seen since then are deleted)."""

    entities: list[str]
    passes: dict[str, datetime]
    cursor: datetime
    now: datetime
    #: passes that began on an empty table: nothing of theirs can be unseen
    fresh: set[str] = field(default_factory=set)
