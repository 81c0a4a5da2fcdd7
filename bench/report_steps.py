"""Run report and rule steps over an existing cache with whichever qbsync is first on sys.path.

    PYTHONPATH=<code root> python bench/report_steps.py URL REALM STEP[,STEP...]

Prints one JSON object: per step its wall and CPU seconds. ``bench_reports.py`` runs it once with
the checkout's code and once with an older revision's (exported by ``git archive``) on the same
cache, so both are timed in the same run, on the same data, under the same load. Only APIs that
both sides have are called.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

AS_OF = date(2025, 6, 30)


def steps(url: str, realm: str) -> dict[str, Callable[[], Any]]:
    from qbsync.cache.db import make_engine
    from qbsync.campaigns import dunning
    from qbsync.reports import aging, baddebt, best, cross, payments, statement
    from qbsync.reports.source import Period

    engine = make_engine(url)
    year = Period(AS_OF - timedelta(days=364), AS_OF)

    def rule(name: str) -> Any:
        """One rule as `qbsync rules NAME` runs it: the activity read from the cache, then the rule."""
        from qbsync.rules.activity import load_activity
        from qbsync.rules.policy import InactivePolicy

        activity = load_activity(engine, realm, AS_OF)
        if name == "inactive":
            from qbsync.rules.inactive import find_inactive

            return find_inactive(activity, InactivePolicy(), AS_OF)
        if name == "reactivate":
            from qbsync.rules.inactive import find_reactivate

            return find_reactivate(activity, InactivePolicy(), AS_OF)
        from qbsync.rules.disappearing.rank import find_disappearing

        return find_disappearing(activity, InactivePolicy(), AS_OF)

    def segment() -> Any:
        from qbsync.campaigns import segments

        return segments.evaluate(engine, realm, segments.make("r", "rfm", {"segments": ["At Risk"]}), AS_OF)

    def campaign() -> Any:
        from qbsync.campaigns import campaign as camp
        from qbsync.campaigns import segments
        from qbsync.clock import FixedClock

        return camp.create(engine, realm, f"bench{time.time_ns()}", segments.make("a", "all", {}), AS_OF,
                           FixedClock(datetime(2025, 6, 30, 12, tzinfo=UTC)), seed=1)

    return {
        "baseline": lambda: _baseline(engine),
        "aging": lambda: aging.aging(engine, realm, AS_OF),
        "best": lambda: best.best(engine, realm, AS_OF, year),
        "cross": lambda: cross.cross(engine, realm, AS_OF, year),
        "cross-class": lambda: cross.cross(engine, realm, AS_OF, year, "class"),
        "payments": lambda: payments.payments(engine, realm, AS_OF, year),
        "statement": lambda: statement.statement(engine, realm, "7", AS_OF),
        "baddebt": lambda: baddebt.baddebt(engine, realm, AS_OF),
        "dunning": lambda: dunning.dunning(engine, realm, AS_OF),
        "find_inactive": lambda: rule("inactive"),
        "find_reactivate": lambda: rule("reactivate"),
        "disappearing": lambda: rule("disappearing"),
        "segment-rfm": segment,
        "campaign-create": campaign,
    }


def _baseline(engine: Any) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT count(*), sum(total_amt) FROM invoices").one()


def main() -> None:
    url, realm, wanted = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    table = steps(url, realm)
    out: dict[str, Any] = {}
    for name in wanted:
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        table[name]()
        out[name] = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
