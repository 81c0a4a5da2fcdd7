"""The fleet's queue and workers on procrastinate (PostgreSQL): no new service to run, and its locks
are exactly the promises the fleet makes.

- Every sync is a job of task ``qbsync.sync_realm`` with ``lock = qbsync-sync:<realm>``: PostgreSQL
  lets one worker at a time (on any machine) hold a company's running job;
  ``queueing_lock = qbsync-<kind>:<realm>``: at most one job of a kind waits per company, so a
  burst of events coalesces (a second defer raises AlreadyEnqueued and is counted as coalesced).
- ``qbsync.tick`` is a periodic task (every minute, deferred once per minute for the whole fleet):
  it queues the scheduled syncs (``schedule.due``), re-queues companies whose recorded events no sync
  has covered (a sync lost between recording and queueing), recovers the jobs of killed workers, and
  forgets old events.
- A killed worker: its job stays ``doing``. Each running sync holds a PostgreSQL session lock named
  after its job id; the server drops it when the worker's connection dies. The tick (and every worker
  on start) finds ``doing`` jobs whose lock is free, queues the same sync again and marks the dead job
  failed. The new job resumes from the page bookmarks the killed one committed.
- A retriable failure (the company busy, QuickBooks throttling or down) is not retried through
  procrastinate's retry (it would collide with a waiting job's queueing lock): the job ends and
  defers the same sync ``RETRY_AFTER`` later, coalesced like any other request.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from qbsync.clock import Clock, SystemClock
from qbsync.fleet.inbox import DEFAULT_RETENTION, Inbox
from qbsync.fleet.runner import EVENT, KINDS, RETRY_AFTER, SCHEDULE, Outcome, SyncExecutor, SyncRequest
from qbsync.fleet.schedule import DEFAULT_EVERY, DEFAULT_RECONCILE, due, realm_marks

log = logging.getLogger(__name__)

QUEUE = "qbsync"
SYNC_TASK = "qbsync.sync_realm"
TICK_TASK = "qbsync.tick"
#: queueing at least this many syncs at once refreshes the planner's statistics of the jobs table
ANALYZE_AFTER = 50


def conninfo(cache_url: str) -> str:
    """The libpq URL of a ``postgresql+psycopg://`` cache URL (query options such as search_path kept)."""
    url = sa.engine.make_url(cache_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError("the fleet's queue needs a PostgreSQL cache")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def queueing_lock(req: SyncRequest) -> str:
    """At most one job with this lock waits: one waiting sync per company and kind."""
    return f"qbsync-{req.kind}:{req.realm_id}"


def job_lock_key(schema: str, job_id: int) -> int:
    digest = hashlib.sha256(f"qbsync-job:{schema}:{job_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def ensure_schema(engine: sa.Engine) -> bool:
    """Create procrastinate's tables in the cache's schema when missing (True when it did)."""
    from procrastinate.schema import SchemaManager

    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": job_lock_key("schema", 0)})
        if sa.inspect(conn).has_table("procrastinate_jobs"):
            return False
        # The raw driver connection (same transaction): procrastinate's SQL has literal % signs.
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.execute(SchemaManager.get_schema())
    return True


@dataclass
class FleetOptions:
    every: timedelta = DEFAULT_EVERY
    reconcile_every: timedelta = DEFAULT_RECONCILE
    retention: timedelta = DEFAULT_RETENTION
    retry_after: timedelta = RETRY_AFTER
    #: a ``doing`` job younger than this is never taken for dead (its worker may be taking its lock)
    stall_grace: timedelta = timedelta(seconds=5)


@dataclass
class TickReport:
    scheduled: list[SyncRequest] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    recovered: list[int] = field(default_factory=list)
    pruned: int = 0


class Fleet:
    """The procrastinate queue of one PostgreSQL cache: defer from anywhere (``request``), run jobs in
    ``run_worker``. ``connected`` lists the companies the schedule covers."""

    def __init__(self, engine: sa.Engine, *, executor: SyncExecutor | None = None,
                 connected: Any = None, clock: Clock | None = None,
                 options: FleetOptions | None = None) -> None:
        import procrastinate

        self.engine = engine
        self.executor = executor
        self.inbox = Inbox(engine)
        self.clock = clock or SystemClock()
        self.options = options or FleetOptions()
        self._connected = connected
        url = engine.url.render_as_string(hide_password=False)
        self.conninfo = conninfo(url)
        with engine.connect() as conn:
            self.schema = str(conn.execute(sa.text("SELECT current_schema()")).scalar_one())
        ensure_schema(engine)
        # Deferring and the tick's bookkeeping are synchronous calls (from the receiver's threads and
        # from tasks); the worker runs on its own asynchronous connector (``run_worker``).
        self.client = procrastinate.App(connector=procrastinate.SyncPsycopgConnector(
            conninfo=self.conninfo, min_size=1, max_size=4))
        self._opened = False
        #: what the jobs this process ran became (``qbsync worker --once`` prints them)
        self.outcomes: list[Outcome] = []

    def open(self) -> Fleet:
        if not self._opened:
            self.client.open()
            self._opened = True
        return self

    def close(self) -> None:
        if self._opened:
            self.client.close()
            self._opened = False

    def __enter__(self) -> Fleet:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the queue ---

    def request(self, req: SyncRequest, *, delay: timedelta | None = None) -> bool:
        """Defer ``req``; False when the company already has a job of that kind waiting."""
        from procrastinate.exceptions import AlreadyEnqueued

        self.open()
        options: dict[str, Any] = dict(lock=f"qbsync-sync:{req.realm_id}", queueing_lock=queueing_lock(req),
                                       queue=QUEUE)
        if delay is not None:
            options["schedule_in"] = {"seconds": delay.total_seconds()}
        try:
            self.client.configure_task(SYNC_TASK, allow_unknown=True, **options).defer(
                realm_id=req.realm_id, kind=req.kind, reason=req.reason)
        except AlreadyEnqueued:
            return False
        return True

    def request_many(self, reqs: Sequence[SyncRequest]) -> int:
        """Defer several requests; those whose company already has one waiting cost one query in all,
        not a failed insert each (a delivery mixing 100 companies, most of them already queued)."""
        locks = {queueing_lock(r): r for r in reqs}
        if not locks:
            return 0
        with self.engine.connect() as conn:
            waiting = {row[0] for row in conn.execute(sa.text(
                "SELECT queueing_lock FROM procrastinate_jobs WHERE status = 'todo' "
                "AND queueing_lock = ANY(:locks)"), {"locks": list(locks)})}
        queued = sum(1 for lock, req in locks.items() if lock not in waiting and self.request(req))
        if queued >= ANALYZE_AFTER:
            self.refresh_statistics()
        return queued

    def refresh_statistics(self) -> None:
        """ANALYZE procrastinate's jobs table, after a burst of syncs was queued.

        A worker takes each job with procrastinate's fetch, which the planner judges from the table's
        statistics. The table swings between empty and a burst (the schedule queues every company at
        once; a delivery up to a hundred): with an empty table's statistics the fetch checks every
        waiting job's company lock and sorts them all, 36 ms per job at 1,000 waiting against 0.07 ms
        once the statistics hold them (EXPLAIN ANALYZE). autovacuum would refresh them within its minute's
        nap, most of a burst's run. A few milliseconds on a small table; a role that does not own the
        table gets PostgreSQL's warning and the old plan."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE procrastinate_jobs"))

    def depth(self, realm_id: str | None = None) -> int:
        return sum(n for (realm, _), n in self.counts().items() if realm_id in (None, realm)
                   and _ == "todo")

    def counts(self) -> dict[tuple[str, str], int]:
        """(company, status) -> jobs, for the jobs waiting or running."""
        q = sa.text("SELECT args->>'realm_id' AS realm, status::text AS status, count(*) AS n "
                    "FROM procrastinate_jobs WHERE task_name = :task AND status IN ('todo', 'doing') "
                    "GROUP BY 1, 2")
        with self.engine.connect() as conn:
            return {(r.realm, r.status): int(r.n) for r in conn.execute(q, {"task": SYNC_TASK})}

    def due_jobs(self) -> int:
        """Sync jobs waiting whose time has come (not those deferred to be tried later)."""
        q = sa.text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = :task AND status = 'todo' "
                    "AND (scheduled_at IS NULL OR scheduled_at <= now())")
        with self.engine.connect() as conn:
            return int(conn.execute(q, {"task": SYNC_TASK}).scalar_one())

    # --- one job ---

    def run_job(self, job_id: int, req: SyncRequest) -> Outcome | None:
        """Run one sync job under its liveness lock; None when the job was recovered meanwhile."""
        assert self.executor is not None, "a Fleet that runs jobs needs an executor"
        key = job_lock_key(self.schema, job_id)
        # Autocommit: the lock is the session's, and each statement needs no COMMIT round trip of its own
        # (three fewer per job); the status is read after the lock is held, in a snapshot of its own.
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                status = conn.execute(sa.text("SELECT status::text FROM procrastinate_jobs WHERE id = :id"),
                                      {"id": job_id}).scalar()
                if status != "doing":
                    log.info("job %s was taken for dead before it began; its sync is queued again", job_id)
                    return None
                outcome = self.executor.perform(req)
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        self.outcomes.append(outcome)
        if outcome.retry:
            self.request(req, delay=self.options.retry_after)
        return outcome

    # --- the periodic tick ---

    def recover(self) -> list[int]:
        """Queue again the syncs of jobs whose worker died, and mark those jobs failed."""
        from procrastinate import sql

        q = sa.text("SELECT j.id, j.args FROM procrastinate_jobs j WHERE j.task_name = :task "
                    "AND j.status = 'doing' AND NOT EXISTS (SELECT 1 FROM procrastinate_events e "
                    "WHERE e.job_id = j.id AND e.type = 'started' "
                    "AND e.at > now() - make_interval(secs => :g))")
        recovered: list[int] = []
        with self.engine.connect() as conn:
            rows = conn.execute(q, {"task": SYNC_TASK, "g": self.options.stall_grace.total_seconds()}).all()
            conn.commit()
            for row in rows:
                key = job_lock_key(self.schema, int(row.id))
                if not conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar_one():
                    conn.commit()
                    continue  # its worker is alive and syncing
                conn.commit()
                try:
                    args = dict(row.args or {})
                    realm, kind = str(args.get("realm_id")), str(args.get("kind", "cdc"))
                    # The dead job ends first: while it is ``doing`` it holds its company's lock, and a
                    # worker woken by the new job's NOTIFY would find nothing it may start (and sleep
                    # until its next poll, 5 s). A crash between the two loses nothing: the tick
                    # re-queues a company whose events no sync has read, and the schedule the rest.
                    self.open()
                    self.client.connector.get_sync_connector().execute_query(
                        sql.queries["finish_job"], job_id=int(row.id), status="failed", delete_job=False)
                    if kind in KINDS:
                        self.request(SyncRequest(realm, kind, str(args.get("reason", SCHEDULE))))
                    recovered.append(int(row.id))
                    log.warning("job %s (realm %s, %s) lost its worker; queued again", row.id, realm, kind)
                finally:
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
        return recovered

    def connected(self) -> list[str]:
        return list(self._connected()) if self._connected is not None else []

    def tick(self) -> TickReport:
        """Scheduled syncs, lost syncs, dead workers' jobs, old events: what the minute's task does."""
        report = TickReport()
        now = self.clock.now()
        realms = self.connected()
        report.recovered = self.recover()
        opts = self.options
        busy = {realm for (realm, _) in self.counts()}  # a sync waiting or running covers the schedule
        for req in due(now, realm_marks(self.engine, realms), opts.every, opts.reconcile_every):
            if req.realm_id not in busy and self.request(req):
                report.scheduled.append(req)
        if len(report.scheduled) >= ANALYZE_AFTER:
            self.refresh_statistics()
        # A company with a sync waiting or running is left alone: the running one reads every event
        # committed before it began, and an event recorded since queued a sync of its own (a queueing
        # lock only refuses a second *waiting* job). Were that request lost, the next tick re-queues it.
        queued = {realm for (realm, _) in self.counts()}
        for realm in self.inbox.pending(realms):
            if realm not in queued and self.request(SyncRequest(realm)):
                report.requeued.append(realm)
        report.pruned = self.inbox.prune(now - self.options.retention)
        return report

    # --- the worker ---

    def worker_app(self, *, periodic: bool = True) -> Any:
        """A procrastinate App with the fleet's tasks, on an asynchronous connector (for run_worker);
        ``periodic=False`` leaves the minute's tick out (``--once`` ticks once, itself)."""
        import procrastinate

        app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=self.conninfo))
        fleet = self

        @app.task(name=SYNC_TASK, queue=QUEUE, pass_context=True)
        def sync_realm(context: Any, realm_id: str, kind: str = "cdc", reason: str = EVENT) -> str:
            outcome = fleet.run_job(int(context.job.id), SyncRequest(realm_id, kind, reason))
            return outcome.status if outcome else "recovered"

        def tick(timestamp: int) -> None:
            report = fleet.tick()
            log.info("tick: %d scheduled, %d re-queued, %d recovered, %d events pruned",
                     len(report.scheduled), len(report.requeued), len(report.recovered), report.pruned)

        task = app.task(name=TICK_TASK, queue=QUEUE, queueing_lock=TICK_TASK)(tick)
        if periodic:
            app.periodic(cron="* * * * *", periodic_id="tick")(task)
        del sync_realm
        return app

    def run_worker(self, *, concurrency: int = 2, once: bool = False, name: str | None = None,
                   install_signal_handlers: bool = True) -> None:
        """Run jobs until stopped (SIGTERM/SIGINT finish the running jobs first); ``once``: queue what the
        schedule says is due, run every job waiting, and return."""
        self.open()
        self.tick() if once else self.recover()
        app = self.worker_app(periodic=not once)
        with app.open():
            while True:
                app.run_worker(queues=[QUEUE], concurrency=max(1, concurrency), wait=not once, name=name,
                               install_signal_handlers=install_signal_handlers, delete_jobs="successful",
                               listen_notify=not once, fetch_job_polling_interval=5.0)
                # A worker that does not wait stops when no job can start; one may only have been
                # held back by its company's running sync: go round until none is due.
                if not once or not self.due_jobs():
                    return


def request_all(fleet: Fleet, requests: Iterable[SyncRequest]) -> tuple[int, int]:
    """Defer several requests: (queued, coalesced)."""
    queued = coalesced = 0
    for req in requests:
        if fleet.request(req):
            queued += 1
        else:
            coalesced += 1
    return queued, coalesced
