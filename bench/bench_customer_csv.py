"""Customer CSVs for `rules duplicates --input-csv`: QuickBooks' headers understood, and reading a CSV
costs no more than reading the same customers from the cache.

    python bench/bench_customer_csv.py [--sizes 100000 200000] [--accuracy 20000] [--tree CHECKOUT]

Speed and memory: the same synthetic customers (`bench/synthetic_customers.py`) written once as a
SQLite cache and once as a CSV with QuickBooks' field names as headers (DisplayName, GivenName,
FamilyName, CompanyName, PrimaryEmailAddr, PrimaryPhone, Line1, Line2, City, CountrySubDivisionCode,
PostalCode, Country); `qbsync rules duplicates` is run on each as its own process, as a user runs
it, and its wall time and peak memory (the process's own maximum resident set) are compared: the
cache run is the baseline of the same run.

Accuracy: the same list with names and address only (no email, no phone), read with QuickBooks'
headers; F1 of the clusters against the planted truth.

``--tree`` runs another checkout's qbsync (e.g. main before a change) for a before/after.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from synthetic_customers import customers  # noqa: E402

from qbsync.rules.duplicates.records import CustomerRecord  # noqa: E402

#: QuickBooks' field names (the speed runs), and the names-and-address list of the accuracy run, whose
#: Line1/Line2 a reader that does not know QuickBooks' names drops.
HEADERS = {
    "qbo": ["Id", "DisplayName", "GivenName", "FamilyName", "CompanyName", "PrimaryEmailAddr", "PrimaryPhone",
            "Line1", "Line2", "City", "CountrySubDivisionCode", "PostalCode", "Country"],
    "plain": ["Id", "Customer", "First Name", "Last Name", "Company", "Email", "Phone", "Street",
              "Address Line 2", "City", "State", "Zip", "Country"],
    "names-address": ["Id", "Name", "First Name", "Last Name", "Company", "Email", "Phone", "Line1", "Line2",
                      "City", "State", "Zip", "Country"],
}

RUN = """
import resource, sys
from qbsync.cli import main
sys.argv = ["qbsync", *sys.argv[1:]]
try:
    main()
finally:
    print("maxrss_kib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def _row(r: CustomerRecord, names_and_address: bool) -> list[str]:
    contact = ["", ""] if names_and_address else [r.email or "", r.phone or ""]
    return [r.customer_id, r.display_name, r.given_name or "", r.family_name or "", r.company_name or "",
            *contact, r.bill_line1 or "", r.bill_line2 or "", r.bill_city or "", r.bill_region or "",
            r.bill_postal_code or "", r.bill_country or ""]


def write_csv(records: list[CustomerRecord], path: Path, headers: str,
              names_and_address: bool = False) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADERS[headers])
        w.writerows(_row(r, names_and_address) for r in records)


def write_cache(records: list[CustomerRecord], url: str) -> None:
    import sqlalchemy as sa

    from qbsync.cache.models import Customer, Realm
    from qbsync.cache.schema import open_cache

    engine = open_cache(url)
    when = datetime(2021, 1, 1, tzinfo=UTC)
    base = {"realm_id": "9130", "sync_token": "0", "created_at": when, "updated_at": when, "raw": {}}
    with engine.begin() as conn:
        conn.execute(sa.insert(Realm).values(realm_id="9130", company_name="Bench", country="US",
                                             created_at=when))
        for lo in range(0, len(records), 20_000):
            conn.execute(sa.insert(Customer), [
                {**base, "id": r.customer_id, "display_name": r.display_name, "given_name": r.given_name,
                 "family_name": r.family_name, "company_name": r.company_name, "email": r.email,
                 "phone": r.phone, "bill_line1": r.bill_line1, "bill_line2": r.bill_line2,
                 "bill_city": r.bill_city, "bill_region": r.bill_region,
                 "bill_postal_code": r.bill_postal_code, "bill_country": r.bill_country, "active": True,
                 "balance": Decimal(0), "balance_with_jobs": Decimal(0)} for r in records[lo:lo + 20_000]])
    engine.dispose()


def run(tree: Path, args: list[str]) -> dict[str, float]:
    """`qbsync ARGS` as its own process: wall seconds, peak MiB, and its JSON answer."""
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    out.with_suffix(".toml").write_text("")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", RUN, *args, "--format", "json", "-o", str(out)], cwd=tree,
                          capture_output=True, text=True,
                          env={**os.environ, "QBSYNC_CONFIG": str(out.with_suffix(".toml"))})
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"qbsync {' '.join(args)} failed:\n{proc.stderr}")
    rss = next(int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("maxrss_kib"))
    doc = json.loads(out.read_text())
    out.unlink()
    return {"seconds": wall, "peak_mib": rss / 1024, "clusters": len(doc["clusters"]),
            "f1": doc.get("evaluation", {}).get("f1", float("nan"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="*", default=[100_000, 200_000],
                    help="speed runs (none: --sizes with no value)")
    ap.add_argument("--accuracy", type=int, default=20_000, help="customers in the accuracy list (0: none)")
    ap.add_argument("--tree", type=Path, default=ROOT, help="the checkout whose qbsync runs")
    ap.add_argument("--headers", choices=["qbo", "plain"], default="qbo",
                    help="headers of the speed runs' CSV (plain: known without QuickBooks' names)")
    args = ap.parse_args()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; qbsync from {args.tree}")
    work = Path(tempfile.mkdtemp(prefix="bench-csv-"))
    if args.accuracy:
        records, truth = customers(args.accuracy)
        path = work / "names-address.csv"
        write_csv(records, path, "names-address", names_and_address=True)
        labelled = work / "labelled.csv"
        with path.open(newline="") as src, labelled.open("w", newline="") as dst:
            rows = list(csv.reader(src))
            w = csv.writer(dst)
            w.writerow([*rows[0], "Entity"])
            w.writerows([*row, truth[row[0]]] for row in rows[1:])
        got = run(args.tree, ["rules", "duplicates", "--input-csv", str(labelled), "--truth-column", "Entity",
                              "--country", "US"])
        print(f"accuracy, {args.accuracy:,} customers, names and address only (Line1, Line2 headers): "
              f"F1 {got['f1']:.4f} ({got['seconds']:.1f} s, peak {got['peak_mib']:.0f} MiB)")
    for n in args.sizes:
        records, _ = customers(n)
        path, url = work / f"customers-{n}.csv", f"sqlite:///{work}/cache-{n}.sqlite3"
        write_csv(records, path, args.headers)
        write_cache(records, url)
        cache = run(args.tree, ["rules", "duplicates", "--cache-url", url, "--as-of", "2025-06-30"])
        csvrun = run(args.tree, ["rules", "duplicates", "--input-csv", str(path), "--country", "US"])
        c, v = cache, csvrun
        print(f"{n:>8,} customers: cache {c['seconds']:6.1f} s {c['peak_mib']:7.0f} MiB ({c['clusters']} "
              f"clusters) | CSV {v['seconds']:6.1f} s {v['peak_mib']:7.0f} MiB ({v['clusters']} clusters) | "
              f"CSV/cache time x{v['seconds'] / c['seconds']:.2f}, "
              f"memory x{v['peak_mib'] / c['peak_mib']:.2f}")


if __name__ == "__main__":
    main()
