"""`qbsync report html`: every report on one self-contained page, charts included, figures the reports' own.

Each section calls the report or rule that the command line runs for it (``aging.aging``,
``best.best``, ``cross.cross``, the rules over one shared ``load_activity``, ``run_on_cache``,
``campaign.report``, ``lost.lost``) and turns the result into the same ``Table`` the command line
renders as JSON: the numbers on the page are that JSON's values (``data-value``) shown as the
terminal table shows them. Charts are inline SVG drawn from the same objects. The page loads
nothing (a Content-Security-Policy forbids it), runs no script, and prints on A4 or Letter.

Long lists are cut to the first ``top`` rows on the page (the note says how many there are); totals
always cover everything, as they do in the reports.

On a machine with two cores or more, the duplicates rule and the campaigns' reports run in a second
process (with an engine of its own on the same cache) while this one runs the rest: the page takes
about the time of its larger half instead of the sum of its parts (at 100,000 customers the
duplicates rule alone is a third of it). The second process calls the same functions; an in-memory
SQLite cache, or ``processes=1``, keeps everything in this process.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TypeVar

import sqlalchemy as sa

from qbsync.documents.company import Company, company
from qbsync.reports import aging, best, cross, lost, render
from qbsync.reports.source import Period
from qbsync.reports.table import Table
from qbsync.rules.findings import Finding

T = TypeVar("T")


@dataclass
class Options:
    as_of: date
    period: Period
    cross_by: str = "location"
    top: int = 25  # rows of each long table, bars of the Pareto chart
    disappearing_top: int = 50  # points of the disappearing chart (as `rules disappearing --top`)
    pairs: int = 20  # duplicate pairs compared side by side
    campaigns: int = 8  # the latest campaigns
    policy_path: Path | None = None
    duplicates: bool = True
    today: date | None = None  # the clock's date: QuickBooks' balances are today's
    processes: int | None = None  # None: two when the machine has two cores and the cache is shared


@dataclass
class Collected:
    """The reports' own results, each computed once."""

    company: Company
    options: Options
    aging: aging.AgingReport
    best: best.BestReport
    cross: cross.CrossReport
    inactive: list[Finding]
    reactivate: list[Finding]
    disappearing: Any  # rules.disappearing.rank.DisappearingReport
    duplicates: Any | None  # rules.duplicates.DuplicateReport
    campaigns: list[Any]  # campaigns.campaign.CampaignReport
    lost: lost.LostReport
    customers: dict[str, int]  # active / inactive in QuickBooks
    receivables: Decimal | None = None  # the sum of the customers' QuickBooks balances (A/R), as synced
    receivables_today: bool = True  # as_of is today, so that sum is the figure to tie the aging to
    seconds: dict[str, float] = field(default_factory=dict)  # each part's own time
    wall: float = 0.0  # the time it all took
    processes: int = 1  # 2: the duplicates rule and the campaigns ran in a second process


def _timed(seconds: dict[str, float], name: str, fn: Callable[[], T]) -> T:
    start = time.perf_counter()
    try:
        return fn()
    finally:
        seconds[name] = round(time.perf_counter() - start, 3)


def _rules(engine: sa.Engine, realm_id: str, opts: Options, policy: Any,
           sec: dict[str, float]) -> tuple[list[Finding], list[Finding], Any]:
    """Inactive, reactivate and disappearing over one shared load of the customers' activity."""
    from qbsync.rules.activity import load_activity
    from qbsync.rules.disappearing.rank import find_disappearing
    from qbsync.rules.inactive import find_inactive, find_reactivate

    as_of = opts.as_of
    acts = _timed(sec, "activity", lambda: load_activity(engine, realm_id, as_of, policy.include_estimates))
    inactive = _timed(sec, "inactive", lambda: find_inactive(acts, policy, as_of))
    reactivate = _timed(sec, "reactivate", lambda: find_reactivate(acts, policy, as_of))
    disappearing = _timed(sec, "disappearing", lambda: find_disappearing(acts, policy, as_of,
                                                                         top=opts.disappearing_top))
    return inactive, reactivate, disappearing


def _campaign_reports(engine: sa.Engine, realm_id: str, opts: Options) -> list[Any]:
    from qbsync.campaigns import campaign

    chosen = [c for c in campaign.campaigns(engine, realm_id) if c.as_of <= opts.as_of][-opts.campaigns:]
    return [campaign.report(engine, realm_id, c.name, opts.as_of) for c in chosen]


