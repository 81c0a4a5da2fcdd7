"""The queue a webhook (or the schedule) puts sync requests on, and its in-process form for SQLite.

Both forms keep the same promises: per company at most one sync runs and at most one waits (per
kind); a request for a company that already has one waiting is coalesced into it (``request`` returns
False). The in-process queue lives in memory: what it held is rebuilt on start from the recorded
events (``Inbox.pending``), so a restart loses no change.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Protocol

from qbsync.fleet.runner import Outcome, SyncRequest

log = logging.getLogger(__name__)


class SyncQueue(Protocol):
    def request(self, req: SyncRequest) -> bool:
        """Queue ``req``; False when an equal request was already waiting (coalesced)."""
        ...

    def request_many(self, reqs: Sequence[SyncRequest]) -> int:
        """Queue each of ``reqs``; returns how many were queued (the others coalesced)."""
        ...

    def depth(self, realm_id: str | None = None) -> int:
        """Requests waiting (of one company, or all)."""
        ...


class InProcessQueue:
    """Threads in this process run the requests; one company never runs two syncs at once.

    ``perform`` returns an Outcome; ``retry`` outcomes are queued again ``retry_wait`` seconds later
    (a timer: the threads meanwhile sync other companies).
    """

    def __init__(self, perform: Callable[[SyncRequest], Outcome], *, concurrency: int = 1,
                 retry_wait: float = 30.0, on_outcome: Callable[[Outcome], None] | None = None) -> None:
        self._perform = perform
        self._concurrency = max(1, concurrency)
        self._retry_wait = retry_wait
        self._on_outcome = on_outcome
        self._waiting: OrderedDict[tuple[str, str], SyncRequest] = OrderedDict()
        self._running: set[str] = set()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.outcomes: list[Outcome] = []

    def request(self, req: SyncRequest) -> bool:
        key = (req.realm_id, req.kind)
        with self._cond:
            if key in self._waiting:
                if req.reason != "event":  # a scheduled request outranks an event's (never skipped)
                    self._waiting[key] = req
                return False
            self._waiting[key] = req
            self._cond.notify_all()
            return True

    def request_many(self, reqs: Sequence[SyncRequest]) -> int:
        return sum(1 for req in reqs if self.request(req))

    def depth(self, realm_id: str | None = None) -> int:
        with self._cond:
            return sum(1 for (realm, _) in self._waiting if realm_id is None or realm == realm_id)

    def running(self) -> set[str]:
        with self._cond:
            return set(self._running)

    def _next(self) -> SyncRequest | None:
        with self._cond:
            while not self._stop.is_set():
                for key, req in self._waiting.items():
                    if req.realm_id not in self._running:
                        del self._waiting[key]
                        self._running.add(req.realm_id)
                        return req
                self._cond.wait(0.5)
            return None

    def _done(self, req: SyncRequest) -> None:
        with self._cond:
            self._running.discard(req.realm_id)
            self._cond.notify_all()

    def run_one(self, req: SyncRequest) -> Outcome:
        try:
            outcome = self._perform(req)
        except Exception as exc:  # a bug must not kill the worker thread; the sweep re-queues the company
            log.exception("sync of realm %s failed unexpectedly", req.realm_id)
            outcome = Outcome(req, "failed", error=f"{type(exc).__name__}: {exc}")
        self.outcomes.append(outcome)
        if self._on_outcome is not None:
            self._on_outcome(outcome)
        return outcome

    def _loop(self) -> None:
        while True:
            req = self._next()
            if req is None:
                return
            try:
                outcome = self.run_one(req)
            finally:
                self._done(req)
            if outcome.retry and not self._stop.is_set():
                # Queued again later, on a timer: the thread goes on with other companies meanwhile.
                timer = threading.Timer(self._retry_wait, self._retry, args=(req,))
                timer.daemon = True
                timer.start()

    def _retry(self, req: SyncRequest) -> None:
        if not self._stop.is_set():
            self.request(req)

    def start(self) -> InProcessQueue:
        for i in range(self._concurrency):
            t = threading.Thread(target=self._loop, name=f"qbsync-sync-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def drain(self) -> list[Outcome]:
        """Run every waiting request in this thread (retries included once), then return their outcomes
        (``qbsync worker --once`` on SQLite, tests)."""
        done: list[Outcome] = []
        while True:
            with self._cond:
                if not self._waiting:
                    return done
                _, req = self._waiting.popitem(last=False)
            done.append(self.run_one(req))

    def stop(self, timeout: float | None = None) -> None:
        """Stop taking requests; a sync already running finishes (its transaction commits)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout)
        self._threads.clear()
