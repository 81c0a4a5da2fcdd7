"""Seed-time benchmark: generate-only (baseline) vs generate + load into the sandbox store, per size.

    python bench/bench_seed.py [--sizes 2000,20000,100000] [--db-dir /tmp]

Prints customers, transactions, seconds and rates; the ratio column is the store's share of the time
against the generate-only baseline run in the same process."""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from datetime import date

from qbsync.sandbox.generator import CompanySpec, generate_company, seed_realm
from qbsync.sandbox.store import Store

END = date(2025, 6, 30)


def _generate_only(spec: CompanySpec) -> tuple[int, int, float]:
    t0 = time.perf_counter()
    customers = txns = 0
    for entity, objs in generate_company(spec).batches():
        if entity == "Customer":
            customers += len(objs)
        elif entity not in ("Item", "Department", "Class"):
            txns += len(objs)
    return customers, txns, time.perf_counter() - t0


def _seed(spec: CompanySpec, db_dir: str) -> float:
    fd, path = tempfile.mkstemp(suffix=".db", dir=db_dir)
    os.close(fd)
    os.unlink(path)
    try:
        t0 = time.perf_counter()
        seed_realm(Store(path), "1", spec)
        return time.perf_counter() - t0
    finally:
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.unlink(path + suffix)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="2000,20000,100000")
    ap.add_argument("--db-dir", default=tempfile.gettempdir())
    args = ap.parse_args()
    print(f"# {date.today()} {platform.node()} {platform.processor() or platform.machine()} "
          f"cpus={os.cpu_count()} python {platform.python_version()}")
    print("| customers | customer rows | transactions | generate only (s) | seed into SQLite file (s) | "
          "txns/s seeded | seed / generate |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for size in (int(s) for s in args.sizes.split(",")):
        spec = CompanySpec(seed=42, customers=size, years=3, end_date=END)
        customers, txns, gen = _generate_only(spec)
        seeded = _seed(spec, args.db_dir)
        print(f"| {size:,} | {customers:,} | {txns:,} | {gen:.1f} | {seeded:.1f} | {txns / seeded:,.0f} | "
              f"{seeded / gen:.2f} |", flush=True)


if __name__ == "__main__":
    main()
