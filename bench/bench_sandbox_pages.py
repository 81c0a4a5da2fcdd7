"""Benchmark: how many 1,000-invoice query pages per second the sandbox serves.

Baseline, in the same process: the store answering the same page queries without HTTP. Then the
same pages over HTTP with requests (JSON decoded), and through python-quickbooks (objects built).
Usage: python bench/bench_sandbox_pages.py [--invoices 50000] [--pages 30]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")

from qbsync.sandbox.clock import SandboxClock
from qbsync.sandbox.knobs import ThrottleLimits
from qbsync.sandbox.query import parse
from qbsync.sandbox.server import SandboxServer
from qbsync.sandbox.store import Store

REALM = "1000000001"


def _invoice(i: int, rng: random.Random, base: datetime) -> dict[str, Any]:
    amount = round(rng.uniform(20, 2000), 2)
    day = base + timedelta(minutes=i)
    stamp = day.strftime("%Y-%m-%dT%H:%M:%S-08:00")
    return {
        "Id": str(i), "SyncToken": "0", "domain": "QBO", "sparse": False, "DocNumber": str(1000 + i),
        "TxnDate": day.date().isoformat(), "DueDate": (day + timedelta(days=30)).date().isoformat(),
        "CustomerRef": {"value": str(1 + i % 2000), "name": f"Customer {1 + i % 2000}"},
        "CurrencyRef": {"value": "USD", "name": "United States Dollar"}, "LinkedTxn": [],
        "Line": [{"Id": "1", "LineNum": 1, "Amount": amount, "DetailType": "SalesItemLineDetail",
                  "SalesItemLineDetail": {"ItemRef": {"value": "1", "name": "Services"}, "Qty": 1,
                                          "UnitPrice": amount, "TaxCodeRef": {"value": "NON"}}},
                 {"Amount": amount, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}],
        "TxnTaxDetail": {"TotalTax": 0}, "TotalAmt": amount, "Balance": amount if i % 3 else 0,
        "PrintStatus": "NeedToPrint", "EmailStatus": "NotSet",
        "MetaData": {"CreateTime": stamp, "LastUpdatedTime": stamp},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--invoices", type=int, default=50_000)
    ap.add_argument("--pages", type=int, default=30)
    args = ap.parse_args()
    rng = random.Random(1)
    base = datetime(2022, 1, 1, tzinfo=UTC)
    clock = SandboxClock(datetime(2025, 1, 1, tzinfo=UTC))
    store = Store(clock=clock)
    store.create_realm(REALM, company_info={"CompanyName": "Bench Co"})
    t = time.perf_counter()
    n = store.bulk_load(REALM, "Invoice", (_invoice(i, rng, base) for i in range(1, args.invoices + 1)))
    load_s = time.perf_counter() - t
    print(f"bulk_load: {n} invoices in {load_s:.2f} s = {n / load_s:,.0f} objects/s")

    total_pages = max(1, args.invoices // 1000)
    starts = [1 + 1000 * (k % total_pages) for k in range(args.pages)]
    queries = [f"SELECT * FROM Invoice ORDERBY Id STARTPOSITION {s} MAXRESULTS 1000" for s in starts]

    t = time.perf_counter()
    for q in queries:
        assert len(store.run_query(REALM, parse(q)).texts) == 1000
    store_pps = args.pages / (time.perf_counter() - t)

    with SandboxServer(store, clock=clock, limits=ThrottleLimits(per_minute=None, concurrent=None)) as srv:
        import requests

        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {srv.issue_tokens(REALM)['access_token']}"
        s.headers["Accept"] = "application/json"
        url = f"{srv.api_url_v3}/company/{REALM}/query"
        t = time.perf_counter()
        for q in queries:
            body = s.get(url, params={"query": q, "minorversion": "75"}, timeout=60).json()
            assert body["QueryResponse"]["maxResults"] == 1000
        http_pps = args.pages / (time.perf_counter() - t)

        from intuitlib.client import AuthClient
        from quickbooks import QuickBooks
        from quickbooks.objects.invoice import Invoice

        tokens = srv.issue_tokens(REALM)
        ac = AuthClient(srv.client_id, srv.client_secret, "http://localhost/cb",
                        environment=srv.discovery_url, access_token=tokens["access_token"],
                        refresh_token=tokens["refresh_token"])
        qb = QuickBooks(auth_client=ac, refresh_token=tokens["refresh_token"], company_id=REALM,
                        minorversion=75)
        qb.api_url_v3 = srv.api_url_v3
        t = time.perf_counter()
        for q in queries:
            assert len(Invoice.query(q, qb=qb)) == 1000
        qb_pps = args.pages / (time.perf_counter() - t)

    print(f"date {datetime.now(UTC).date()}  machine {platform.machine()} {os.cpu_count()} cpu, "
          f"Python {platform.python_version()}")
    print(f"{'path':<44}{'pages/s':>10}{'ratio':>8}")
    print(f"{'store only, no HTTP (baseline)':<44}{store_pps:>10.1f}{1.0:>8.2f}")
    print(f"{'HTTP + requests + json':<44}{http_pps:>10.1f}{http_pps / store_pps:>8.2f}")
    print(f"{'HTTP + python-quickbooks Invoice.query':<44}{qb_pps:>10.1f}{qb_pps / store_pps:>8.2f}")


if __name__ == "__main__":
    main()
