"""Full passes: every row of the chosen entities, pages of 1,000 fetched concurrently, each page
committed with the pass's progress so a killed pass resumes where it stopped.

Pages are ``ORDERBY Id`` with STARTPOSITION: QBO Ids are strings that QBO orders numerically, while
``WHERE Id > '999'`` compares text, so an Id bookmark would skip rows. Page 1 comes first; when it is
full, a COUNT sizes the remaining pages, which go out together (up to ``workers`` in flight). Rows
created after the COUNT, and rows changed or deleted while paging, are the business of the CDC
catch-up that follows every pass; rows that slid across a page boundary because a row before them was
deleted are found by the runner's count check after the catch-up.
"""

from __future__ import annotations

import math
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from qbsync.cache.db import WalCheckpointer
from qbsync.cache.models import entity as declared
from qbsync.qbo import querybuild
from qbsync.qbo.gateway import Page, QboGateway
from qbsync.sync.progress import Progress
from qbsync.sync.state import PAGE_SIZE as PAGE
from qbsync.sync.state import EntityCounts, PassState, SyncStore


def count_where(entity: str) -> str | None:
    """Name lists hide inactive rows unless the query mentions Active."""
    return querybuild.ACTIVE_OR_NOT if declared(entity).name_list else None


def page_statement(entity: str, page_no: int) -> str:
    return querybuild.select(entity, order_by="Id", start=(page_no - 1) * PAGE + 1, max_results=PAGE,
                             include_inactive=declared(entity).name_list)


def pages_needed(total: int) -> int:
    return max(1, math.ceil(total / PAGE))


def pass_complete(p: PassState) -> bool:
    return p.total is not None and all(n in p.pages for n in range(1, pages_needed(p.total) + 1))


@dataclass(frozen=True)
class _Task:
    kind: str  # "page" | "count"
    entity: str
    page_no: int = 0


def run_passes(gateway: QboGateway, store: SyncStore, passes: dict[str, PassState], seen_at: datetime,
               counts: dict[str, EntityCounts], progress: Progress, workers: int,
               first: tuple[str, Page] | None = None) -> None:
    """Fetch and commit every missing page of ``passes``; returns when all are complete.

    ``first``, when given, is the (entity, page 1) the runner already fetched to learn the server time
    at which the run began.
    """
    queue: deque[_Task] = deque()
    checkpoints = WalCheckpointer(store.engine)

    def plan(p: PassState) -> None:
        if p.total is None:
            queue.append(_Task("page", p.entity, 1) if 1 not in p.pages else _Task("count", p.entity))
            return
        for n in range(1, pages_needed(p.total) + 1):
            if n not in p.pages:
                queue.append(_Task("page", p.entity, n))

    def write(p: PassState, n: int, page: Page, sizing: bool) -> int:
        rows = store.write_page(p, n, page, seen_at, counts.setdefault(p.entity, EntityCounts()), sizing)
        checkpoints.committed()
        return rows

    def written(p: PassState, rows: int, sizing: bool) -> None:
        progress.advance(p.entity, rows)
        if sizing and p.total is None:
            queue.append(_Task("count", p.entity))
        if pass_complete(p):
            progress.finish(p.entity)

    def counted(p: PassState) -> None:
        assert p.total is not None
        progress.start(p.entity, p.total)
        plan(p)
        if pass_complete(p):
            progress.finish(p.entity)

    for entity, p in passes.items():
        if p.total is not None:
            progress.start(entity, p.total)
        if first is not None and first[0] == entity and p.total is None and 1 not in p.pages:
            written(p, write(p, 1, first[1], True), True)
            continue
        if pass_complete(p):
            continue
        plan(p)

    def run(task: _Task) -> Page | int:
        if task.kind == "count":
            return gateway.count(task.entity, count_where(task.entity))
        return gateway.query(page_statement(task.entity, task.page_no))

    # Pages are fetched by ``workers`` threads and written by ``store.concurrent_writers`` threads;
    # fetching pauses while that many pages (plus two) wait to be written, so memory stays bounded.
    writers = store.concurrent_writers
    fetching: dict[Future[Page | int], _Task] = {}
    # Every cache write goes through the writer threads (one on SQLite, which allows one writer).
    writing: dict[Future[int | None], tuple[_Task, bool]] = {}
    with checkpoints, \
            ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="qbsync-page") as pool, \
            ThreadPoolExecutor(max_workers=writers, thread_name_prefix="qbsync-write") as writer:
        try:
            while queue or fetching or writing:
                while queue and len(fetching) < max(1, workers) and len(writing) < writers + 2:
                    task = queue.popleft()
                    fetching[pool.submit(run, task)] = task
                pending: list[Future[Any]] = [*fetching, *writing]
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    if fut in writing:
                        task, sizing = writing.pop(fut)
                        rows = fut.result()
                        if task.kind == "count":
                            counted(passes[task.entity])
                        else:
                            written(passes[task.entity], int(rows or 0), sizing)
                        continue
                    task = fetching.pop(fut)
                    answer = fut.result()
                    p = passes[task.entity]
                    if task.kind == "count":
                        assert isinstance(answer, int)
                        writing[writer.submit(store.set_total, p, answer)] = (task, False)
                    else:
                        assert isinstance(answer, Page)
                        sizing = task.page_no == 1 and p.total is None
                        writing[writer.submit(write, p, task.page_no, answer, sizing)] = (task, sizing)
        except BaseException:
            for f in fetching:
                f.cancel()
            for w in writing:
                w.cancel()
            raise
