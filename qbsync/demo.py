"""The demo: seed a sandbox company, connect through real OAuth, sync, run rules, exports and reports."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qbsync.clock import Clock, SystemClock
from qbsync.errors import AuthError, InputError, QbsyncError

if TYPE_CHECKING:
    import sqlalchemy as sa

    from qbsync.reports.table import Table
    from qbsync.rules.duplicates import DuplicateFindings

# The steps' modules (the sandbox generator, the rules' numerics, SQLAlchemy) load when the demo runs,
# not when `qbsync demo --help` reads the defaults below.

log = logging.getLogger(__name__)

DEFAULT_DIR = Path("qbsync-demo")
DEFAULT_CUSTOMERS = 2000
MARKER = ".qbsync-demo.json"
CAMPAIGN = "demo-winback"
CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"
PREVIEW_ROWS = 5
STEPS = 7

Progress = Callable[[str], None]


@dataclass
class DemoOptions:
    work_dir: Path = DEFAULT_DIR
    customers: int = DEFAULT_CUSTOMERS
    seed: int = 42
    years: int = 3
    fresh: bool = False


@dataclass
class Step:
    name: str
    seconds: float
    counts: dict[str, Any]
    line: str


@dataclass
class DemoResult:
    """What the demo did and where it put things (``to_json`` is the ``--json`` output)."""

    work_dir: Path
    sandbox_db: Path
    cache_path: Path
    cache_url: str
    config_path: Path
    realm_id: str = ""
    company_name: str = ""
    plan_id: str = ""
    steps: list[Step] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    reports: dict[str, list[str]] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.steps)

    def next_commands(self) -> list[str]:
        cfg = f"QBSYNC_CONFIG={self.config_path}"
        return [
            "qbsync --help",
            f"qbsync rules inactive --cache-url {self.cache_url}",
            f"qbsync rules duplicates --cache-url {self.cache_url}",
            f"qbsync report aging --cache-url {self.cache_url}",
            f"qbsync writeback plan --rule inactive --realm {self.realm_id} --cache-url {self.cache_url}",
            f"qbsync sandbox serve --db {self.sandbox_db} --port 8760   "
            "(the sandbox again, until Ctrl-C; in another shell:)",
            f"  export {cfg} QBSYNC_ENVIRONMENT=http://127.0.0.1:8760 QBSYNC_CLIENT_ID={CLIENT_ID} "
            f"QBSYNC_CLIENT_SECRET={CLIENT_SECRET}",
            "  qbsync sync   (the demo's connection still holds; `qbsync auth login --no-browser` redoes it)",
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "work_dir": str(self.work_dir), "sandbox_db": str(self.sandbox_db),
            "cache_path": str(self.cache_path), "cache_url": self.cache_url,
            "config_path": str(self.config_path), "realm_id": self.realm_id,
            "company_name": self.company_name, "writeback_plan_id": self.plan_id,
            "seconds": round(self.seconds, 2),
            "steps": [{"name": s.name, "seconds": round(s.seconds, 2), "counts": s.counts}
                      for s in self.steps],
            "files": {k: str(v) for k, v in self.files.items()},
            "reports": self.reports,
            "next_commands": self.next_commands(),
        }

    def tour(self) -> str:
        lines = ["", "== Reports (first rows) =="]
        for name, preview in self.reports.items():
            lines += ["", f"-- qbsync report {name} --", *preview]
        lines += ["", "== What is where ==",
                  f"  work dir      {self.work_dir}",
                  f"  sandbox DB    {self.sandbox_db}  (company {self.company_name}, realm {self.realm_id})",
                  f"  cache         {self.cache_path}",
                  f"  cache URL     {self.cache_url}",
                  f"  settings      {self.config_path}  (cache_url, token_dir for the commands below)"]
        width = max((len(k) for k in self.files), default=0)
        for kind, path in self.files.items():
            lines.append(f"  {kind:<{width}}  {path}")
        lines += ["", "== Counts =="]
        for s in self.steps:
            lines.append(f"  {s.name:<10} {s.seconds:6.1f} s  {s.line}")
        lines.append(f"  {'total':<10} {self.seconds:6.1f} s")
        if self.plan_id:
            lines.append(f"  write-back plan {self.plan_id} was saved but NOT applied (dry run only).")
        lines += ["", "== Try next =="] + [f"  {c}" for c in self.next_commands()]
        return "\n".join(lines) + "\n"


# ---- the work directory -------------------------------------------------------------------------------


def prepare_dir(work_dir: Path, fresh: bool, clock: Clock) -> None:
    """Make ``work_dir`` ready: new or empty is fine, a previous demo only with ``fresh``, else refuse."""
    try:
        _prepare_dir(work_dir, fresh, clock)
    except OSError as exc:
        raise InputError(f"cannot prepare the demo directory {work_dir}: {exc.strerror or exc}",
                         hint="pass --dir with a directory you can write to") from None


def _prepare_dir(work_dir: Path, fresh: bool, clock: Clock) -> None:
    if work_dir.exists() and not work_dir.is_dir():
        raise InputError(f"{work_dir} exists and is not a directory", hint="pass --dir with another path")
    if work_dir.is_dir() and any(work_dir.iterdir()):
        if not (work_dir / MARKER).is_file():
            raise InputError(f"{work_dir} is not empty and does not hold a qbsync demo; "
                             "the demo will not write into it or delete anything there",
                             hint="pass --dir with a new or empty directory")
        if not fresh:
            raise InputError(f"{work_dir} already holds a previous demo",
                             hint="pass --fresh to wipe it and start over, or --dir for another place")
        shutil.rmtree(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    # Written first, so a demo that fails half way can still be wiped with --fresh.
    (work_dir / MARKER).write_text(json.dumps({"created_at": clock.now().isoformat()}) + "\n",
                                   encoding="utf-8")


def _write_config(path: Path, cache_url: str, token_dir: Path) -> None:
    # Only where the demo's data lives: the sandbox port changes on every run, so no environment here.
    text = (f"# Written by `qbsync demo`: point qbsync at the demo's cache and tokens.\n"
            f"[cache]\ncache_url = {json.dumps(cache_url)}\n\n"
            f"[auth]\ntoken_dir = {json.dumps(str(token_dir))}\n")
    path.write_text(text, encoding="utf-8")
    os.chmod(path, 0o600)


# ---- the steps ----------------------------------------------------------------------------------------


class _Steps:
    def __init__(self, result: DemoResult, progress: Progress) -> None:
        self.result = result
        self.progress = progress

    @contextmanager
    def step(self, name: str, doing: str) -> Iterator[dict[str, Any]]:
        self.progress(f"[{len(self.result.steps) + 1}/{STEPS}] {doing} ...")
        started = time.monotonic()
        counts: dict[str, Any] = {}
        try:
            yield counts
        except QbsyncError:
            raise
        except Exception as exc:
            # A bug or an environment problem: say which step broke instead of a bare traceback.
            log.debug("demo step %s failed", name, exc_info=True)
            raise QbsyncError(f"the demo failed while {doing}: {type(exc).__name__}: {exc}",
                              hint="run `qbsync -vv demo --fresh` for details; the server has been stopped"
                              ) from exc
        line = str(counts.pop("_line", ""))
        took = time.monotonic() - started
        self.result.steps.append(Step(name, took, counts, line))
        self.progress(f"      {line} ({took:.1f} s)")


def _fetch_redirect(url: str, timeout: float) -> str:
    """What a browser would do: follow the authorization URL once and return where it was sent."""
    import requests

    try:
        resp = requests.get(url, allow_redirects=False, timeout=timeout)
    except requests.RequestException as exc:
        raise AuthError(f"cannot reach the sandbox's authorization page ({type(exc).__name__})",
                        hint="check nothing blocks connections to 127.0.0.1") from None
    location = resp.headers.get("Location")
    if resp.status_code not in (301, 302, 303, 307) or not location:
        raise AuthError(f"the sandbox did not redirect the authorization request (HTTP {resp.status_code})",
                        hint="run the demo again with --fresh; if it persists, report a bug")
    return location


def _preview(table: Table) -> list[str]:
    from qbsync.reports import render

    return render.to_text(table).rstrip("\n").splitlines()


def run_demo(options: DemoOptions, *, progress: Progress | None = None,
             clock: Clock | None = None) -> DemoResult:
    """Run every step of the demo into ``options.work_dir``; the sandbox server stops before returning."""
    from qbsync.cache.schema import open_cache
    from qbsync.qbo.client import connect
    from qbsync.qbo.connection import login
    from qbsync.rules.duplicates import DuplicateFindings
    from qbsync.sandbox.generator import CompanySpec, seed_realm
    from qbsync.sandbox.knobs import LatencyProfile
    from qbsync.sandbox.server import DEFAULT_REALM, SandboxServer
    from qbsync.sandbox.store import Store
    from qbsync.settings import load_settings
    from qbsync.sync import runner

    say = progress or (lambda _line: None)
    clock = clock or SystemClock()
    if options.customers < 1:
        raise InputError(f"--customers {options.customers} is too small",
                         hint=f"use at least 1 (default {DEFAULT_CUSTOMERS})")
    work_dir = options.work_dir.expanduser().resolve()
    prepare_dir(work_dir, options.fresh, clock)
    cache_path = work_dir / "cache.sqlite3"
    result = DemoResult(work_dir=work_dir, sandbox_db=work_dir / "sandbox.sqlite3", cache_path=cache_path,
                        cache_url=f"sqlite:///{cache_path}", config_path=work_dir / "qbsync.toml")
    token_dir = work_dir / "tokens"
    _write_config(result.config_path, result.cache_url, token_dir)
    steps = _Steps(result, say)
    today = clock.now().date()
    realm_id = DEFAULT_REALM

    store = Store(str(result.sandbox_db))
    server: SandboxServer | None = None
    try:
        with steps.step("seed", f"seeding a sandbox company of {options.customers:,} customers") as c:
            spec = CompanySpec(seed=options.seed, customers=options.customers, years=options.years,
                               end_date=today)
            truth = seed_realm(store, realm_id, spec, truth_path=work_dir / "sandbox-truth.json")
            c.update(truth["counts"])
            c["_line"] = (f"{store.count(realm_id, 'Customer'):,} customers (jobs included), "
                          f"{sum(n for e, n in truth['counts'].items() if e != 'Customer'):,} other records, "
                          f"{len(truth['duplicate_clusters'])} planted duplicate clusters")

        with steps.step("serve", "starting the sandbox server on 127.0.0.1") as c:
            server = SandboxServer(store, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, host="127.0.0.1",
                                   port=0, latency=LatencyProfile.none(), default_realm=realm_id)
            base_url = server.start()
            c.update(base_url=base_url)
            c["_line"] = f"listening on {base_url}"

        settings = load_settings(
            overrides={"environment": base_url, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                       "cache_url": result.cache_url, "token_dir": str(token_dir), "realm": realm_id},
            env={}, config_path=result.config_path)

        with steps.step("connect", "connecting through OAuth (headless: the demo follows the redirect)") as c:
            urls: list[str] = []
            tokens = login(settings, show=urls.append,
                           paste=lambda: _fetch_redirect(urls[-1], settings.retry.timeout_seconds),
                           open_browser=False, clock=clock)
            result.realm_id, result.company_name = tokens.realm_id, tokens.company_name or ""
            c.update(realm_id=tokens.realm_id, company=tokens.company_name)
            c["_line"] = (f"connected to {tokens.company_name} (realm {tokens.realm_id}); "
                          f"tokens in {token_dir}")

        engine = open_cache(settings.cache_url)
        try:
            with steps.step("sync", "syncing QuickBooks into the local cache") as c:
                with connect(settings, realm_id, clock=clock) as client:
                    summary = runner.run_sync(engine, client, realm_id, clock=clock,
                                              workers=settings.limits.max_concurrent)
                c.update(fetched=summary.fetched, requests=summary.requests,
                         entities={e: n.fetched for e, n in summary.entities.items()})
                c["_line"] = (f"{summary.fetched:,} records over {summary.requests} requests, "
                              f"{len(summary.entities)} entities")
            server.stop()  # everything from here on reads the cache only
            server = None
            # Duplicate matching is the slow part of the exports; the rules step and all three exports
            # share one detection (same realm, same day, no customer or sale written in between).
            duplicates = DuplicateFindings(engine)
            _rules(steps, engine, realm_id, today, clock, result, duplicates)
            _outreach(steps, engine, realm_id, today, clock, result, options.seed, duplicates)
            _reports(steps, engine, realm_id, today, clock, result)
        finally:
            engine.dispose()
    finally:
        if server is not None:
            server.stop()
        store.close()
    return result


def _rules(steps: _Steps, engine: sa.Engine, realm_id: str, today: date, clock: Clock,
           result: DemoResult, find_duplicates: DuplicateFindings) -> None:
    from qbsync.cache.db import session_factory
    from qbsync.rules.activity import load_activity
    from qbsync.rules.disappearing.rank import find_disappearing
    from qbsync.rules.inactive import find_inactive, find_reactivate
    from qbsync.rules.policy import InactivePolicy
    from qbsync.writeback.plan import build_plan

    with steps.step("rules", "running the rules (inactive, reactivate, disappearing, duplicates)") as c:
        policy = InactivePolicy()
        # load_activity is the slow part; every rule below shares its one result.
        activity = load_activity(engine, realm_id, today, policy.include_estimates)
        inactive = find_inactive(activity, policy, today)
        reactivate = find_reactivate(activity, policy, today)
        disappearing = find_disappearing(activity, policy, today, top=50)
        duplicates = find_duplicates(realm_id, today)
        with session_factory(engine)() as session:
            plan = build_plan(session, clock, realm_id, "inactive", today, inactive,
                              include_estimates=policy.include_estimates,
                              params={"days": policy.days, "grace_days": policy.grace_days, "demo": True})
        result.plan_id = plan.plan.id
        counts = plan.counts()
        deact = sum(f.action == "deactivate" for f in inactive)
        dup_records = [f for f in duplicates if f.facts.get("role") == "duplicate"]
        dup_clusters = len({f.facts.get("cluster_id") for f in duplicates})
        c.update(customers=len(activity), inactive=len(inactive), inactive_deactivate=deact,
                 reactivate=len(reactivate), disappearing=len(disappearing.findings),
                 disappearing_scorer=disappearing.scorer, duplicates=len(dup_records),
                 duplicate_clusters=dup_clusters,
                 plan_id=plan.plan.id, plan=dict(counts))
        c["_line"] = (f"inactive {len(inactive)} ({deact} to deactivate, {len(inactive) - deact} to collect "
                      f"first), reactivate {len(reactivate)}, disappearing top {len(disappearing.findings)} "
                      f"(scorer {disappearing.scorer}), duplicates {len(dup_records)} in {dup_clusters} "
                      f"clusters; dry-run plan "
                      f"{plan.plan.id}: {counts.get('change', 0)} to change, {counts.get('blocked', 0)} "
                      f"blocked, {counts.get('manual_merge', 0)} to merge by hand")


def _outreach(steps: _Steps, engine: sa.Engine, realm_id: str, today: date, clock: Clock, result: DemoResult,
              seed: int, duplicates: DuplicateFindings) -> None:
    from qbsync.campaigns import campaign, dunning, exports, segments
    from qbsync.reports import render

    out_dir = result.work_dir / "outreach"
    out_dir.mkdir(exist_ok=True)
    with steps.step("outreach", "writing outreach CSVs (win-back campaign, call, collections, dunning)") as c:
        seg = segments.make("winback", "inactive", {}, "Customers past the inactive threshold")
        try:
            camp = campaign.create(engine, realm_id, CAMPAIGN, seg, today, clock, seed=seed)
        except InputError as exc:
            # A tiny company may have nobody inactive yet; the rest of the demo still makes sense.
            log.warning("no win-back campaign: %s", exc)
            c.update(campaign_members=0)
            camp = None
        rows: dict[str, int] = {}
        if camp is not None:
            c.update(campaign_members=camp.members, campaign_controls=camp.controls)
            for fmt in exports.FORMATS:
                res = exports.export(engine, realm_id, CAMPAIGN, out_dir, clock, fmt=fmt,
                                     duplicates=duplicates)
                for kind, path in res.files.items():
                    key = f"{kind} ({fmt})" if kind == "marketing" else kind
                    result.files[key] = path
                    rows[key] = res.rows[kind]
        # Marketing lists first, in export format order, then the call and collections lists.
        result.files = dict(sorted(result.files.items(), key=lambda kv: not kv[0].startswith("marketing")))
        due = dunning.dunning(engine, realm_id, today)
        path = out_dir / "dunning.csv"
        render.write(dunning.table(due, today), "csv", path)
        result.files["dunning"] = path
        rows["dunning"] = len(due)
        c.update(rows=rows)
        c["_line"] = ", ".join(f"{k} {n}" for k, n in rows.items()) + f" rows in {out_dir}"


def _reports(steps: _Steps, engine: sa.Engine, realm_id: str, today: date, clock: Clock,
             result: DemoResult) -> None:
    from qbsync.reports import aging, baddebt, best, cross, health, payments
    from qbsync.reports.source import default_period

    with steps.step("reports", "running the reports (best, cross, aging, payments, baddebt, health)") as c:
        period = default_period(today)
        tables: dict[str, Table] = {
            "best": best.table(best.best(engine, realm_id, today, period), PREVIEW_ROWS),
            "cross": cross.table(cross.cross(engine, realm_id, today, period, "location"), PREVIEW_ROWS),
            "aging": aging.table(aging.aging(engine, realm_id, today), PREVIEW_ROWS),
            "payments": payments.table(payments.payments(engine, realm_id, today, period,
                                                         payments.PaymentRules()), PREVIEW_ROWS),
            "baddebt": baddebt.table(baddebt.baddebt(engine, realm_id, today), today, PREVIEW_ROWS),
            "health": health.table(health.health(engine, clock, realm_id, timedelta(hours=26)), clock.now()),
        }
        for name, table in tables.items():
            result.reports[name] = _preview(table)
        c.update(reports=len(tables))
        c["_line"] = f"{len(tables)} reports"


__all__ = ["DEFAULT_CUSTOMERS", "DEFAULT_DIR", "DemoOptions", "DemoResult", "prepare_dir", "run_demo"]
