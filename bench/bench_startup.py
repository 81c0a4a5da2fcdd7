"""Start-up benchmark: whole-process time of `qbsync ... --help` against `python -c pass`.

    python bench/bench_startup.py [--runs 15] [--tree /path/to/checkout] [--all]

Each command runs as a new process (the way a user or cron starts it), interleaved with the baseline
`python -c pass` so a drift in the machine's speed hits both; the figures are medians of wall time
and of the child's CPU time (user + system, from the OS), and the ratio to the baseline is taken
run by run. The command line is run from ``--tree`` (default: this checkout). ``--all`` times every
command's ``--help`` (the tree's whole command table, walked in a child process) instead of the eight
below, and ends with the slowest.
"""

from __future__ import annotations

import argparse
import json
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


WALK = """
import json, click
from qbsync.cli import cli

def paths(cmd, path):
    yield path
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd)
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from paths(sub, [*path, name])

print(json.dumps([p + ["--help"] for p in paths(cli, [])]))
"""


def every_command(tree: Path) -> list[list[str]]:
    """Every command path of ``tree``'s command line (walking it loads every module: a child does it)."""
    out = subprocess.run([sys.executable, "-c", WALK], cwd=tree, capture_output=True, text=True, check=True)
    paths: list[list[str]] = json.loads(out.stdout.strip().splitlines()[-1])
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1])
    ap.add_argument("--all", action="store_true", help="every command's --help, not the eight above")
    args = ap.parse_args()
    commands = every_command(args.tree) if args.all else COMMANDS
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {args.runs} runs each; medians")
    print(f"{'command':<34} {'wall s':>7} {'cpu s':>7} {'wall/base':>9} {'cpu/base':>9}")
    base = [sys.executable, "-c", "pass"]
    slowest: tuple[float, float, str] = (0.0, 0.0, "")
    for command in commands:
        ours, theirs = [], []
        _run([sys.executable, "-m", "qbsync", *command], args.tree)  # warm the file cache
        for _ in range(args.runs):
            ours.append(_run([sys.executable, "-m", "qbsync", *command], args.tree))
            theirs.append(_run(base, args.tree))
        wall = statistics.median(w for w, _ in ours)
        cpu = statistics.median(c for _, c in ours)
        wall_ratio = statistics.median(o[0] / b[0] for o, b in zip(ours, theirs, strict=True))
        cpu_ratio = statistics.median(o[1] / max(b[1], 1e-6) for o, b in zip(ours, theirs, strict=True))
        name = " ".join(command)
        print(f"{name:<34} {wall:7.3f} {cpu:7.3f} {wall_ratio:9.2f} {cpu_ratio:9.2f}", flush=True)
        slowest = max(slowest, (wall, cpu, name))
    base_runs = [_run(base, args.tree) for _ in range(args.runs)]
    print(f"{'python -c pass':<34} {statistics.median(w for w, _ in base_runs):7.3f} "
          f"{statistics.median(c for _, c in base_runs):7.3f}")
    print(f"{len(commands)} commands; slowest median wall: {slowest[2]} {slowest[0]:.3f} s "
          f"(CPU {slowest[1]:.3f} s); load average now {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