def _second_part(engine: sa.Engine, realm_id: str, opts: Options,
                 sec: dict[str, float]) -> tuple[Any | None, list[Any]]:
    """The duplicates rule and the campaigns' reports: the part a second process can take."""
    dups = None
    if opts.duplicates:
        from qbsync.rules.duplicates import run_on_cache

        dups = _timed(sec, "duplicates", lambda: run_on_cache(engine, realm_id, opts.as_of))
    camps = _timed(sec, "campaigns", lambda: _campaign_reports(engine, realm_id, opts))
    return dups, camps


def _second_part_in_child(url: str, realm_id: str, opts: Options, level: int) -> tuple[Any, ...]:
    """``_second_part`` in a worker process, on an engine of its own; a QbsyncError comes back as data
    (its class, message and attributes: not every one of them can be pickled as an exception)."""
    from qbsync.cache.db import make_engine
    from qbsync.errors import QbsyncError

    logging.getLogger("qbsync").setLevel(level)
    engine = make_engine(url)
    sec: dict[str, float] = {}
    try:
        return ("done", *_second_part(engine, realm_id, opts, sec), sec)
    except QbsyncError as exc:
        return ("error", type(exc), exc.message, dict(vars(exc)))
    finally:
        engine.dispose()


def _raised(cls: type[Exception], message: str, attrs: dict[str, Any]) -> Exception:
    exc = cls.__new__(cls)
    Exception.__init__(exc, message)
    vars(exc).update(attrs)
    return exc


def _shareable_url(engine: sa.Engine) -> str | None:
    """The URL another process can open the same cache at (None for an in-memory SQLite)."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and (url.database in (None, "", ":memory:")
                                               or str(url.database).startswith("file:")):
        return None
    return url.render_as_string(hide_password=False)


def collect(engine: sa.Engine, realm_id: str, opts: Options, *, locale: str | None = None) -> Collected:
    """Run every report the page shows, once each (in two processes when that is quicker)."""
    import multiprocessing
    from multiprocessing.pool import AsyncResult, Pool

    from qbsync.cache.models import Customer
    from qbsync.rules.policy import load_policy

    started = time.perf_counter()
    sec: dict[str, float] = {}
    as_of = opts.as_of
    policy = load_policy(opts.policy_path)
    comp = company(engine, realm_id, locale=locale)
    processes = opts.processes or min(2, os.cpu_count() or 1)
    url = _shareable_url(engine) if processes > 1 else None
    pool: Pool | None = None
    second: AsyncResult[tuple[Any, ...]] | None = None
    if url is not None:
        # spawn, not fork: the child must not share this process's open database connections
        try:
            pool = multiprocessing.get_context("spawn").Pool(1)
        except OSError as exc:  # no process semaphores here (some containers): all in this process
            logging.getLogger(__name__).debug("report html in one process: %s", exc)
        else:
            second = pool.apply_async(_second_part_in_child, (url, realm_id, opts,
                                                              logging.getLogger("qbsync").getEffectiveLevel()))
    try:
        aging_r = _timed(sec, "aging", lambda: aging.aging(engine, realm_id, as_of))
        best_r = _timed(sec, "best", lambda: best.best(engine, realm_id, as_of, opts.period))
        by: Literal["location", "class"] = "class" if opts.cross_by == "class" else "location"
        cross_r = _timed(sec, "cross", lambda: cross.cross(engine, realm_id, as_of, opts.period, by))
        inactive, reactivate, disappearing = _rules(engine, realm_id, opts, policy, sec)
        lost_r = _timed(sec, "lost", lambda: lost.lost(engine, realm_id, as_of, "quarter"))
        from qbsync.cache.types import Money

        with engine.connect() as conn:
            counts = dict(conn.execute(sa.select(Customer.active, sa.func.count())
                                       .where(Customer.realm_id == realm_id).group_by(Customer.active)).all())
            receivables = conn.execute(sa.select(sa.type_coerce(sa.func.sum(Customer.balance), Money()))
                                       .where(Customer.realm_id == realm_id)).scalar()
        if second is None:
            dups, camps = _second_part(engine, realm_id, opts, sec)
        else:
            outcome = second.get()
            if outcome[0] == "error":
                raise _raised(*outcome[1:])
            dups, camps, more = outcome[1:]
            sec.update(more)
    finally:
        if pool is not None:  # done, or this part failed: the child's work is not wanted any more
            pool.terminate()
            pool.join()
    customers = {"active": int(counts.get(True, 0)), "inactive": int(counts.get(False, 0))}
    order = ("aging", "best", "cross", "activity", "inactive", "reactivate", "disappearing", "duplicates",
             "campaigns", "lost")
    sec = {k: sec[k] for k in order if k in sec}
    return Collected(comp, opts, aging_r, best_r, cross_r, inactive, reactivate, disappearing, dups, camps,
                     lost_r, customers, receivables if receivables is not None else Decimal("0.00"),
                     opts.today is None or opts.as_of >= opts.today, sec,
                     round(time.perf_counter() - started, 3), 1 if pool is None else 2)


# --- tables as the page shows them ---------------------------------------------------------------------


@dataclass
class PageTable:
    """A report Table as cells: the JSON value (``data``) and the terminal's text (``text``) of each."""

    name: str
    title: str
    columns: list[tuple[str, str, str]]  # key, title, kind
    rows: list[list[tuple[str, str]]]
    totals: list[tuple[str, str]] | None
    notes: list[str]
    shown: int  # rows on the page
    of: int  # rows in the report


