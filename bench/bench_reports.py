"""Time every report and campaign step over a synthetic cache (default 100,000 customers, 2,000,000 txns).

    python bench/bench_reports.py [--customers N] [--txns N] [--url sqlite:///path]

Prints seconds per report and its ratio to a baseline in the same process (a plain
``SELECT COUNT(*), SUM(total_amt) FROM invoices``), so figures from noisy, shared machines compare.
"""

from __future__ import annotations

import argparse
import platform
import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from qbsync.cache.db import create_schema, make_engine
from qbsync.cache.models import (
    Customer,
    Department,
    Invoice,
    Payment,
    PaymentLink,
    QboClass,
    Realm,
    SalesLine,
    SalesReceipt,
)
from qbsync.campaigns import campaign, dunning, segments
from qbsync.clock import FixedClock
from qbsync.reports import aging, baddebt, best, cross, payments, statement
from qbsync.reports.source import Period

REALM = "bench"
AS_OF = date(2025, 6, 30)


def _lines(rng: random.Random, txn_type: str, txn_id: str, total: Decimal,
           cls: str | None) -> list[dict[str, Any]]:
    """1-3 sales lines adding up to ``total``; one transaction in ten has a line in another class."""
    n = rng.randrange(1, 4)
    cuts = sorted(rng.randrange(1, int(total * 100)) for _ in range(n - 1))
    amounts = [Decimal(b - a) / 100 for a, b in zip([0, *cuts], [*cuts, int(total * 100)], strict=True)]
    split = n > 1 and rng.random() < 0.1
    return [{"realm_id": REALM, "txn_type": txn_type, "txn_id": txn_id, "line_no": k, "item_id": "1",
             "class_id": str(rng.randrange(4)) if split and k == n - 1 else cls, "qty": None, "amount": a}
            for k, a in enumerate(amounts)]


