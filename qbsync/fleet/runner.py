"""One queued sync of one company: a CDC increment (or a reconcile), skipped when the cache already
holds every change its events announced, with the outcome classified for the queue (done, try later,
give up).

Whatever queue runs it (in-process or procrastinate), a sync is the ordinary ``run_sync``: it takes the
company's sync lock and commits its page bookmarks with its rows, so a sync killed half-way resumes
where it stopped when the job runs again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from qbsync.auth.tokens import TokenStore
from qbsync.clock import Clock, SystemClock
from qbsync.errors import ApiError, AuthError, CacheError, LockedError, QbsyncError
from qbsync.fleet.inbox import Inbox
from qbsync.qbo.gateway import QboGateway
from qbsync.settings import Settings
from qbsync.sync.runner import SyncSummary, run_sync

log = logging.getLogger(__name__)

CDC = "cdc"
FULL = "full"
KINDS = (CDC, FULL)
#: why a sync was asked for: an event (skipped when the cache is already current), the schedule, a person
EVENT = "event"
SCHEDULE = "schedule"
MANUAL = "manual"
#: how long a sync that found the company busy or QuickBooks failing waits before it is tried again
RETRY_AFTER = timedelta(seconds=30)

Connect = Callable[[Settings, str, Clock], QboGateway]


@dataclass(frozen=True)
class SyncRequest:
    realm_id: str
    kind: str = CDC
    reason: str = EVENT

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown sync kind {self.kind!r}")


@dataclass
class Outcome:
    """What became of one request: ``synced``, ``skipped`` (cache already current), ``busy`` (another
    sync of the company holds its lock), or ``failed``; ``retry`` says whether trying later can help."""

    request: SyncRequest
    status: str
    summary: SyncSummary | None = None
    error: str | None = None
    retry: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"realm_id": self.request.realm_id, "kind": self.request.kind, "reason": self.request.reason,
                "status": self.status, "error": self.error, "retry": self.retry,
                "summary": self.summary.to_json() if self.summary else None}


def default_connect(settings: Settings, realm_id: str, clock: Clock,
                    store: TokenStore | None = None) -> QboGateway:
    from qbsync.qbo.client import connect

    gateway: QboGateway = connect(settings, realm_id, clock=clock, token_store=store)
    return gateway


def retriable(exc: QbsyncError) -> bool:
    """Worth trying later: QuickBooks throttling or failing, the company busy, the cache unreachable.
    Not: a connection that needs `qbsync auth login`, bad settings, bad input."""
    if isinstance(exc, AuthError):
        return False
    return isinstance(exc, LockedError | CacheError) or (isinstance(exc, ApiError) and exc.retriable)


class SyncExecutor:
    """Runs sync requests against one cache; shared by the in-process queue and the fleet's workers."""

    def __init__(self, settings: Settings, engine: sa.Engine, *, connect: Connect | None = None,
                 clock: Clock | None = None, workers: int | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.inbox = Inbox(engine)
        self.clock = clock or SystemClock()
        self._connect = connect or default_connect
        self.workers = workers or min(10, settings.limits.max_concurrent)

    def perform(self, request: SyncRequest) -> Outcome:
        realm = request.realm_id
        if request.reason == EVENT and request.kind == CDC and not self.inbox.is_pending(realm):
            log.info("realm %s: the cache already holds every announced change; no sync", realm)
            return Outcome(request, "skipped")
        started = self.clock.now()
        # Every event committed by now announced a change made before this sync reads QuickBooks.
        through = self.inbox.last_seq(realm)
        try:
            gateway = self._connect(self.settings, realm, self.clock)
            try:
                summary = run_sync(self.engine, gateway, realm, full=request.kind == FULL, clock=self.clock,
                                   workers=self.workers)
            finally:
                close = getattr(gateway, "close", None)
                if callable(close):
                    close()
        except LockedError as exc:
            log.info("realm %s: %s; trying again later", realm, exc.message)
            self.inbox.note_sync(realm, outcome="busy", started_at=started, finished_at=self.clock.now(),
                                 error=exc.message)
            return Outcome(request, "busy", error=exc.message, retry=True)
        except QbsyncError as exc:
            again = retriable(exc)
            log.warning("realm %s: %s sync failed%s: %s", realm, request.kind,
                        " (will try again)" if again else "", exc.message)
            self.inbox.note_sync(realm, outcome="failed", started_at=started, finished_at=self.clock.now(),
                                 error=exc.message)
            return Outcome(request, "failed", error=exc.message, retry=again)
        self.inbox.note_sync(realm, outcome="synced", started_at=started, finished_at=self.clock.now(),
                             through=through)
        log.info("realm %s: %s sync (%s) fetched %d, %d requests, %.1f s", realm, request.kind,
                 request.reason, summary.fetched, summary.requests, summary.duration_s)
        return Outcome(request, "synced", summary=summary)
