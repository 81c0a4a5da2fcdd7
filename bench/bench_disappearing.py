"""Disappearing on real purchase logs: every candidate's AUC on what really happened after as-of.

    python bench/bench_disappearing.py LOG [--columns customer_id=1 --columns date=2 --columns amount=4]
        [--date-format FMT] --as-of 1997-09-30 [--as-of 1997-12-31 ...] [--until DATE] [--no-amounts]

For each --as-of: the log is read as `qbsync rules disappearing --input-csv LOG --as-of DATE` reads it
(nothing after the date), the rule runs with its defaults (every eligible customer listed), and each
customer's truth is whether the full log shows a purchase after the date (up to --until). Printed:
the backtest's choice, each candidate's backtest mean AUC and its AUC on the real future, and the
default ranking's (the list's order) against Pareto/NBD expected purchases, the best published model.
Logs are not shipped (licences, size): fetch them yourself, e.g. CDNOW_master.txt.
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

import numpy as np

from qbsync.rules.disappearing.backtest import SCORERS, SHORT, auc
from qbsync.rules.disappearing.rank import find_disappearing
from qbsync.rules.disappearing.sources import load_purchases
from qbsync.rules.policy import InactivePolicy


def _columns(pairs: list[str]) -> dict[str, str] | None:
    return dict(p.split("=", 1) for p in pairs) if pairs else None


def evaluate(path: Path, columns: dict[str, str] | None, date_format: str | None, as_of: date,
             until: date | None, amounts: bool = True) -> dict[str, object]:
    """One cut: the rule as the CLI runs it, judged on the log's real future."""
    past = load_purchases(path, columns, as_of=as_of, date_format=date_format)
    full = load_purchases(path, columns, date_format=date_format)
    t0 = time.perf_counter()
    report = find_disappearing(past.activities, InactivePolicy(), as_of, top=None,
                               spend=past.spend if amounts else None)
    seconds = time.perf_counter() - t0
    end = until or full.last_date
    assert end is not None

    def came_back(cid: str) -> bool:
        act = full.activities.get(cid)
        return act is not None and any(as_of < d <= end for d in act.purchase_dates)

    gone = np.array([not came_back(c) for c in report.scored_ids])
    future = {k: auc(v, gone) for k, v in report.scores.items()}
    listed = np.array([not came_back(f.customer_id) for f in report.findings])
    future["default"] = auc(np.arange(len(listed), 0, -1, dtype=float), listed)
    return {"as_of": as_of, "until": end, "customers": len(gone), "gone": float(gone.mean()),
            "chosen": report.scorer, "backtest": report.backtest, "future": future, "seconds": seconds,
            "summary": report.summary()}


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("log", type=Path)
    ap.add_argument("--columns", action="append", default=[], metavar="FIELD=COLUMN")
    ap.add_argument("--date-format")
    ap.add_argument("--as-of", action="append", required=True, type=date.fromisoformat)
    ap.add_argument("--until", type=date.fromisoformat, help="last day of the future (default: the log's)")
    ap.add_argument("--no-amounts", action="store_true", help="leave the spend features out")
    args = ap.parse_args()
    for as_of in args.as_of:
        r = evaluate(args.log, _columns(args.columns), args.date_format, as_of, args.until,
                     amounts=not args.no_amounts)
        bt = r["backtest"]
        future = r["future"]
        assert isinstance(future, dict)
        print(f"{args.log.name} as of {as_of}: {r['customers']} customers, {r['gone']:.1%} bought nothing "
              f"until {r['until']}; {r['seconds']:.1f} s")
        print(f"  {r['summary']}")
        print(f"  {'candidate':<22} {'backtest':>9} {'future':>8}")
        for k in SCORERS:
            mean = bt.mean.get(k, float("nan"))  # type: ignore[attr-defined]
            mark = "  <- chosen" if k == r["chosen"] else ""
            print(f"  {SHORT[k]:<22} {mean:9.4f} {future.get(k, float('nan')):8.4f}{mark}")
        pn = future.get("pareto_nbd_expected", float("nan"))
        print(f"  {'DEFAULT (list order)':<22} {'':>9} {future['default']:8.4f}   "
              f"vs Pareto/NBD {future['default'] - pn:+.4f}")


if __name__ == "__main__":
    main()
