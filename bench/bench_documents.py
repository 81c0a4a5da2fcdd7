"""`report html` against the reports it contains, and a batch of PDF statements, on a synthetic cache.

    python bench/bench_documents.py [--customers 100000] [--txns 2000000] [--statements 1000]
                                    [--cache PATH | --url sqlite:///PATH [--skip-build]]

Builds the cache of ``bench_reports.py`` (or copies the SQLite cache at ``--cache``, e.g. a shared
one in /work/data/synth built by ``bench_reports.py --reuse``, so that it is never written to; or
reuses ``--url`` as it is with ``--skip-build``), then times, in one process: each report the HTML
page contains, run alone the way its command runs it (the rules each load the activity
themselves); then ``report html`` end to end (every report once, the rules sharing one activity
load, the page rendered and written), its ratio to the slowest report and the file's size; then
``--statements`` balance-forward statements rendered into one PDF (WeasyPrint), and with
``--files`` one file per customer; ``--most-lines N`` leaves the longer statements out (for
comparison, not the benchmark's batch). Targets (docs/benchmarks.md): the page under 2x the slowest
report and under 5 MB; 1,000 statements in under a minute.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's qbsync and bench, whatever the current directory

from bench.bench_reports import AS_OF, REALM, build  # noqa: E402
from qbsync.cache.schema import open_cache  # noqa: E402
from qbsync.reports.source import default_period  # noqa: E402


def copy_cache(source: Path, into: Path) -> str:
    """A private copy of the SQLite cache at ``source`` (its WAL included), as a URL: the bench writes
    to the cache (ANALYZE, a schema upgrade) and a shared cache must stay as it was built."""
    if not source.is_file():
        raise SystemExit(f"no SQLite cache at {source} (build it with bench/bench_reports.py --reuse)")
    start = time.perf_counter()
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(into)
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
    print(f"copied {source} ({source.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - start:.0f} s")
    return f"sqlite:///{into}"


def cpu(who: int | None = None) -> float:
    """CPU seconds of this process and of its children that have ended (the PDF workers), or of ``who``."""
    if who is not None:
        used = resource.getrusage(who)
        return used.ru_utime + used.ru_stime
    return cpu(resource.RUSAGE_SELF) + cpu(resource.RUSAGE_CHILDREN)


def timed(label: str, fn: Callable[[], Any], out: dict[str, float]) -> Any:
    start, start_cpu = time.perf_counter(), cpu()
    result = fn()
    out[label] = time.perf_counter() - start
    out[f"{label} cpu"] = cpu() - start_cpu
    print(f"  {label:38} {out[label]:8.2f} s  (CPU {out[f'{label} cpu']:7.2f} s)", flush=True)
    return result


def reports_alone(engine: sa.Engine) -> dict[str, float]:
    from qbsync.campaigns import campaign
    from qbsync.reports import aging, best, cross, lost
    from qbsync.rules.activity import load_activity
    from qbsync.rules.disappearing.rank import find_disappearing
    from qbsync.rules.duplicates import run_on_cache
    from qbsync.rules.inactive import find_inactive, find_reactivate
    from qbsync.rules.policy import InactivePolicy

    policy = InactivePolicy()
    period = default_period(AS_OF)
    t: dict[str, float] = {}
    print("each report alone:")
    timed("aging", lambda: aging.aging(engine, REALM, AS_OF), t)
    timed("best", lambda: best.best(engine, REALM, AS_OF, period), t)
    timed("cross (location)", lambda: cross.cross(engine, REALM, AS_OF, period), t)
    timed("rules inactive", lambda: find_inactive(load_activity(engine, REALM, AS_OF), policy, AS_OF), t)
    timed("rules reactivate", lambda: find_reactivate(load_activity(engine, REALM, AS_OF), policy, AS_OF), t)
    timed("rules disappearing",
          lambda: find_disappearing(load_activity(engine, REALM, AS_OF), policy, AS_OF), t)
    timed("rules duplicates", lambda: run_on_cache(engine, REALM, AS_OF), t)
    timed("campaign reports", lambda: [campaign.report(engine, REALM, c.name, AS_OF)
                                       for c in campaign.campaigns(engine, REALM)], t)
    timed("report lost", lambda: lost.lost(engine, REALM, AS_OF, "quarter"), t)
    return t


def html_page(engine: sa.Engine, path: Path) -> tuple[float, float, int, dict[str, float]]:
    from qbsync.documents import htmlreport
    from qbsync.files import write_atomic

    start, start_cpu, start_kids = time.perf_counter(), cpu(), cpu(resource.RUSAGE_CHILDREN)
    opts = htmlreport.Options(AS_OF, default_period(AS_OF), today=AS_OF)
    collected = htmlreport.collect(engine, REALM, opts)
    page = htmlreport.render_page(collected, generated=datetime.now(UTC))
    write_atomic(path, page)
    kids = cpu(resource.RUSAGE_CHILDREN) - start_kids
    used = cpu() - start_cpu
    print(f"  report html's CPU seconds: {used - kids:.2f} in this process, {kids:.2f} in the second one "
          "(on two idle cores the page takes about the larger of the two)")
    parts = {**collected.seconds, "processes": collected.processes}
    return time.perf_counter() - start, used, path.stat().st_size, parts


def statements_pdf(engine: sa.Engine, n: int, tmp: Path, files: bool, start: date | None,
                   balance: str, most_lines: int | None = None) -> None:
    import io

    from pypdf import PdfReader

    from qbsync.documents.company import company
    from qbsync.documents.compose import Composer, PdfMaker
    from qbsync.documents.statements import recipient, view
    from qbsync.files import write_atomic_bytes
    from qbsync.reports import statement

    composer = Composer(company(engine, REALM))
    t: dict[str, float] = {}
    print(f"balance-forward statements from {start or 'the first transaction'} to {AS_OF} of the customers "
          f"with --balance {balance} (the batch `documents statements --all` makes), the first {n}:")
    batch = timed("statements (report statement --all)",
                  lambda: statement.statements(engine, REALM, AS_OF, start, "balance-forward", balance), t)
    print(f"  ({len(batch):,} in the batch)")
    if most_lines is not None:  # not the benchmark's batch: said on every line that reports it
        long = [st for st in batch if len(st.lines) > most_lines]
        batch = [st for st in batch if len(st.lines) <= most_lines]
        print(f"  WITHOUT the {len(long):,} statements of more than {most_lines} lines (--most-lines)")
    batch = batch[:n]
    articles = timed("their HTML (templates)", lambda: [
        composer.article("statement.html", recipient(st, None), st=view(st)) for st in batch], t)
    maker = PdfMaker()
    pdf = timed("one PDF with all of them (-o)",
                lambda: maker.pdfs(composer, articles, title="Statements"), t)
    write_atomic_bytes(tmp / "statements.pdf", pdf)
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    lines = sum(len(st.lines) for st in batch)
    wall = sum(v for k, v in t.items() if not k.endswith(" cpu"))
    print(f"  {'total':38} {wall:8.2f} s  (CPU {sum(v for k, v in t.items() if k.endswith(' cpu')):7.2f} s) "
          f"for {len(articles)} statements, {lines:,} lines, {pages:,} pages, {len(pdf) / 1e6:.1f} MB")
    if files:
        (tmp / "one-per-customer").mkdir()
        paths = [tmp / "one-per-customer" / f"{a.customer_id}.pdf" for a in articles]
        timed("one PDF per customer (--dir)",
              lambda: maker.files(composer, articles, paths, title="Statements"), t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--txns", type=int, default=2_000_000)
    ap.add_argument("--url")
    ap.add_argument("--skip-build", action="store_true", help="Reuse the cache at --url as it is.")
    ap.add_argument("--cache", type=Path, help="Copy this SQLite cache and use the copy (its sizes, not "
                                                "--customers/--txns).")
    ap.add_argument("--statements", type=int, default=1000)
    ap.add_argument("--no-html", action="store_true", help="Only the statements.")
    ap.add_argument("--files", action="store_true", help="Also the statements as one PDF per customer.")
    ap.add_argument("--from", dest="start", default=AS_OF.replace(day=1).isoformat(),
                    help="Statements' start date (default: the month's first day, a monthly run; 'none': "
                         "the whole history, as without `documents statements --from`).")
    ap.add_argument("--balance", default="open", choices=("open", "overdue", "all"))
    ap.add_argument("--most-lines", type=int, help="Leave out the statements with more lines than this "
                                                   "(not the benchmark's batch: for comparison only).")
    args = ap.parse_args()
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else "?"
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"load average {load}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.cache:
            url = copy_cache(args.cache, tmp / "bench.sqlite3")
        else:
            url = args.url or f"sqlite:///{tmp / 'bench.sqlite3'}"
        if not (args.skip_build or args.cache):
            start = time.perf_counter()
            build(url, args.customers, args.txns).dispose()
            print(f"built {args.customers:,} customers / {args.txns:,} transactions in "
                  f"{time.perf_counter() - start:.0f} s")
        engine = open_cache(url)
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))  # as autovacuum (PostgreSQL) or a long-lived cache would have
        if not args.no_html:
            timings = reports_alone(engine)
            alone = {k: v for k, v in timings.items() if not k.endswith(" cpu")}
            slowest = max(alone, key=lambda k: alone[k])
            seconds, seconds_cpu, size, parts = html_page(engine, tmp / "report.html")
            used = {k: timings[f"{k} cpu"] for k in alone}
            slowest_cpu = max(used, key=lambda k: used[k])
            print(f"report html: {seconds:.2f} s = {seconds / alone[slowest]:.2f} x the slowest report "
                  f"({slowest}, {alone[slowest]:.2f} s); the reports alone add up to "
                  f"{sum(alone.values()):.2f} s; file {size / 1e6:.2f} MB")
            print(f"  in CPU seconds: {seconds_cpu:.2f} = {seconds_cpu / used[slowest_cpu]:.2f} x the "
                  f"slowest ({slowest_cpu}, {used[slowest_cpu]:.2f}); alone they add up to "
                  f"{sum(used.values()):.2f}")
            print(f"  inside the page ({parts.pop('processes'):.0f} processes): "
                  + ", ".join(f"{k} {v:.2f}" for k, v in parts.items()))
        if args.statements:
            since = None if args.start == "none" else date.fromisoformat(args.start)
            statements_pdf(engine, args.statements, tmp, args.files, since, args.balance, args.most_lines)
        engine.dispose()


if __name__ == "__main__":
    main()
