"""The PostgreSQL queue's bookkeeping, without a sandbox: how a dead worker's job is replaced, and what the
minute's tick leaves alone. Jobs are taken with procrastinate's own fetch, as a worker takes them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

pytest.importorskip("procrastinate")

from qbsync.cache.schema import open_cache
from qbsync.clock import FixedClock
from qbsync.fleet.events import Event
from qbsync.fleet.inbox import Inbox
from qbsync.fleet.jobs import QUEUE, Fleet, FleetOptions, job_lock_key
from qbsync.fleet.runner import SyncRequest
from tests.conftest import PG_AVAILABLE, pg_schema_url

pytestmark = pytest.mark.skipif(not PG_AVAILABLE, reason="the fleet's queue needs PostgreSQL")

A = "4620816365300000001"
NOW = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    with pg_schema_url() as url:
        engine = open_cache(url)
        f = Fleet(engine, connected=lambda: [A], clock=FixedClock(NOW),
                  options=FleetOptions(stall_grace=timedelta(0))).open()
        try:
            yield f
        finally:
            f.close()
            engine.dispose()


def _query(name: str) -> str:
    from procrastinate import sql

    return str(sql.queries[name])


def _take(fleet: Fleet) -> int:
    """A worker takes the next job (status ``doing``), with procrastinate's own queries."""
    connector = fleet.client.connector.get_sync_connector()
    worker = connector.execute_query_one(_query("register_worker"))["worker_id"]
    job = connector.execute_query_one(_query("fetch_job"), queues=[QUEUE], worker_id=worker)
    assert job["id"] is not None, "no job to take"
    return int(job["id"])


def _events(fleet: Fleet) -> list[tuple[int, str]]:
    with fleet.engine.connect() as conn:
        return [(int(r.job_id), str(r.type)) for r in conn.execute(sa.text(
            "SELECT job_id, type::text AS type FROM procrastinate_events ORDER BY id"))]


def test_a_dead_workers_job_ends_before_its_sync_is_queued_again(fleet: Fleet) -> None:
    """While the dead job is ``doing`` it holds its company's lock: a worker woken by the new job's
    NOTIFY would find nothing to start and sleep until its next poll (5 s)."""
    assert fleet.request(SyncRequest(A))
    dead = _take(fleet)  # its worker is gone: nobody holds the job's liveness lock
    assert fleet.recover() == [dead]
    events = _events(fleet)
    failed = events.index((dead, "failed"))
    (new,) = [job for job, kind in events if kind == "deferred" and job != dead]
    assert failed < events.index((new, "deferred"))
    assert _take(fleet) == new  # startable at once


def test_the_tick_leaves_a_company_whose_sync_is_running(fleet: Fleet) -> None:
    assert fleet.request(SyncRequest(A))
    running = _take(fleet)
    with fleet.engine.connect() as holder:  # the worker is alive: it holds the job's liveness lock
        holder.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": job_lock_key(fleet.schema, running)})
        holder.commit()
        Inbox(fleet.engine).record([Event("e-1", A, "Customer", "1", "Update", NOW, "cloudevents")], NOW)
        report = fleet.tick()
        assert report.recovered == [] and report.requeued == [] and report.scheduled == []
        assert fleet.counts() == {(A, "doing"): 1}
        holder.execute(sa.text("SELECT pg_advisory_unlock_all()"))
        holder.commit()
    # No sync running or waiting any more, the event still unread: the tick queues one.
    fleet.client.connector.get_sync_connector().execute_query(
        _query("finish_job"), job_id=running, status="succeeded", delete_job=True)
    fleet.tick()
    assert fleet.counts() == {(A, "todo"): 1}


def _planned_rows(fleet: Fleet) -> float:
    """The jobs table's row count as the planner knows it (-1: never analyzed)."""
    with fleet.engine.connect() as conn:
        return float(conn.execute(sa.text(
            "SELECT reltuples FROM pg_class WHERE oid = 'procrastinate_jobs'::regclass")).scalar_one())


def test_a_burst_of_queued_syncs_refreshes_the_planner_statistics_of_the_jobs_table(fleet: Fleet) -> None:
    """procrastinate's fetch, once per job, is planned from the jobs table's statistics: with an empty
    table's it checks every waiting job's company lock and sorts them all (36 ms a job at 1,000 waiting,
    0.07 ms planned with the burst's statistics), until autovacuum's next pass a minute later."""
    realms = [f"46208163653{i:08d}" for i in range(60)]
    assert _planned_rows(fleet) <= 0
    assert fleet.request_many([SyncRequest(r) for r in realms]) == 60
    assert _planned_rows(fleet) == 60
    ticking = Fleet(fleet.engine, connected=lambda: [*realms, *(r + "9" for r in realms)],
                    clock=FixedClock(NOW)).open()
    try:
        # the schedule's first syncs of 60 companies never synced (the other 60 are already waiting)
        assert len(ticking.tick().scheduled) == 60
    finally:
        ticking.close()
    assert _planned_rows(fleet) == 120
