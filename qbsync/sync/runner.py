"""One sync run of one realm: decide full pass or CDC per entity, run them under the realm's lock,
move the bookmarks, and return the closing summary.

Rules kept here:
- the cursor never passes the server time at which the run began (the first response's ``time``);
- a full pass is followed by CDC from the pass's start (minus the overlap), so nothing changed while
  paging is missed, and ends by deleting the rows it did not see (that is the reconcile);
- a cursor older than CDC's 30-day window (by the injected clock, or by QBO's refusal) means a
  full pass; a pass in progress is always resumed, even with ``--full``;
- after a pass during which rows were deleted (or a resumed pass), COUNT(*) must equal the cache's
  count; otherwise rows slid across a page boundary and the pass is run again (at most twice).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from qbsync.cache.locks import sync_lock
from qbsync.cache.models import ENTITY_MODELS
from qbsync.clock import Clock, SystemClock
from qbsync.errors import ApiError, InputError, QbsyncError
from qbsync.qbo.gateway import JsonDict, Page, QboGateway
from qbsync.sync.full import count_where, page_statement, run_passes
from qbsync.sync.incremental import CDC_MAX_AGE, fetch_changes, is_too_old
from qbsync.sync.progress import NoProgress, Progress
from qbsync.sync.state import EntityCounts, Finalize, PassState, SyncStore

log = logging.getLogger(__name__)

DEFAULT_OVERLAP = timedelta(minutes=5)
DEFAULT_WORKERS = 4
#: margin under CDC's 30 days, so a cursor that is barely young enough is not refused mid-run
AGE_MARGIN = timedelta(hours=1)
MAX_ROUNDS = 3
COMPANY_MAX_AGE = timedelta(days=1)


@dataclass
class SyncSummary:
    """The closing summary of one run (also the ``--json`` output)."""

    realm_id: str
    entities: dict[str, EntityCounts] = field(default_factory=dict)
    full: list[str] = field(default_factory=list)  # entities that had a full pass (or resumed one)
    incremental: list[str] = field(default_factory=list)
    requests: int = 0
    throttles: int = 0
    retries: int = 0
    duration_s: float = 0.0
    cursor: datetime | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def fetched(self) -> int:
        return sum(c.fetched for c in self.entities.values())

    @property
    def changed(self) -> int:
        return sum(c.changed for c in self.entities.values())

    @property
    def deleted(self) -> int:
        return sum(c.deleted for c in self.entities.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "realm_id": self.realm_id, "fetched": self.fetched, "changed": self.changed,
            "deleted": self.deleted, "requests": self.requests, "throttles": self.throttles,
            "retries": self.retries, "duration_s": round(self.duration_s, 3),
            "cursor": self.cursor.isoformat() if self.cursor else None,
            "full": self.full, "incremental": self.incremental, "warnings": self.warnings,
            "entities": {e: asdict(c) for e, c in self.entities.items()},
        }

    def text(self) -> str:
        lines = [f"realm {self.realm_id}: fetched {self.fetched:,}, changed {self.changed:,}, "
                 f"deleted {self.deleted:,}; {self.requests:,} requests, {self.throttles} throttled, "
                 f"{self.duration_s:.1f} s"]
        for e, c in self.entities.items():
            mode = "full" if e in self.full else "cdc"
            lines.append(f"  {e:<13} {mode:<4} fetched {c.fetched:>8,}  changed {c.changed:>8,}  "
                         f"deleted {c.deleted:>6,}")
        lines.extend(f"  warning: {w}" for w in self.warnings)
        return "\n".join(lines)


def select_entities(names: Sequence[str] | None) -> list[str]:
    """ENTITY_MODELS order, restricted to ``names`` (case-insensitive); unknown names are an InputError."""
    if not names:
        return list(ENTITY_MODELS)
    lookup = {e.lower(): e for e in ENTITY_MODELS}
    unknown = [n for n in names if n.lower() not in lookup]
    if unknown:
        raise InputError(f"unknown entity {', '.join(unknown)}",
                         hint=f"choose from {', '.join(ENTITY_MODELS)}")
    wanted = {lookup[n.lower()] for n in names}
    return [e for e in ENTITY_MODELS if e in wanted]


def run_sync(engine: sa.Engine, gateway: QboGateway, realm_id: str | None = None, *, full: bool = False,
             entities: Sequence[str] | None = None, clock: Clock | None = None,
             workers: int = DEFAULT_WORKERS, overlap: timedelta = DEFAULT_OVERLAP,
             progress: Progress | None = None) -> SyncSummary:
    """Mirror one realm into the cache (full pass or CDC per entity) under the realm's sync lock.

    Raises LockedError at once when another sync of the realm holds the lock.
    """
    realm = realm_id or gateway.realm_id
    with sync_lock(engine, realm):
        return _Run(engine, gateway, realm, select_entities(entities), full, clock or SystemClock(),
                    workers, overlap, progress or NoProgress()).run()


class _Run:
    def __init__(self, engine: sa.Engine, gateway: QboGateway, realm_id: str, selected: list[str], full: bool,
                 clock: Clock, workers: int, overlap: timedelta, progress: Progress) -> None:
        self.gateway = gateway
        self.store = SyncStore(engine, realm_id)
        self.selected = selected
        self.full = full
        self.clock = clock
        self.workers = workers
        self.overlap = overlap
        self.progress = progress
        self.summary = SyncSummary(realm_id)
        self.t_run: datetime | None = None

    def run(self) -> SyncSummary:
        began = time.monotonic()
        stats = self.gateway.stats
        req0, thr0, ret0 = stats.requests, stats.throttled, stats.retries
        now = self.clock.now()
        self.store.ensure_realm(now)
        try:
            self._refresh_company(now)
            forced = set(self.selected) if self.full else set()
            todo = list(self.selected)
            for round_no in range(MAX_ROUNDS):
                forced, todo = self._round(todo, forced, round_no)
                if not todo:
                    break
            else:
                self.summary.warnings.append(
                    f"{', '.join(todo)}: QuickBooks' row count kept differing from the cache "
                    "(changes during the sync?); the next run checks again")
        except QbsyncError as exc:
            self.store.record_error(self.selected, str(exc), self.clock.now())
            raise
        finally:
            self.summary.requests = stats.requests - req0
            self.summary.throttles = stats.throttled - thr0
            self.summary.retries = stats.retries - ret0
            self.summary.duration_s = time.monotonic() - began
        self.summary.cursor = self.t_run
        return self.summary

    def _refresh_company(self, now: datetime) -> None:
        """CompanyInfo + Preferences (2 requests): on ``--full`` runs, when never read, and otherwise
        at most once a day, so the usual 15-minute CDC run stays at its minimum of requests."""
        fetched = self.store.company_fetched_at()
        if not self.full and fetched is not None and now - fetched < COMPANY_MAX_AGE:
            return
        info = self.gateway.company_info()
        prefs = self.gateway.preferences()
        self.store.save_company(info, prefs, now)

    def _counts(self) -> dict[str, EntityCounts]:
        return self.summary.entities

    def _round(self, entities: list[str], forced: set[str], round_no: int) -> tuple[set[str], list[str]]:
        """Run passes and CDC for ``entities``; returns (entities to force, entities for another round)."""
        now = self.clock.now()
        window = CDC_MAX_AGE - AGE_MARGIN
        marks = self.store.bookmarks()
        resumed: dict[str, PassState] = {}
        new: list[str] = []
        since: dict[str, datetime] = {}
        for e in entities:
            b = marks.get(e)
            if b is not None and b.full_sync_started_at is not None and now - b.full_sync_started_at < window:
                resumed[e] = PassState(e, b.full_sync_started_at, b.full_sync_total,
                                       set(b.full_sync_pages or []))
            elif e in forced or b is None or b.cursor is None or now - b.cursor >= window \
                    or b.full_sync_started_at is not None:
                new.append(e)
            else:
                since[e] = b.cursor - self.overlap

        passes: dict[str, PassState] = dict(resumed)
        first: tuple[str, Page] | None = None
        if new:
            page = self.gateway.query(page_statement(new[0], 1))
            self._saw(page.server_time)
            first = (new[0], page)
            for e in new:
                passes[e] = self.store.start_pass(e, page.server_time, now)
        for e in passes:
            if e not in self.summary.full:
                self.summary.full.append(e)
        for e in since:
            if e not in self.summary.incremental and e not in self.summary.full:
                self.summary.incremental.append(e)
        for e in entities:
            self._counts().setdefault(e, EntityCounts())
        ordered = {e: passes[e] for e in entities if e in passes}
        seen_at = self._seen_at(ordered)
        if ordered:
            run_passes(self.gateway, self.store, ordered, seen_at, self._counts(), self.progress,
                       self.workers, first=first)

        for e, p in ordered.items():
            since[e] = p.started_at - self.overlap
        since = {e: since[e] for e in entities if e in since}
        deletes_seen: set[str] = set()

        def apply(changes: dict[str, list[JsonDict]], server_time: datetime, last: bool) -> None:
            self._saw(server_time)
            assert self.t_run is not None
            fin = None
            if last:
                fin = Finalize(entities=list(since), passes={e: p.started_at for e, p in ordered.items()},
                               cursor=self.t_run, now=self.clock.now())
            self.store.apply_changes(changes, self._seen_at(ordered), self._counts(), deletes_seen, fin)

        try:
            fetch_changes(self.gateway, since, apply)
        except ApiError as exc:
            if not is_too_old(exc):
                raise
            # QBO's clock says the window has passed: reconcile everything of this round by full pass.
            log.info("CDC refused the cursor as older than 30 days; running a full reconcile")
            return set(entities), list(entities)

        recheck = [e for e in ordered if e in deletes_seen or e in resumed]
        again: list[str] = []
        for e in recheck:
            remote = self.gateway.count(e, count_where(e))
            local = self.store.local_count(e)
            if remote != local:
                log.info("%s: QuickBooks counts %d rows, the cache %d; running the pass again",
                         e, remote, local)
                again.append(e)
        if round_no + 1 < MAX_ROUNDS and again:
            self.progress.note(f"re-checking {', '.join(again)} (rows moved while paging)")
        return set(again), again

    def _saw(self, server_time: datetime) -> None:
        if self.t_run is None:
            self.t_run = server_time

    def _seen_at(self, passes: dict[str, PassState]) -> datetime:
        """A row stamp no earlier than any pass's start, so the end of a pass keeps what it wrote."""
        stamps = [p.started_at for p in passes.values()]
        if self.t_run is not None:
            stamps.append(self.t_run)
        return max(stamps) if stamps else self.clock.now()
