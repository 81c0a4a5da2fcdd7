"""The rules against the sandbox's planted truth: inactive, reactivate and duplicates, precision/recall.

    python bench/bench_truth.py                       # seeds 42, 1, 2, 3 at 2,000 customers
    python bench/bench_truth.py --companies 42:10000 7:2000

Each company is generated (the same generator `qbsync demo` and `qbsync sandbox seed` use), written
into a fresh SQLite cache exactly as sync writes it, and the rules run over the cache as of the
generator's end date with the default policy. What each rule should find comes from the truth file
alone (`tests/rules/test_sandbox_truth.expected_inactive`; `inactive_in_qbo_but_active`;
`duplicate_clusters`). Results also go to bench/results/truth.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qbsync.rules.activity import load_activity  # noqa: E402
from qbsync.rules.duplicates import find_duplicates  # noqa: E402
from qbsync.rules.duplicates.detect import evaluate_pairs  # noqa: E402
from qbsync.rules.inactive import find_inactive, find_reactivate  # noqa: E402
from qbsync.rules.policy import InactivePolicy  # noqa: E402
from qbsync.sandbox import generator  # noqa: E402
from tests.rules.test_sandbox_truth import expected_inactive, generated_cache  # noqa: E402

REALM = "9130000000000000"


def _pr(found: set[str], truth: set[str]) -> dict[str, float]:
    tp = len(found & truth)
    return {"found": len(found), "planted": len(truth), "precision": tp / len(found) if found else 1.0,
            "recall": tp / len(truth) if truth else 1.0}


def company(seed: int, n: int) -> dict[str, object]:
    engine, truth = generated_cache(f"sqlite:///{tempfile.mkdtemp()}/truth.sqlite3",
                                    generator.CompanySpec(customers=n, seed=seed), REALM)
    as_of = date.fromisoformat(truth["as_of"])
    t0 = time.perf_counter()
    activity = load_activity(engine, REALM, as_of)
    policy = InactivePolicy()
    inactive = find_inactive(activity, policy, as_of)
    reactivate = find_reactivate(activity, policy, as_of)
    duplicates = find_duplicates(engine, REALM, as_of)
    seconds = time.perf_counter() - t0
    deact, coll = expected_inactive(truth, as_of)
    clusters: dict[str, list[str]] = {}
    for f in duplicates:
        clusters.setdefault(str(f.facts["cluster_id"]), []).append(f.customer_id)
    real = {cid: cid for cid, r in truth["customers"].items() if "parent" not in r}
    for cluster in truth["duplicate_clusters"]:
        for cid in cluster:
            real[cid] = cluster[0]
    dups = evaluate_pairs(list(clusters.values()), real)
    return {"seed": seed, "customers": n, "seconds": round(seconds, 2),
            "inactive_deactivate": _pr({f.customer_id for f in inactive if f.action == "deactivate"}, deact),
            "inactive_collections": _pr({f.customer_id for f in inactive if f.action == "collections"}, coll),
            "reactivate": _pr({f.customer_id for f in reactivate}, set(truth["inactive_in_qbo_but_active"])),
            "duplicates": {"precision": dups["precision"], "recall": dups["recall"], "f1": dups["f1"],
                           "true_pairs": dups["true_pairs"]}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--companies", nargs="*", default=["42:2000", "1:2000", "2:2000", "3:2000"],
                    metavar="SEED:N")
    args = ap.parse_args()
    results = []
    for spec in args.companies:
        seed, n = (int(x) for x in spec.split(":"))
        r = company(seed, n)
        results.append(r)
        parts = []
        for key in ("inactive_deactivate", "inactive_collections", "reactivate"):
            m = r[key]
            assert isinstance(m, dict)
            parts.append(f"{key} {m['found']}/{m['planted']} P {m['precision']:.3f} R {m['recall']:.3f}")
        d = r["duplicates"]
        assert isinstance(d, dict)
        parts.append(f"duplicates P {d['precision']:.4f} R {d['recall']:.4f} F1 {d['f1']:.4f}")
        print(f"seed {seed} {n} customers ({r['seconds']} s): " + "; ".join(parts))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "truth.json").write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
