"""Start-up benchmark: whole-process time of `qbsync ... --help` against `python -c pass`.

    python bench/bench_startup.py [--runs 15] [--tree /path/to/checkout]

Each command runs as a new process (the way a user or cron starts it), interleaved with the baseline
`python -c pass` so a drift in the machine's speed hits both; the figures are medians of wall time
and of the child's CPU time (user + system, from the OS), and the ratio to the baseline is taken
run by run. The command line is run from ``--tree`` (default: this checkout).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = [["--help"], ["rules", "inactive", "--help"], ["rules", "duplicates", "--help"],
            ["report", "aging", "--help"], ["campaign", "export", "--help"], ["sync", "--help"],
            ["demo", "--help"], ["writeback", "plan", "--help"]]


def _run(argv: list[str], cwd: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1])
    args = ap.parse_args()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {args.runs} runs each; medians")
    print(f"{'command':<34} {'wall s':>7} {'cpu s':>7} {'wall/base':>9} {'cpu/base':>9}")
    base = [sys.executable, "-c", "pass"]
    for command in COMMANDS:
        ours, theirs = [], []
        _run([sys.executable, "-m", "qbsync", *command], args.tree)  # warm the file cache
        for _ in range(args.runs):
            ours.append(_run([sys.executable, "-m", "qbsync", *command], args.tree))
            theirs.append(_run(base, args.tree))
        wall = statistics.median(w for w, _ in ours)
        cpu = statistics.median(c for _, c in ours)
        wall_ratio = statistics.median(o[0] / b[0] for o, b in zip(ours, theirs, strict=True))
        cpu_ratio = statistics.median(o[1] / max(b[1], 1e-6) for o, b in zip(ours, theirs, strict=True))
        print(f"{' '.join(command):<34} {wall:7.3f} {cpu:7.3f} {wall_ratio:9.2f} {cpu_ratio:9.2f}")
    base_runs = [_run(base, args.tree) for _ in range(args.runs)]
    print(f"{'python -c pass':<34} {statistics.median(w for w, _ in base_runs):7.3f} "
          f"{statistics.median(c for _, c in base_runs):7.3f}")


if __name__ == "__main__":
    main()
