"""Rules benchmark: activity + inactive + reactivate + disappearing over a big synthetic cache.

    python bench/bench_rules.py [--customers 100000] [--txns 2000000] [--db /tmp/rules.sqlite3] [--pg URL]
                                [--before REV [--rounds 3]] [--reuse --realm bench]

Fills a cache (SQLite by default) with customers and sales-side transactions through the driver's
bulk insert, then times each stage. The baseline, run in the same process, is a bare driver-level
fetch of every (customer, date) row of the transaction tables: the least any reader of the history
must do. Ratios are stage time / baseline.

``--before REV`` times the disappearing rule of an older revision (``git archive REV qbsync``) against
this tree's on the same activities, in the same run: each round runs the old and then the new code
in a fresh process (the same unpickled activities, imports outside the timing), so both see the
machine as it is then; the medians and their ratio are printed.
"""

from __future__ import annotations

import argparse
import io
import pickle
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import sqlalchemy as sa

from qbsync.cache.db import create_schema, make_engine
from qbsync.cache.models import Realm
from qbsync.rules.activity import load_activity
from qbsync.rules.disappearing.rank import find_disappearing
from qbsync.rules.inactive import find_inactive, find_reactivate
from qbsync.rules.policy import InactivePolicy

REALM = "1"
AS_OF = date(2025, 6, 30)
START = AS_OF - timedelta(days=3 * 365)
T = TypeVar("T")


def _timed(label: str, fn: Callable[[], T], times: dict[str, float]) -> T:
    t0 = time.perf_counter()
    out = fn()
    times[label] = time.perf_counter() - t0
    return out


