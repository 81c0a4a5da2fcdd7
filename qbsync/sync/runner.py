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
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from qbsync.cache.db import refresh_statistics
from qbsync.cache.locks import sync_lock
from qbsync.cache.models import ENTITIES, ENTITY_MODELS
from qbsync.clock import Clock, SystemClock
from qbsync.errors import ApiError, InputError, QbsyncError
from qbsync.qbo.gateway import JsonDict, QboGateway, QueryAnswers, RequestStats
from qbsync.sync.full import Begun, count_statement, run_passes
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
#: the company's documents, read in the run's first batch request
COMPANY_STATEMENTS = ("SELECT * FROM CompanyInfo", "SELECT * FROM Preferences")


@dataclass
class SyncSummary:
    """The closing summary of one run (also the ``--json`` output)."""

    realm_id: str
    entities: dict[str, EntityCounts] = field(default_factory=dict)
    full: list[str] = field(default_factory=list)  # entities that had a full pass (or resumed one)
    incremental: list[str] = field(default_factory=list)
    requests: int = 0
    #: requests that named several entities (a CDC of several, the opening batch of COUNTs and company
    #: reads); every other request is counted under its entity, so the two add up to ``requests``
    shared_requests: int = 0
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
            "deleted": self.deleted, "requests": self.requests, "shared_requests": self.shared_requests,
            "throttles": self.throttles,
            "retries": self.retries, "duration_s": round(self.duration_s, 3),
            "cursor": self.cursor.isoformat() if self.cursor else None,
            "full": self.full, "incremental": self.incremental, "warnings": self.warnings,
            "entities": {e: asdict(c) for e, c in self.entities.items()},
        }

    def text(self) -> str:
        shared = f" ({self.shared_requests:,} shared by several entities)" if self.shared_requests else ""
        lines = [f"realm {self.realm_id}: fetched {self.fetched:,}, changed {self.changed:,}, "
                 f"deleted {self.deleted:,}; {self.requests:,} requests{shared}, {self.throttles} throttled, "
                 f"{self.duration_s:.1f} s"]
        for e, c in self.entities.items():
            mode = "full" if e in self.full else "cdc"
            lines.append(f"  {e:<13} {mode:<4} fetched {c.fetched:>8,}  changed {c.changed:>8,}  "
                         f"deleted {c.deleted:>6,}  requests {c.requests:>5,}")
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
        by0 = dict(stats.by_entities)
        now = self.clock.now()
        self.store.ensure_realm(now)
        self.company_due = self._company_due(now)
        try:
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
            self._tally(stats, req0, thr0, ret0, by0, began)
            self.store.record_error(self.selected, str(exc), self.clock.now(), self._per_entity())
            raise
        self._tally(stats, req0, thr0, ret0, by0, began)
        self.store.record_requests(self._per_entity(), self.summary.requests)
        if self.summary.full:
            # tables a full pass has just filled (its line tables hold at least as many rows): the
            # reports that run next (a cron job's, the demo's) are planned with statistics on
            # PostgreSQL, not as for a few rows
            written: Counter[str] = Counter()
            for e in self.summary.full:
                rows = self.summary.entities[e].fetched if e in self.summary.entities else 0
                for table in (ENTITIES[e].table, *(c.table for c in ENTITIES[e].children)):
                    written[table] += rows  # sales lines come from several entities
            refresh_statistics(self.store.engine, written)
        self.summary.cursor = self.t_run
        return self.summary

    def _tally(self, stats: RequestStats, req0: int, thr0: int, ret0: int,
               by0: dict[tuple[str, ...], int], began: float) -> None:
        """The run's requests: in all, and per entity for those that named one entity alone (a page,
        a COUNT, a CDC or batch of that entity only); the others (a CDC or batch of several, the
        company reads) are ``shared_requests``."""
        self.summary.requests = stats.requests - req0
        self.summary.throttles = stats.throttled - thr0
        self.summary.retries = stats.retries - ret0
        self.summary.duration_s = time.monotonic() - began
        per_entity = 0
        for key, n in stats.by_entities.items():
            n -= by0.get(key, 0)
            if n and len(key) == 1 and key[0] in self.summary.entities:
                self.summary.entities[key[0]].requests = n
                per_entity += n
        self.summary.shared_requests = self.summary.requests - per_entity

    def _per_entity(self) -> dict[str, int]:
        return {e: c.requests for e, c in self.summary.entities.items()}

    def _company_due(self, now: datetime) -> bool:
        """CompanyInfo + Preferences: on ``--full`` runs, when never read, and otherwise at most once a
        day, so the usual 15-minute CDC run stays at its minimum of requests."""
        fetched = self.store.company_fetched_at()
        return self.full or fetched is None or now - fetched >= COMPANY_MAX_AGE

    def _company_statements(self) -> list[str]:
        """The company reads, asked in the first batch of the run (once per run)."""
        if not self.company_due:
            return []
        self.company_due = False
        return list(COMPANY_STATEMENTS)

    def _save_company(self, answers: QueryAnswers, first: int) -> None:
        self.store.save_company(answers.first(first, "CompanyInfo"), answers.first(first + 1, "Preferences"),
                                self.clock.now())

    def _counts(self) -> dict[str, EntityCounts]:
        return self.summary.entities

    def _round(self, entities: list[str], forced: set[str], round_no: int) -> tuple[set[str], list[str]]:
        """Run passes and CDC for ``entities``; returns (entities to force, entities for another round)."""
        now = self.clock.now()
        window = CDC_MAX_AGE - AGE_MARGIN
        marks = self.store.bookmarks()
        rows = {e: b.row_count for e, b in marks.items()}
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

        for e in [*resumed, *new]:
            if e not in self.summary.full:
                self.summary.full.append(e)
        for e in since:
            if e not in self.summary.incremental and e not in self.summary.full:
                self.summary.incremental.append(e)
        for e in entities:
            self._counts().setdefault(e, EntityCounts())

        ordered: dict[str, PassState] = {}
        deletes_seen: set[str] = set()
        to_size = [*new, *(e for e, p in resumed.items() if p.total is None)]
        company = self._company_statements()
        sizes = [*(count_statement(e) for e in to_size), *company]

        def begin(began: datetime | None, answers: QueryAnswers | None) -> Begun:
            """The round's first answers are in: start the new passes at the run's first server time,
            size the passes, keep the company's documents."""
            if began is not None:
                self._saw(began)
            totals = {e: answers.total(i) for i, e in enumerate(to_size)} if answers is not None else {}
            passes = dict(resumed)
            started = self.store.start_passes(new, began or self.clock.now(), now, totals)
            passes.update(started)
            for e, p in resumed.items():
                if p.total is None and e in totals:
                    self.store.set_total(p, totals[e])
            if company and answers is not None:
                self._save_company(answers, len(to_size))
            ordered.update((e, passes[e]) for e in entities if e in passes)
            return Begun(ordered, self._seen_at(ordered))

        def apply(changes: dict[str, list[JsonDict]], server_time: datetime, last: bool) -> None:
            self._saw(server_time)
            assert self.t_run is not None
            fin = None
            if last:
                fin = Finalize(entities=list(since), passes={e: p.started_at for e, p in ordered.items()},
                               cursor=self.t_run, now=self.clock.now(),
                               fresh={e for e, p in ordered.items() if p.fresh})
            self.store.apply_changes(changes, self._seen_at(ordered), self._counts(), deletes_seen, fin)

        def catch_up(wait_written: Callable[[], None]) -> None:
            for e, p in ordered.items():
                since[e] = p.started_at - self.overlap
            chosen = {e: since[e] for e in entities if e in since}
            since.clear()
            since.update(chosen)

            def apply_after_pages(changes: dict[str, list[JsonDict]], server_time: datetime,
                                  last: bool) -> None:
                wait_written()
                apply(changes, server_time, last)

            fetch_changes(self.gateway, since, apply_after_pages, rows)

        try:
            if resumed or new:
                run_passes(self.gateway, self.store, resumed=resumed, new=new, sizes=sizes, begin=begin,
                           catch_up=catch_up, counts=self._counts(), progress=self.progress,
                           workers=self.workers,
                           last_rows={e: b.row_count for e, b in marks.items() if b.cursor is not None})
            else:
                if company:
                    answers = self.gateway.queries(company)
                    self._saw(answers.server_time)
                    self._save_company(answers, 0)
                fetch_changes(self.gateway, since, apply, rows)
        except ApiError as exc:
            if not is_too_old(exc):
                raise
            # QBO's clock says the window has passed: reconcile everything of this round by full pass.
            log.info("CDC refused the cursor as older than 30 days; running a full reconcile")
            return set(entities), list(entities)

        recheck = [e for e in ordered if e in deletes_seen or e in resumed]
        again: list[str] = []
        if recheck:
            remote = self.gateway.queries([count_statement(e) for e in recheck])
            for i, e in enumerate(recheck):
                local = self.store.local_count(e)
                if remote.total(i) != local:
                    log.info("%s: QuickBooks counts %d rows, the cache %d; running the pass again",
                             e, remote.total(i), local)
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
