"""Benchmark of the sandbox's webhook sender (issue 12 part 4).

(a) What sending costs the API call that causes the event: N customer creates over HTTP with no
endpoint registered (the baseline, same run), with a registered endpoint that answers at once, and
with one that takes 1 s to answer each delivery (the sender is stuck; the API must not be). The
sandbox, the receiver and the client each run in their own process, as they would for real.
(b) How fast a burst drains: E events spread over R companies written behind the client's back,
then timed until every one is delivered (batches of 100, companies mixed) to a local receiver.

Usage: python bench/bench_webhooks.py [--writes 1000] [--events 10000] [--realms 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this tree's qbsync, not the installed one
os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")

TOKEN = "bench-verifier-token"


class Receiver:
    def __init__(self, delay: float = 0.0) -> None:
        self.deliveries = 0
        self.events = 0
        self.realms_per_delivery: list[int] = []
        self.done = threading.Event()
        self.expect = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                if delay:
                    time.sleep(delay)
                outer.deliveries += 1
                outer.events += len(body)
                outer.realms_per_delivery.append(len({e["intuitaccountid"] for e in body}))
                if outer.expect and outer.events >= outer.expect:
                    outer.done.set()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/webhooks"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _server(realms: int) -> Any:
    from qbsync.sandbox.clock import SandboxClock
    from qbsync.sandbox.knobs import ThrottleLimits
    from qbsync.sandbox.server import SandboxServer
    from qbsync.sandbox.store import Store

    clock = SandboxClock(datetime(2024, 3, 1, tzinfo=UTC))
    store = Store(clock=clock)
    for i in range(realms):
        store.create_realm(f"9000{i:06d}", company_info={"CompanyName": f"Bench {i}"})
    return SandboxServer(store, clock=clock, limits=ThrottleLimits(None, None))


def _receiver_process(delay: float, out: Any, stop: Any) -> None:
    receiver = Receiver(delay=delay)
    out.put(receiver.url)
    stop.wait()
    receiver.close()


def _sandbox_process(url: str | None, out: Any, stop: Any) -> None:
    from qbsync.sandbox.webhooks import Endpoint

    srv = _server(1)
    with srv:
        realm = srv.store.realms()[0]
        if url:
            srv.store.outbox.register(Endpoint.make(url, TOKEN))
        out.put((srv.api_url_v3, realm, srv.issue_tokens(realm)["access_token"]))
        cpu = time.process_time()
        stop.wait()
        out.put((srv.store.outbox.counts()["queued_events"], time.process_time() - cpu))


def api_writes(n: int, mode: str) -> tuple[float, float]:
    """N creates from this process to a sandbox in its own process; the receiver in a third one."""
    ctx = mp.get_context("spawn")
    out, stop = ctx.Queue(), ctx.Event()
    url = None
    procs = []
    if mode != "no endpoint":
        rec = ctx.Process(target=_receiver_process, args=(1.0 if mode == "slow endpoint" else 0.0, out, stop))
        rec.start()
        procs.append(rec)
        url = out.get(timeout=60)
    box = ctx.Process(target=_sandbox_process, args=(url, out, stop))
    box.start()
    procs.append(box)
    api, realm, token = out.get(timeout=60)
    s = requests.Session()
    s.headers.update({"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                      "Accept": "application/json"})
    endpoint = f"{api}/company/{realm}/customer"
    started = time.perf_counter()
    for i in range(n):
        resp = s.post(endpoint, data=json.dumps({"DisplayName": f"Bench Customer {i}"}), timeout=30)
        assert resp.status_code == 200, resp.text
    elapsed = time.perf_counter() - started
    stop.set()
    pending, cpu = out.get(timeout=60)
    for proc in procs:
        proc.join(timeout=60)
    print(f"  {mode:<14} {n} creates in {elapsed:6.2f} s ({n / elapsed:6.0f}/s), sandbox CPU {cpu:5.2f} s; "
          f"events still queued at the end: {pending}", flush=True)
    return elapsed, cpu


def burst(events: int, realms: int) -> None:
    from qbsync.sandbox.webhooks import Endpoint

    srv = _server(realms)
    receiver = Receiver()
    receiver.expect = events
    with srv:
        names = srv.store.realms()
        srv.store.outbox.register(Endpoint.make(receiver.url, TOKEN))
        srv.store.outbox.set_knobs({"delay": 3600})  # hold everything until the burst is written
        t = time.perf_counter()
        for i in range(events):
            srv.store.put(names[i % realms], "Customer", {"DisplayName": f"Burst {i}"})
        written = time.perf_counter() - t
        started = time.perf_counter()
        srv.store.outbox.set_knobs({"delay": 0})
        assert receiver.done.wait(600), f"only {receiver.events} of {events} delivered"
        elapsed = time.perf_counter() - started
    receiver.close()
    mixed = sum(receiver.realms_per_delivery) / len(receiver.realms_per_delivery)
    print(f"  burst: {events:,} events over {realms} companies written in {written:.1f} s; delivered in "
          f"{elapsed:.2f} s ({events / elapsed:,.0f} events/s) as {receiver.deliveries} deliveries "
          f"(mean {events / receiver.deliveries:.0f} events, {mixed:.0f} companies each)", flush=True)


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--writes", type=int, default=1000)
    ap.add_argument("--events", type=int, default=10000)
    ap.add_argument("--realms", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print(f"load average at start: {_load()}")
    print(f"(a) API writes, {args.rounds} interleaved rounds")
    modes = ("no endpoint", "endpoint", "slow endpoint")
    times: dict[str, list[float]] = {m: [] for m in modes}
    cpus: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(args.rounds):
        for mode in modes:
            wall, cpu = api_writes(args.writes, mode)
            times[mode].append(wall)
            cpus[mode].append(cpu)
    base, base_cpu = statistics.median(times["no endpoint"]), statistics.median(cpus["no endpoint"])
    for mode in modes:
        med, cpu = statistics.median(times[mode]), statistics.median(cpus[mode])
        print(f"  median {mode:<14} wall {med:6.2f} s = x{med / base:.2f}, sandbox CPU {cpu:5.2f} s = "
              f"x{cpu / base_cpu:.2f} the no-endpoint baseline")
    print("(b) burst")
    burst(args.events, args.realms)
    print(f"load average at end: {_load()}")


if __name__ == "__main__":
    main()