def build(url: str, customers: int, txns: int, seed: int = 1) -> sa.Engine:
    rng = random.Random(seed)
    lrng = random.Random(seed + 1)  # classes and lines: the rest of the data is as before they existed
    engine = make_engine(url)
    create_schema(engine)
    when = datetime(2020, 1, 1, tzinfo=UTC)
    base = {"realm_id": REALM, "sync_token": "0", "created_at": when, "updated_at": when, "raw": {}}
    with engine.begin() as conn:
        conn.execute(sa.insert(Realm).values(realm_id=REALM, company_name="Bench", created_at=when))
        conn.execute(sa.insert(Department),
                     [{**base, "id": str(d), "name": f"Loc {d}", "active": True} for d in range(5)])
        conn.execute(sa.insert(QboClass),
                     [{**base, "id": str(k), "name": f"Class {k}", "active": True} for k in range(4)])
        conn.execute(sa.insert(Customer), [
            {**base, "id": str(i), "display_name": f"Customer {i}", "email": f"c{i}@example.com",
             "active": True, "balance": Decimal(0), "balance_with_jobs": Decimal(0)}
            for i in range(customers)])
    n_inv = txns // 2
    n_rec = txns - n_inv - n_inv // 2
    start = AS_OF - timedelta(days=3 * 365)
    batch: list[dict[str, Any]] = []
    pays: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    with engine.begin() as conn:
        for i in range(n_inv):
            cid = str(int(rng.paretovariate(1.2) * 7) % customers)
            day = start + timedelta(days=rng.randrange(3 * 365))
            total = Decimal(rng.randrange(1000, 200000)) / 100
            paid = rng.random() < 0.85
            cls = str(lrng.randrange(4)) if lrng.random() < 0.8 else None
            batch.append({**base, "id": f"i{i}", "customer_id": cid, "txn_date": day,
                          "due_date": day + timedelta(days=30), "total_amt": total,
                          "balance": Decimal(0) if paid else total, "voided": False,
                          "department_id": str(rng.randrange(5)), "class_id": cls})
            lines.extend(_lines(lrng, "Invoice", f"i{i}", total, cls))
            if paid and len(pays) < n_inv // 2:
                pays.append({**base, "id": f"p{i}", "customer_id": cid, "txn_date": day + timedelta(
                    days=rng.randrange(10, 60)), "total_amt": total, "unapplied_amt": Decimal(0)})
                links.append({"realm_id": REALM, "payment_id": f"p{i}", "line_no": 0, "txn_id": f"i{i}",
                              "txn_type": "Invoice", "amount": total})
            if len(batch) >= 20000:
                conn.execute(sa.insert(Invoice), batch)
                conn.execute(sa.insert(SalesLine), lines)
                batch.clear()
                lines.clear()
        if batch:
            conn.execute(sa.insert(Invoice), batch)
            conn.execute(sa.insert(SalesLine), lines)
            lines.clear()
        for chunk in range(0, len(pays), 20000):
            conn.execute(sa.insert(Payment), pays[chunk:chunk + 20000])
            conn.execute(sa.insert(PaymentLink), links[chunk:chunk + 20000])
        rec: list[dict[str, Any]] = []
        for i in range(n_rec):
            row: dict[str, Any] = {**base, "id": f"r{i}", "customer_id": str(rng.randrange(customers)),
                                   "txn_date": start + timedelta(days=rng.randrange(3 * 365)),
                                   "total_amt": Decimal(rng.randrange(500, 20000)) / 100,
                                   "department_id": str(rng.randrange(5))}
            total = row["total_amt"]
            cls = str(lrng.randrange(4)) if lrng.random() < 0.8 else None
            rec.append({**row, "class_id": cls})
            lines.extend(_lines(lrng, "SalesReceipt", f"r{i}", total, cls))
            if len(rec) >= 20000:
                conn.execute(sa.insert(SalesReceipt), rec)
                conn.execute(sa.insert(SalesLine), lines)
                rec.clear()
                lines.clear()
        if rec:
            conn.execute(sa.insert(SalesReceipt), rec)
            conn.execute(sa.insert(SalesLine), lines)
    return engine


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--txns", type=int, default=2_000_000)
    ap.add_argument("--url")
    ap.add_argument("--reports-only", action="store_true",
                    help="Skip segment and campaign steps (they run the rules' activity loader).")
    args = ap.parse_args()
    url = args.url or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    t0 = time.perf_counter()
    engine = build(url, args.customers, args.txns)
    print(f"built {args.customers} customers / ~{args.txns} transactions in {time.perf_counter() - t0:.1f}s "
          f"on {engine.dialect.name}, {platform.machine()} {platform.python_version()}")

    def baseline() -> None:
        with engine.connect() as conn:
            conn.execute(sa.select(sa.func.count(), sa.func.sum(Invoice.total_amt))).one()

    base = timed(baseline)
    year = Period(AS_OF - timedelta(days=364), AS_OF)
    clock = FixedClock(datetime(2025, 6, 30, 12, tzinfo=UTC))
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("aging", lambda: aging.aging(engine, REALM, AS_OF)),
        ("best", lambda: best.best(engine, REALM, AS_OF, year)),
        ("cross (location)", lambda: cross.cross(engine, REALM, AS_OF, year)),
        ("cross (class)", lambda: cross.cross(engine, REALM, AS_OF, year, "class")),
        ("payments", lambda: payments.payments(engine, REALM, AS_OF, year)),
        ("statement (top customer)", lambda: statement.statement(engine, REALM, "0", AS_OF)),
        ("baddebt", lambda: baddebt.baddebt(engine, REALM, AS_OF)),
        ("dunning", lambda: dunning.dunning(engine, REALM, AS_OF)),
        ("segment rfm", lambda: segments.evaluate(engine, REALM, segments.make(
            "r", "rfm", {"segments": ["At Risk", "Can't Lose Them"]}), AS_OF)),
        ("campaign create (all)", lambda: campaign.create(
            engine, REALM, "bench", segments.make("a", "all", {}), AS_OF, clock, seed=1)),
        ("campaign report", lambda: campaign.report(engine, REALM, "bench", AS_OF + timedelta(days=1))),
    ]
    if args.reports_only:
        steps = steps[:8]
    print(f"{'step':28} {'seconds':>9} {'x baseline':>11}")
    print(f"{'baseline count+sum':28} {base:9.2f} {1:11.1f}")
    for name, fn in steps:
        s = timed(fn)
        print(f"{name:28} {s:9.2f} {s / base:11.1f}")


if __name__ == "__main__":
    main()