def _purchases(n_customers: int, n_txns: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(customer index, day offset) of each transaction: gamma rates, exponential lifetimes (churn)."""
    born = rng.integers(0, 3 * 365 - 30, n_customers)
    life = rng.exponential(rng.gamma(2.0, 250.0, n_customers))
    end = np.minimum(born + life, 3 * 365)
    weights = rng.gamma(1.2, 1.0, n_customers) * np.maximum(end - born, 1)
    counts = 1 + rng.multinomial(n_txns - n_customers, weights / weights.sum())
    cust = np.repeat(np.arange(n_customers), counts)
    span = np.repeat(np.maximum(end - born, 1), counts)
    day = np.repeat(born, counts) + (rng.random(len(cust)) * span).astype(int)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    day[first] = born  # the first purchase opens the account
    return cust, day


def _chunks(rows: list[tuple[Any, ...]], size: int = 50_000) -> Iterator[list[tuple[Any, ...]]]:
    for i in range(0, len(rows), size):
        yield rows[i:i + size]


def fill(engine: sa.Engine, n_customers: int, n_txns: int, seed: int = 1, raw_bytes: int = 0) -> None:
    """Bulk-insert a synthetic company (SQLite storage format: money in cents, ISO dates).

    ``raw_bytes`` pads each transaction's ``raw`` JSON to about that size (a QBO invoice is 1-3 KB);
    the pads are random text, so PostgreSQL's TOAST compression does not shrink them to nothing.
    """
    rng = np.random.default_rng(seed)
    letters = list("abcdefghijklmnopqrstuvwxyz0123456789 ")
    pads = ["{}"] if raw_bytes <= 10 else [
        '{"pad": "' + "".join(rng.choice(letters, raw_bytes - 11)) + '"}' for _ in range(64)]
    create_schema(engine)
    sqlite = engine.dialect.name == "sqlite"

    def amount(cents: int) -> Any:
        return cents if sqlite else f"{cents / 100:.2f}"

    def stamp(d: date) -> Any:
        dt = datetime(d.year, d.month, d.day, 12, tzinfo=UTC)
        return dt.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else dt

    with engine.begin() as conn:
        conn.execute(sa.insert(Realm).values(realm_id=REALM, created_at=datetime(2020, 1, 1, tzinfo=UTC)))
    cust, day = _purchases(n_customers, n_txns, rng)
    kind = rng.choice(5, size=len(cust), p=[0.36, 0.30, 0.30, 0.02, 0.02])
    cents = rng.integers(500, 50_000, len(cust))
    open_inv = rng.random(len(cust)) < 0.02
    first_day = np.full(n_customers, 3 * 365)
    np.minimum.at(first_day, cust, day)
    dates = [START + timedelta(days=int(d)) for d in range(3 * 365 + 1)]
    customers = []
    for i in range(n_customers):
        c_date = dates[min(int(first_day[i]), 3 * 365)] - timedelta(days=3)
        active = bool(rng.random() > 0.1)
        parent = str(i) if i % 50 == 1 and i > 1 else None  # a few jobs, under the previous customer
        customers.append((REALM, str(i + 1), "0", stamp(c_date), stamp(c_date), "{}",
                          f"Customer {i + 1}" + ("" if active else " (deleted)"), active,
                          parent is not None, parent, 1 if parent else 0, False, amount(0), amount(0)))
    txn_cols = "realm_id, id, sync_token, created_at, updated_at, raw, customer_id, txn_date, total_amt"
    tables = {0: ("invoices", ", balance, voided"), 1: ("sales_receipts", ", voided"),
              2: ("payments", ", unapplied_amt, voided"), 3: ("credit_memos", ", balance, voided"),
              4: ("estimates", "")}
    rows: dict[int, list[tuple[Any, ...]]] = {k: [] for k in tables}
    for n, (c, d, k, a, o) in enumerate(zip(cust.tolist(), day.tolist(), kind.tolist(), cents.tolist(),
                                            open_inv.tolist(), strict=True)):
        when = dates[d]
        base = (REALM, str(n + 1), "0", stamp(when), stamp(when), pads[n % len(pads)], str(c + 1),
                when.isoformat(), amount(a))
        if k == 0:
            rows[k].append((*base, amount(a if o else 0), False))
        elif k in (2, 3):
            rows[k].append((*base, amount(0), False))
        elif k == 1:
            rows[k].append((*base, False))
        else:
            rows[k].append(base)
    with engine.begin() as conn:
        for chunk in _chunks(customers):
            conn.exec_driver_sql(
                "INSERT INTO customers (realm_id, id, sync_token, created_at, updated_at, raw, display_name, "
                "active, job, parent_id, level, bill_with_parent, balance, balance_with_jobs) VALUES "
                + ("(?,?,?,?,?,?,?,?,?,?,?,?,?,?)" if sqlite else "(" + ",".join(["%s"] * 14) + ")"), chunk)
        for k, (table, extra) in tables.items():
            n_cols = 9 + extra.count(",")
            marks = ",".join(["?" if sqlite else "%s"] * n_cols)
            for chunk in _chunks(rows[k]):
                conn.exec_driver_sql(f"INSERT INTO {table} ({txn_cols}{extra}) VALUES ({marks})", chunk)


def baseline(engine: sa.Engine) -> int:
    n = 0
    with engine.connect() as conn:
        for table in ("invoices", "sales_receipts", "payments", "credit_memos"):
            n += len(conn.exec_driver_sql(f"SELECT customer_id, txn_date FROM {table}").fetchall())
    return n


_TIME_ONE = """
import pickle, sys, time
from datetime import date
sys.path.insert(0, sys.argv[1])
from qbsync.rules.disappearing.rank import find_disappearing
from qbsync.rules.policy import InactivePolicy
try:
    import sklearn.linear_model  # noqa: F401  (the command pays this import once, outside the rule)
except ImportError:
    pass
with open(sys.argv[2], "rb") as fh:
    acts = pickle.load(fh)
t0 = time.perf_counter()
report = find_disappearing(acts, InactivePolicy(), date.fromisoformat(sys.argv[3]), top=100)
print(time.perf_counter() - t0, report.scorer)
"""


def compare_disappearing(acts: Any, rev: str, rounds: int) -> None:
    """The disappearing rule of ``rev`` against this tree's, alternating, each in a fresh process."""
    here = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "old"
        old.mkdir()
        archive = subprocess.run(["git", "-C", str(here), "archive", rev, "qbsync"], check=True,
                                 capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(old, filter="data")
        data = Path(tmp) / "acts.pickle"
        data.write_bytes(pickle.dumps(acts))
        times: dict[str, list[float]] = {"before": [], "now": []}
        scorers = {}
        for _ in range(rounds):
            for label, root in (("before", old), ("now", here)):
                cmd = [sys.executable, "-c", _TIME_ONE, str(root), str(data), AS_OF.isoformat()]
                out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.split()
                times[label].append(float(out[0]))
                scorers[label] = out[1]
    before, now = statistics.median(times["before"]), statistics.median(times["now"])
    print(f"disappearing at {rev} vs this tree, {rounds} alternating rounds (load average "
          f"{Path('/proc/loadavg').read_text().split()[0] if Path('/proc/loadavg').exists() else '?'}):")
    print(f"  before ({scorers['before']}): " + ", ".join(f"{t:.2f}" for t in times["before"])
          + f" s, median {before:.2f} s")
    print(f"  now    ({scorers['now']}): " + ", ".join(f"{t:.2f}" for t in times["now"])
          + f" s, median {now:.2f} s")
    print(f"  now / before = {now / before:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--txns", type=int, default=2_000_000)
    ap.add_argument("--db", type=Path, default=Path("/tmp/qbsync_bench_rules.sqlite3"))
    ap.add_argument("--pg", help="PostgreSQL URL instead of SQLite (an empty database or schema)")
    ap.add_argument("--reuse", action="store_true", help="Keep an existing --db file instead of refilling it")
    ap.add_argument("--before", metavar="REV", help="also time the disappearing rule of this git revision")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds for --before")
    ap.add_argument("--realm", default=REALM,
                    help="the company to read with --reuse (bench_reports' caches: bench)")
    args = ap.parse_args()
    url = args.pg or f"sqlite:///{args.db}"
    engine = make_engine(url)
    times: dict[str, float] = {}
    if args.pg or not (args.reuse and args.db.exists()):
        if not args.pg:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{args.db}{suffix}").unlink(missing_ok=True)
        _timed("fill (bulk insert)", lambda: fill(engine, args.customers, args.txns), times)
    rows = _timed("baseline: fetch every (customer, date)", lambda: baseline(engine), times)
    policy = InactivePolicy()
    acts = _timed("load_activity", lambda: load_activity(engine, args.realm, AS_OF), times)
    inactive = _timed("inactive rule", lambda: find_inactive(acts, policy, AS_OF), times)
    react = _timed("reactivate rule", lambda: find_reactivate(acts, policy, AS_OF), times)
    report = _timed("disappearing (backtest cuts, learned ranker, value)",
                    lambda: find_disappearing(acts, policy, AS_OF, top=100), times)
    base = times["baseline: fetch every (customer, date)"]
    print(f"{date.today().isoformat()}  {platform.node()}  {platform.processor() or platform.machine()}  "
          f"Python {platform.python_version()}  {engine.dialect.name}")
    print(f"{len(acts):,} customers, {rows:,} transactions (+ estimates) in the cache")
    for label, secs in times.items():
        print(f"{label:<52} {secs:8.2f} s   x{secs / base:6.2f} baseline")
    total = sum(v for k, v in times.items() if not k.startswith(("fill", "baseline")))
    label = "activity + inactive + reactivate + disappearing"
    print(f"{label:<52} {total:8.2f} s   x{total / base:6.2f} baseline")
    deact = sum(f.action == "deactivate" for f in inactive)
    print(f"findings: {deact} deactivate, {len(inactive) - deact} collections, {len(react)} reactivate, "
          f"{len(report.findings)} disappearing listed of {report.candidates} scored")
    print(report.summary())
    # the fits must not depend on the order the database returns customers in: compare across backends
    for name, params in report.models.items():
        print(f"{name}: " + ", ".join(f"{k} {v:.6g}" if isinstance(v, float) else f"{k} {v}"
                                      for k, v in params.items()))
    if args.before:
        compare_disappearing(acts, args.before, args.rounds)


if __name__ == "__main__":
    main()
