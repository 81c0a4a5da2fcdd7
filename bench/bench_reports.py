"""Time every report and rule step over synthetic caches, against an older revision's code in the same run.

    python bench/bench_reports.py [--sizes 10000:200000,100000:2000000] [--against REV] [--rounds 2]
                                  [--dir DIR] [--reuse] [--steps aging,payments,...]

For each size (customers:transactions) it builds a SQLite cache (or reuses one in ``--dir``). Then,
``--rounds`` times, it runs each step in a fresh child process (``bench/report_steps.py``), as a
user runs each report with its own ``qbsync`` command: for every step in turn, with this checkout's
code and with the code of ``--against`` (exported by ``git archive``; default: the revision before
the reports rework), at every size one right after the other. It keeps each step's fastest run. It
prints per size the wall and CPU seconds of both and their ratio, then per step how time grew from
the smallest size to the largest for both (linear: x10 for ten times the data): the ratio of the
fastest runs, and the median over the rounds of each round's ratio (the two sizes of a round ran
seconds apart, under the same load). CPU seconds are steadier than wall seconds on a shared
machine; both are printed, with the load average.

(Until session 10 one child per size and round ran every step after the others, the two sizes of a
step minutes apart: the load moved between them, and a step ran after whatever the steps before it
had left in the process, so the same code's growth moved by 1-2 from run to run.)

The data: invoices (85 % paid, half of those with a linked payment), sales receipts, 1-3 sales
lines each with classes and locations, and a bookkeeper's everyday extras drawn from their own
random stream (so the rest is as before): sales tax on a third of the sales, credit memos (half
unapplied), refund receipts, unapplied payments, and A/R journal entries with their accounts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from qbsync.cache.db import create_schema, make_engine
from qbsync.cache.models import (
    Account,
    CreditMemo,
    Customer,
    Department,
    Invoice,
    JournalEntry,
    JournalLine,
    Payment,
    PaymentLink,
    QboClass,
    Realm,
    RefundReceipt,
    SalesLine,
    SalesReceipt,
)

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


def everyday(engine: sa.Engine, customers: int, txns: int, seed: int = 1) -> None:
    """The everyday extras, from their own random stream (the data ``build`` made is unchanged)."""
    rng = random.Random(seed + 7)
    when = datetime(2020, 1, 1, tzinfo=UTC)
    base = {"realm_id": REALM, "sync_token": "0", "created_at": when, "updated_at": when, "raw": {}}
    start = AS_OF - timedelta(days=3 * 365)
    n_inv = txns // 2
    with engine.begin() as conn:
        taxed: Any
        for taxed in (Invoice, SalesReceipt):  # a third of the sales taxed at 8.25 %
            conn.execute(sa.update(taxed).where(taxed.realm_id == REALM, sa.func.length(taxed.id) % 3 == 0)
                         .values(total_tax=sa.func.round(taxed.total_amt * 825 / 10825)))
        conn.execute(sa.insert(Account), [
            {**base, "id": "ar", "name": "Accounts Receivable (A/R)", "active": True,
             "account_type": "Accounts Receivable"},
            {**base, "id": "inc", "name": "Finance charges", "active": True, "account_type": "Income"}])

        def day() -> date:
            return start + timedelta(days=rng.randrange(3 * 365))

        def who() -> str:
            return str(int(rng.paretovariate(1.2) * 7) % customers)

        memos = [{**base, "id": f"m{i}", "customer_id": who(), "txn_date": day(),
                  "total_amt": (t := Decimal(rng.randrange(1000, 50000)) / 100),
                  "balance": t if rng.random() < 0.5 else Decimal(0), "voided": False}
                 for i in range(n_inv // 30)]
        refunds = [{**base, "id": f"f{i}", "customer_id": str(rng.randrange(customers)), "txn_date": day(),
                    "total_amt": Decimal(rng.randrange(500, 10000)) / 100, "voided": False}
                   for i in range(txns // 100)]
        unapplied = [{**base, "id": f"u{i}", "customer_id": who(), "txn_date": day(),
                      "total_amt": (t := Decimal(rng.randrange(1000, 30000)) / 100), "unapplied_amt": t}
                     for i in range(n_inv // 100)]
        entries = [{**base, "id": f"j{i}", "txn_date": day(),
                    "total_amt": Decimal(rng.randrange(500, 5000)) / 100} for i in range(n_inv // 500)]
        jlines = []
        for e in entries:
            cid = who()
            for n, (posting, account, entity) in enumerate((("Debit", "ar", cid), ("Credit", "inc", None))):
                jlines.append({"realm_id": REALM, "txn_type": "JournalEntry", "txn_id": e["id"],
                               "line_no": n + 1, "posting_type": posting, "account_id": account,
                               "entity_type": "Customer" if entity else None, "entity_id": entity,
                               "amount": e["total_amt"]})
        table: Any
        for table, rows in ((CreditMemo, memos), (RefundReceipt, refunds), (Payment, unapplied),
                            (JournalEntry, entries), (JournalLine, jlines)):
            for chunk in range(0, len(rows), 20000):
                conn.execute(sa.insert(table), rows[chunk:chunk + 20000])


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


STEPS = ("baseline", "aging", "best", "cross", "cross-class", "payments", "statement", "baddebt", "dunning",
         "find_inactive", "find_reactivate", "disappearing", "segment-rfm", "campaign-create")
#: the revision before the reports rework (qbsync 'today' in issues 11 and 15)
AGAINST = "ebbf192"


def _export(rev: str, into: Path) -> Path:
    root = Path(__file__).resolve().parent.parent
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(root), "archive", rev, "qbsync"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def _child(code: Path, url: str, steps: list[str]) -> dict[str, dict[str, float]]:
    env = {**os.environ, "PYTHONPATH": str(code)}
    out = subprocess.run([sys.executable, str(Path(__file__).with_name("report_steps.py")), url, REALM,
                          ",".join(steps)], env=env, check=True, capture_output=True, text=True).stdout
    result: dict[str, dict[str, float]] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="10000:200000,100000:2000000",
                    help="customers:transactions, comma-separated (smallest first)")
    ap.add_argument("--against", default=AGAINST, help="git revision of the code to compare with")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "qbsync-bench-reports")
    ap.add_argument("--reuse", action="store_true", help="Keep caches already built in --dir")
    ap.add_argument("--steps", default=",".join(STEPS))
    args = ap.parse_args()
    steps = args.steps.split(",")
    sizes = [tuple(int(x) for x in s.split(":")) for s in args.sizes.split(",")]
    args.dir.mkdir(parents=True, exist_ok=True)
    new_code = Path(__file__).resolve().parent.parent
    old_code = _export(args.against, args.dir / f"code-{args.against}")
    print(f"{date.today()}  {platform.machine()}  Python {platform.python_version()}  "
          f"load average {os.getloadavg()[0]:.1f}  new code: checkout, old code: {args.against}")
    best: dict[tuple[int, str, str], dict[str, float]] = {}
    urls = {}
    for customers, txns in sizes:
        path = args.dir / f"c{customers}-t{txns}.sqlite3"
        urls[customers] = url = f"sqlite:///{path}"
        if not (args.reuse and path.exists()):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            t0 = time.perf_counter()
            engine = build(url, customers, txns)
            everyday(engine, customers, txns)
            engine.dispose()
            took = time.perf_counter() - t0
            print(f"built {customers:,} customers / ~{txns:,} transactions in {took:.0f} s")
    # each step in its own process, both sizes of it one right after the other: the machine's drift
    # over the run (other tenants, memory bandwidth) falls on both sizes of a step alike
    loads: dict[int, list[float]] = {customers: [] for customers, _ in sizes}
    rounds: dict[tuple[int, str, str], list[float]] = {}
    for _ in range(args.rounds):
        for step in steps:
            for label, code in (("old", old_code), ("new", new_code)):
                for customers, _txns in sizes:
                    loads[customers].append(os.getloadavg()[0])
                    t = _child(code, urls[customers], [step])[step]
                    key = (customers, label, step)
                    rounds.setdefault(key, []).append(t["cpu"])
                    if key not in best or t["cpu"] < best[key]["cpu"]:
                        best[key] = t
    for customers, txns in sizes:
        print(f"\n{customers:,} customers / ~{txns:,} transactions (fastest of {args.rounds}; load average "
              f"{min(loads[customers]):.1f}-{max(loads[customers]):.1f})")
        print(f"{'step':18} {'old wall':>9} {'new wall':>9} {'new/old':>8} {'old cpu':>8} {'new cpu':>8} "
              f"{'new/old':>8}")
        for step in steps:
            o, n = best[(customers, "old", step)], best[(customers, "new", step)]
            print(f"{step:18} {o['wall']:9.2f} {n['wall']:9.2f} {n['wall'] / o['wall']:8.2f} "
                  f"{o['cpu']:8.2f} {n['cpu']:8.2f} {n['cpu'] / max(o['cpu'], 1e-9):8.2f}")
    if len(sizes) > 1:
        small, large = sizes[0][0], sizes[-1][0]
        print(f"\ngrowth from {small:,} to {large:,} customers (x{large / small:g} the data): CPU of the "
              f"fastest runs (wall), and the median of the rounds' CPU ratios")
        print(f"{'step':18} {'old':>23} {'new':>23}")
        for step in steps:
            cells = []
            for label in ("old", "new"):
                a, b = best[(small, label, step)], best[(large, label, step)]
                cpu, wall = b["cpu"] / max(a["cpu"], 1e-9), b["wall"] / max(a["wall"], 1e-9)
                paired = statistics.median(y / max(x, 1e-9) for x, y in zip(
                    rounds[(small, label, step)], rounds[(large, label, step)], strict=True))
                cells.append(f"x{cpu:5.1f} (x{wall:5.1f}) x{paired:5.1f}")
            print(f"{step:18} {cells[0]:>23} {cells[1]:>23}")


if __name__ == "__main__":
    main()
