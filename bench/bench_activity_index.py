"""Covering activity index: load_activity and the sync's invoice writes, old index vs new, one process.

    python bench/bench_activity_index.py [--pg URL] [--db PATH] [--customers 100000] [--txns 2000000]
        [--raw-bytes 0] [--rounds 2] [--writes 200000] [--before-code OLD_ACTIVITY.py] [--skip-read]

Read side: fills a cache like bench_rules.py (``--raw-bytes`` pads every row's ``raw`` JSON to a
realistic size), then alternates the two index sets of the transaction tables — "old", the
(realm, customer, date) index of revision 0001, and "new", revision 0002's covering
``ix_<table>_customer_activity`` — timing the bench_rules baseline (a bare fetch of every
(customer, date)) and ``load_activity`` under each, and checks that both give the same facts.
``--before-code`` runs the old index with an older ``qbsync/rules/activity.py``
(``git show REV:qbsync/rules/activity.py > FILE``) so "before" is the previous code as shipped.

Write side: inserts ``--writes`` new invoices (QBO JSON, three lines each, a page of 1,000 per
transaction through ``cache.upsert.write_json``, as the sync writes them) into an empty invoices
table carrying each index set in turn, and reports rows/s.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import platform
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_rules import AS_OF, REALM, baseline, fill

from qbsync.cache.db import create_schema, make_engine
from qbsync.cache.models import Realm
from qbsync.rules import activity

TABLES = {"invoices": ("balance", "voided"), "sales_receipts": (), "payments": ("unapplied_amt",),
          "credit_memos": ("balance",), "estimates": ()}


def use_indexes(engine: sa.Engine, variant: str, tables: dict[str, tuple[str, ...]] = TABLES) -> float:
    """Give every transaction table the ``variant`` index set ("old" or "new"); seconds it took."""
    t0 = time.perf_counter()
    with engine.begin() as conn:
        for table, own in tables.items():
            old, new = f"ix_{table}_realm_customer_date", f"ix_{table}_customer_activity"
            conn.exec_driver_sql(f"DROP INDEX IF EXISTS {new if variant == 'old' else old}")
            cols = "realm_id, customer_id, txn_date" if variant == "old" else \
                ", ".join(("realm_id", "customer_id", "txn_date", "total_amt", *own, "department_id"))
            conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {old if variant == 'old' else new} "
                                 f"ON {table} ({cols})")
    if engine.dialect.name == "postgresql":
        # autovacuum does this after a bulk load; an index-only scan needs the visibility map it sets
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"VACUUM ANALYZE {', '.join(tables)}")
    return time.perf_counter() - t0


def plan(engine: sa.Engine) -> str:
    """How the database reads the invoices aggregate."""
    query = activity._aggregate_query(activity._Reader(engine.dialect.name), activity.Invoice, REALM, AS_OF,
                                      AS_OF - timedelta(days=365), True)
    sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return "; ".join(r[-1] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
        return " / ".join(r[0].strip() for r in conn.exec_driver_sql(f"EXPLAIN {sql}")
                          if "Scan" in r[0] or "Aggregate" in r[0] or "Sort" in r[0])


def digest(acts: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    return {cid: tuple(repr(getattr(a, f.name)) for f in dataclasses.fields(a)) for cid, a in acts.items()}


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("activity_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def read_side(engine: sa.Engine, rounds: int, before: ModuleType | None) -> None:
    runs: list[tuple[str, ModuleType]] = [("old", activity), ("new", activity)]
    if before is not None:
        runs.insert(0, ("old", before))
    results: dict[str, dict[str, tuple[str, ...]]] = {}
    for r in range(rounds):
        for variant, code in runs:
            switch = use_indexes(engine, variant)
            t0 = time.perf_counter()
            baseline(engine)
            base = time.perf_counter() - t0
            t0 = time.perf_counter()
            acts = code.load_activity(engine, REALM, AS_OF)
            secs = time.perf_counter() - t0
            label = f"{variant} index, {'before' if code is before else 'current'} code"
            print(f"round {r + 1}  {label:<26} baseline {base:6.2f} s  load_activity {secs:6.2f} s  "
                  f"x{secs / base:5.2f}  (index switch {switch:5.1f} s)", flush=True)
            if r == 0 and code is activity:
                print(f"    plan: {plan(engine)}", flush=True)
            results.setdefault(label, digest(acts))
    first = next(iter(results.values()))
    print("same facts in every run:", all(found == first for found in results.values()))


def invoice(n: int, customer: int, day: date, rng_cents: int) -> dict[str, Any]:
    stamp = f"{day.isoformat()}T15:04:05-07:00"
    lines = [{"Id": str(i + 1), "LineNum": i + 1, "Amount": (rng_cents + 100 * i) / 100,
              "DetailType": "SalesItemLineDetail", "Description": f"Consulting services, item {i + 1}",
              "SalesItemLineDetail": {"ItemRef": {"value": str(i + 3), "name": f"Service {i + 3}"},
                                      "UnitPrice": (rng_cents + 100 * i) / 100, "Qty": 1,
                                      "TaxCodeRef": {"value": "NON"}}} for i in range(3)]
    total = sum(line["Amount"] for line in lines)
    return {"Id": str(n), "SyncToken": "0", "domain": "QBO", "sparse": False,
            "MetaData": {"CreateTime": stamp, "LastUpdatedTime": stamp},
            "CustomField": [], "DocNumber": f"{n:06d}", "TxnDate": day.isoformat(),
            "CurrencyRef": {"value": "USD", "name": "United States Dollar"}, "LinkedTxn": [],
            "Line": [*lines, {"Amount": total, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}],
            "TxnTaxDetail": {"TotalTax": 0},
            "CustomerRef": {"value": str(customer), "name": f"Customer {customer}"},
            "BillAddr": {"Id": str(customer + 1000), "Line1": "123 Main Street", "City": "Springfield",
                         "CountrySubDivisionCode": "CA", "PostalCode": "94000"},
            "DueDate": (day + timedelta(days=30)).isoformat(), "TotalAmt": total,
            "ApplyTaxAfterDiscount": False,
            "PrintStatus": "NotSet", "EmailStatus": "NotSet", "Balance": 0 if n % 7 else total,
            "BillEmail": {"Address": f"customer{customer}@example.com"}}


def write_side(url: str, writes: int, rounds: int) -> None:
    from qbsync.cache.upsert import write_json

    engine = make_engine(url)
    create_schema(engine)
    with engine.begin() as conn:
        if conn.execute(sa.select(Realm.realm_id).where(Realm.realm_id == REALM)).first() is None:
            conn.execute(sa.insert(Realm).values(realm_id=REALM, created_at=datetime(2020, 1, 1, tzinfo=UTC)))
    start = AS_OF - timedelta(days=3 * 365)
    pages = []
    for p in range(0, writes, 1000):
        objs = [invoice(n + 1, (n * 7919) % 20_000 + 1, start + timedelta(days=(n * 31) % 1095),
                        500 + n % 9000) for n in range(p, min(p + 1000, writes))]
        pages.append(orjson.dumps(objs))
    print(f"write side: {writes:,} invoices in {len(pages)} pages of 1,000, "
          f"{sum(map(len, pages)) / writes:,.0f} bytes of JSON each")
    seen = datetime(2025, 7, 1, tzinfo=UTC)
    rates: dict[str, list[float]] = {"old": [], "new": []}
    for r in range(rounds):
        for variant in ("old", "new"):
            with engine.begin() as conn:
                conn.exec_driver_sql("DELETE FROM sales_lines")
                conn.exec_driver_sql("DELETE FROM invoices")
            use_indexes(engine, variant, {"invoices": TABLES["invoices"]})
            t0 = time.perf_counter()
            for page in pages:
                with engine.begin() as conn:
                    write_json(conn, "Invoice", REALM, page, (), seen)
            secs = time.perf_counter() - t0
            rates[variant].append(writes / secs)
            print(f"round {r + 1}  {variant} index  {secs:6.2f} s  {writes / secs:8,.0f} invoices/s",
                  flush=True)
    old, new = sum(rates["old"]) / rounds, sum(rates["new"]) / rounds
    print(f"mean: old {old:,.0f} /s, new {new:,.0f} /s, new/old {new / old:.3f}")
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--txns", type=int, default=2_000_000)
    ap.add_argument("--db", type=Path, default=Path("/tmp/qbsync_bench_index.sqlite3"))
    ap.add_argument("--pg", help="PostgreSQL URL instead of SQLite (an empty database or schema)")
    ap.add_argument("--raw-bytes", type=int, default=0, help="pad each row's raw JSON to about this size")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--writes", type=int, default=200_000, help="invoices written (0: skip the write side)")
    ap.add_argument("--before-code", type=Path, help="an older activity.py to run with the old index")
    ap.add_argument("--reuse", action="store_true", help="keep an existing --db file instead of refilling it")
    ap.add_argument("--skip-read", action="store_true")
    args = ap.parse_args()
    url = args.pg or f"sqlite:///{args.db}"
    print(f"{date.today().isoformat()}  {platform.node()}  {platform.machine()}  "
          f"Python {platform.python_version()}  {url.split(':')[0]}")
    if not args.skip_read:
        engine = make_engine(url)
        if args.pg or not (args.reuse and args.db.exists()):
            if not args.pg:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{args.db}{suffix}").unlink(missing_ok=True)
            t0 = time.perf_counter()
            fill(engine, args.customers, args.txns, raw_bytes=args.raw_bytes)
            print(f"fill {time.perf_counter() - t0:.1f} s (raw: {args.raw_bytes} bytes)", flush=True)
        read_side(engine, args.rounds, load_module(args.before_code) if args.before_code else None)
        engine.dispose()
    if args.writes:
        if args.pg:
            with make_engine(args.pg).begin() as conn:
                for table in ("sales_lines", "payment_links", "invoices", "sales_receipts", "payments",
                              "credit_memos", "estimates", "customers"):
                    conn.exec_driver_sql(f"TRUNCATE {table} CASCADE")
            write_url = args.pg
        else:
            write_db = args.db.with_name(args.db.stem + "_writes.sqlite3")
            for suffix in ("", "-wal", "-shm"):
                Path(f"{write_db}{suffix}").unlink(missing_ok=True)
            write_url = f"sqlite:///{write_db}"
        write_side(write_url, args.writes, args.rounds)


if __name__ == "__main__":
    main()
