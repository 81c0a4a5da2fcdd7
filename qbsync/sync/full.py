"""Full passes: every row of the chosen entities, pages of 1,000 fetched concurrently, each page
committed with the pass's progress so a killed pass resumes where it stopped.

Pages are ``ORDERBY Id`` with STARTPOSITION: QBO Ids are strings that QBO orders numerically, while
``WHERE Id > '999'`` compares text, so an Id bookmark would skip rows.

Nothing waits for anything it does not need. The round opens with as many requests as the limits
allow at once: one batch request holding the COUNT of every entity to size (and, when due, the
company's CompanyInfo and Preferences), and page 1 of as many new passes as fit beside it, the likely
large ones first. The earliest server time among those first answers is where the run began (no
later answer can carry an earlier time, since every later request leaves after an answer has
arrived); the passes start there, and pages are written from then on. The COUNTs size the remaining
pages, which go out as the limiter admits them; the short pages (last pages, and first pages of
short entities the opening had no room for) go last, shortest last, so the final requests are quick.
Once the last page has been fetched, ``catch_up`` (the CDC that follows every pass) runs while the
last pages are still being written; it writes nothing before they are all committed. Rows created
after the COUNT, and rows changed or deleted while paging, are its business; rows that slid across a
page boundary because a row before them was deleted are found by the runner's count check after it.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from qbsync.cache.db import WalCheckpointer
from qbsync.cache.models import entity as declared
from qbsync.qbo import querybuild
from qbsync.qbo.gateway import Page, QboGateway, QueryAnswers
from qbsync.sync.progress import Progress
from qbsync.sync.state import PAGE_SIZE as PAGE
from qbsync.sync.state import EntityCounts, PassState, SyncStore


def count_where(entity: str) -> str | None:
    """Name lists hide inactive rows unless the query mentions Active."""
    return querybuild.ACTIVE_OR_NOT if declared(entity).name_list else None


def count_statement(entity: str) -> str:
    return querybuild.count(entity, count_where(entity))


def page_statement(entity: str, page_no: int) -> str:
    return querybuild.select(entity, order_by="Id", start=(page_no - 1) * PAGE + 1, max_results=PAGE,
                             include_inactive=declared(entity).name_list)


def pages_needed(total: int) -> int:
    return max(1, math.ceil(total / PAGE))


def pass_complete(p: PassState) -> bool:
    return p.total is not None and all(n in p.pages for n in range(1, pages_needed(p.total) + 1))


def page_rows(total: int, page_no: int) -> int:
    """Rows page ``page_no`` holds when the entity has ``total`` rows."""
    return max(0, min(PAGE, total - (page_no - 1) * PAGE))


@dataclass
class Begun:
    """What the runner makes of the round's first answers: every pass of the round (started and
    sized), and the ``seen_at`` stamp of the rows it writes."""

    passes: dict[str, PassState]
    seen_at: datetime


#: (server time of the earliest first answer, or None when the round sent nothing; the batch's
#: answers, or None when there was no batch) -> the passes, started and sized
Begin = Callable[[datetime | None, QueryAnswers | None], Begun]
#: runs the CDC catch-up; call the argument before writing anything (it waits for the last pages)
CatchUp = Callable[[Callable[[], None]], None]


@dataclass(frozen=True)
class _Task:
    kind: str  # "page" | "sizes" | "catch_up"
    entity: str = ""
    page_no: int = 0


class _Aborted(Exception):
    """The round failed elsewhere; the catch-up must not write."""


def opening_order(entities: list[str], last_rows: Mapping[str, int]) -> list[str]:
    """The order in which the opening asks for page 1 of new passes, before any COUNT is known: the
    largest first, so the small pages are left for the end of the run, where the last requests
    wait for the slowest of them. ``last_rows``: what the cache counted when it last synced an
    entity; an entity it never synced counts as large, and among those the entities declared last
    come first (the registry declares a company's short lists, its departments, classes, items and
    accounts, before the customers and transactions that refer to them)."""
    declared_at = {e: i for i, e in enumerate(entities)}
    return sorted(entities, key=lambda e: (-last_rows.get(e, math.inf), -declared_at[e]))


def run_passes(gateway: QboGateway, store: SyncStore, *, resumed: dict[str, PassState], new: list[str],
               sizes: list[str], begin: Begin, catch_up: CatchUp, counts: dict[str, EntityCounts],
               progress: Progress, workers: int, last_rows: Mapping[str, int] | None = None) -> None:
    """Fetch and commit every missing page of the round's passes, then run ``catch_up``; returns when
    both are done.

    ``resumed``: passes of earlier runs (their committed pages are not fetched again); ``new``: entities
    whose pass starts now; ``sizes``: statements for the opening batch (COUNTs of the passes without a
    total, the company reads), answered to ``begin`` together with the run's first server time.
    ``last_rows``: each entity's rows when the cache last synced it (orders the opening's pages).

    The opening holds as many requests as there are workers: the batch and page 1 of as many new
    passes as fit beside it (``opening_order``). Page 1 of the other new passes is planned with their
    COUNTs, like every later page, so a short one goes at the end.
    """
    workers = max(1, workers)
    queue: deque[_Task] = deque()
    if sizes:
        queue.append(_Task("sizes"))
    if new:
        slots = workers - len(queue)
        if not sizes:  # nothing will size the others: ask them all now
            slots = len(new)
        for e in opening_order(new, last_rows or {})[:max(0, slots)]:
            queue.append(_Task("page", e, 1))
    for e, p in resumed.items():
        if p.total is None:
            if 1 not in p.pages:
                queue.append(_Task("page", e, 1))
        else:
            queue.extend(_Task("page", e, n) for n in range(1, pages_needed(p.total) + 1) if n not in p.pages)
    asked: set[tuple[str, int]] = {(t.entity, t.page_no) for t in queue if t.kind == "page"}

    checkpoints = WalCheckpointer(store.engine)
    passes: dict[str, PassState] = {}
    seen_at: datetime | None = None
    opening: set[Future[Any]] = set()  # requests sent before the first answer arrived
    opened = False  # an answer has arrived: requests sent from now on are not in the opening
    first_times: list[datetime] = []
    answers: QueryAnswers | None = None
    held: list[tuple[_Task, Page]] = []  # pages fetched before the passes began
    written = threading.Event()  # every page is committed (the catch-up may write)
    aborted = threading.Event()
    catching_up = False
    failed: BaseException | None = None  # a fetch failed: stop asking, write what arrived, then raise

    def wait_written() -> None:
        written.wait()
        if aborted.is_set():
            raise _Aborted

    def write(p: PassState, n: int, page: Page) -> int:
        assert seen_at is not None
        rows = store.write_page(p, n, page, seen_at, counts.setdefault(p.entity, EntityCounts()))
        checkpoints.committed()
        return rows

    def plan(known: dict[str, tuple[int | None, set[int]]]) -> None:
        """Queue every page not yet asked for (``known``: each pass's total and pages committed): full
        pages first, the short last pages at the end."""
        full: list[_Task] = []
        short: list[tuple[int, _Task]] = []
        for e, (total, committed) in known.items():
            if total is None:
                continue
            for n in range(1, pages_needed(total) + 1):
                if n in committed or (e, n) in asked:
                    continue
                asked.add((e, n))
                rows = page_rows(total, n)
                if rows >= PAGE:
                    full.append(_Task("page", e, n))
                else:
                    short.append((rows, _Task("page", e, n)))
        queue.extend(full)
        queue.extend(t for _, t in sorted(short, key=lambda s: -s[0]))

    writers = store.concurrent_writers
    # Fetched pages wait for the writers while the round has not begun (the opening is still
    # answering) and whenever the writers fall behind; past this many, fetching pauses.
    backlog = workers + writers
    fetching: dict[Future[Any], _Task] = {}
    writing: dict[Future[int], _Task] = {}

    def start(pool: ThreadPoolExecutor, writer: ThreadPoolExecutor, began: datetime | None) -> None:
        nonlocal passes, seen_at
        b = begin(began, answers)
        passes, seen_at = b.passes, b.seen_at
        for e, p in passes.items():
            progress.start(e, p.total)
            if pass_complete(p):
                progress.finish(e)
        plan({e: (p.total, p.pages) for e, p in passes.items()})
        for task, page in held:
            writing[writer.submit(write, passes[task.entity], task.page_no, page)] = task
        held.clear()

    def _sized(batch: QueryAnswers) -> dict[str, tuple[int | None, set[int]]]:
        """Each pass's total (from the opening batch's COUNTs, else the resumed pass's) and pages."""
        at = {statement: i for i, statement in enumerate(sizes)}
        known: dict[str, tuple[int | None, set[int]]] = {}
        for e, p in [*((e, None) for e in new), *resumed.items()]:
            i = at.get(count_statement(e))
            total = batch.total(i) if i is not None else p.total if p is not None else None
            known[e] = (total, p.pages if p is not None else set())
        return known

    def fetch(task: _Task) -> Any:
        if task.kind == "sizes":
            return gateway.queries(sizes)
        if task.kind == "catch_up":
            catch_up(wait_written)
            return None
        return gateway.query(page_statement(task.entity, task.page_no))

    with checkpoints, \
            ThreadPoolExecutor(max_workers=workers + 1, thread_name_prefix="qbsync-page") as pool, \
            ThreadPoolExecutor(max_workers=writers, thread_name_prefix="qbsync-write") as writer:
        try:
            if not queue:
                start(pool, writer, None)
            while True:
                if failed is not None and not fetching and not writing:
                    raise failed
                if failed is None and seen_at is not None and not queue and not catching_up \
                        and not any(t.kind != "catch_up" for t in fetching.values()):
                    catching_up = True
                    fetching[pool.submit(fetch, _Task("catch_up"))] = _Task("catch_up")
                if seen_at is not None and not queue and not writing and not held \
                        and not any(t.kind != "catch_up" for t in fetching.values()):
                    written.set()
                if catching_up and not fetching and not writing:
                    return
                pages_in_flight = sum(1 for t in fetching.values() if t.kind != "catch_up")
                while queue and pages_in_flight < workers and len(writing) + len(held) < backlog:
                    task = queue.popleft()
                    fut = pool.submit(fetch, task)
                    fetching[fut] = task
                    pages_in_flight += 1
                    if not opened:
                        opening.add(fut)
                done, _ = wait([*fetching, *writing], return_when=FIRST_COMPLETED)
                for fut in done:
                    if fut in writing:
                        task = writing.pop(fut)
                        p = passes[task.entity]
                        progress.advance(task.entity, fut.result())
                        if pass_complete(p):
                            progress.finish(task.entity)
                        continue
                    task = fetching.pop(fut)
                    opened = True
                    if fut.exception() is not None:
                        # Pages already fetched are still written (a rerun need not fetch them
                        # again); nothing new is asked. Before the passes began nothing can be.
                        failed = failed or fut.exception()
                        queue.clear()
                        if seen_at is None or task.kind == "catch_up":
                            raise failed  # type: ignore[misc]
                        continue
                    answer = fut.result()
                    if task.kind == "catch_up":
                        continue
                    if task.kind == "sizes":
                        answers = answer
                        if seen_at is None:
                            # The COUNTs are in: the remaining pages go out now, while the rest of the
                            # opening is still answering (a slow answer there would otherwise hold
                            # every other request back); what arrives before the passes begin is held.
                            plan(_sized(answer))
                    if fut in opening:
                        opening.discard(fut)
                        first_times.append(answer.server_time)
                        if not opening:
                            start(pool, writer, min(first_times))
                    if task.kind == "page":
                        if seen_at is None:
                            held.append((task, answer))
                        else:
                            writing[writer.submit(write, passes[task.entity], task.page_no, answer)] = task
        except BaseException:
            aborted.set()
            written.set()
            for f in fetching:
                f.cancel()
            for w in writing:
                w.cancel()
            raise