def page_table(name: str, table: Table, top: int | None) -> PageTable:
    doc = json.loads(render.to_json(table))

    def cells(raw: dict[str, Any], plain: dict[str, Any]) -> list[tuple[str, str]]:
        out = []
        for col in table.columns:
            value = plain.get(col.key)
            out.append(("" if value is None else str(value), render.shown(raw.get(col.key), col.kind)))
        return out

    rows = [cells(r, p) for r, p in zip(table.rows, doc["rows"], strict=True)]
    shown = rows if top is None else rows[:top]
    notes = list(table.notes)
    if len(shown) < len(rows):
        notes.insert(0, f"the first {len(shown):,} of {len(rows):,} rows"
                     + ("; the totals cover all of them" if table.totals else ""))
    totals = cells(table.totals, doc["totals"]) if table.totals else None
    columns: list[tuple[str, str, str]] = [(c.key, c.title, c.kind) for c in table.columns]
    return PageTable(name, table.title, columns, shown, totals, notes, len(shown), len(rows))


def rule_table(rule: str, as_of: date, findings: list[Finding], notes: list[str]) -> Table:
    from qbsync.reports import rulelists

    return rulelists.table(rulelists.RuleList(rule, as_of, findings, notes))


# --- the page -------------------------------------------------------------------------------------------


def auc_in_words(auc: float | None, cutoffs: list[date], horizon_days: int, customers: int, gone: int,
                 spread: tuple[float, float] | None = None) -> str:
    """The backtest's AUC as a shop owner would say it."""
    if auc is None or auc != auc or not cutoffs:
        return ("There was too little history to test the list on your own past: treat it as a first "
                "guess.")
    per100 = round(auc * 100)
    verdict = ("a good guide" if auc >= 0.8 else "a useful guide" if auc >= 0.7 else
               "a rough guide" if auc >= 0.6 else "hardly better than a coin toss: treat it with care")
    when = (f"we went back to {cutoffs[-1].isoformat()}" if len(cutoffs) == 1 else
            f"we went back to {len(cutoffs)} dates between {cutoffs[0].isoformat()} and "
            f"{cutoffs[-1].isoformat()}")
    varied = ""
    if spread is not None and len(cutoffs) > 1:
        varied = f" (between {round(spread[0] * 100)} and {round(spread[1] * 100)}, depending on the date)"
    return (f"How far can you trust this list? We tested it on your own history: {when}, ranked your "
            f"customers the same way, and checked who bought again in the next {horizon_days} days (the last "
            f"time, {gone:,} of {customers:,} did not). Take one customer who stopped and one who kept "
            f"buying: {per100} times out of 100 the list put the one who stopped higher{varied}. A coin toss "
            f"would manage 50. That makes it {verdict} (backtest AUC {auc:.2f}).")


def render_page(col: Collected, *, generated: datetime) -> str:
    from qbsync.documents import sections
    from qbsync.documents.templating import environment

    env = environment(None)
    context = sections.build(col)
    return env.get_template("report.html").render(
        generated=generated, company=col.company, opts=col.options, seconds=col.seconds, wall=col.wall,
        processes=col.processes, **context)


def money_text(value: Decimal) -> str:
    return render.shown(value, "money")
