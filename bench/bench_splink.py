"""splink 5 against qbsync's duplicate detection on FEBRL files, names and address only.

    python bench/bench_splink.py [FEBRL.csv ...]     (default: febrl1 and febrl2 from ../shared/datasets)

splink is NOT a qbsync dependency: this script keeps it in its own virtualenv, bench/.venv-splink
(created on first run with `pip install splink`), runs the splink half there as a child process,
and runs qbsync in this process, so both see the same files and the same column mapping:
given_name, surname, street_number, address_1, address_2, suburb, postcode, state (no date of birth,
no soc_sec_id). Both are scored the same way: pairs implied by clusters at P(match) >= 0.5 against
the true entity of each rec_id. Prints one line per file and method, then the F1 ratio qbsync/splink.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / "bench" / ".venv-splink"
DATASETS = ROOT / ".." / "shared" / "datasets"
FIELDS = ["given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state"]


def _pairwise(clusters: list[list[str]], truth: dict[str, str]) -> dict[str, float]:
    predicted = {(a, b) for c in clusters for i, a in enumerate(sorted(c)) for b in sorted(c)[i + 1:]}
    sizes: dict[str, int] = {}
    for ent in truth.values():
        sizes[ent] = sizes.get(ent, 0) + 1
    true_pairs = sum(n * (n - 1) // 2 for n in sizes.values())
    tp = sum(1 for a, b in predicted if truth[a] == truth[b])
    p = tp / len(predicted) if predicted else 1.0
    r = tp / true_pairs if true_pairs else 1.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def _read(path: Path) -> tuple[list[dict[str, str | None]], dict[str, str]]:
    rows, truth = [], {}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh, skipinitialspace=True)
        header = [h.strip() for h in next(reader)]
        for raw in reader:
            row = {h: (v.strip() or None) for h, v in zip(header, raw, strict=False)}
            rows.append({"unique_id": row["rec_id"], **{f: row.get(f) for f in FIELDS}})
            truth[str(row["rec_id"])] = "-".join(str(row["rec_id"]).split("-")[:2])
    return rows, truth


def run_splink(path: Path) -> dict[str, float]:
    """Inside the splink virtualenv: the model splink's own FEBRL dedupe example builds, minus the
    date of birth and soc_sec_id comparisons."""
    import pyarrow as pa
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    rows, truth = _read(path)
    t0 = time.perf_counter()
    db_api = DuckDBAPI()
    table = db_api.register(pa.Table.from_pylist(rows))
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("street_number", [1]),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
            cl.JaroWinklerAtThresholds("address_2", [0.9, 0.7]),
            cl.JaroWinklerAtThresholds("suburb", [0.9, 0.7]).configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]),
            cl.ExactMatch("state"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("given_name"), block_on("surname"), block_on("postcode"), block_on("address_1"),
            block_on("suburb", "street_number"), block_on("address_2"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(table, settings, log_level="ERROR")
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "surname", "postcode")], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    for rule in (block_on("given_name", "surname"), block_on("postcode"), block_on("address_1")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters_df = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=0.5)
    groups: dict[str, list[str]] = {}
    for rec in clusters_df.as_record_list():
        groups.setdefault(str(rec["cluster_id"]), []).append(str(rec["unique_id"]))
    seconds = time.perf_counter() - t0
    return {**_pairwise(list(groups.values()), truth), "seconds": seconds}


def run_qbsync(path: Path) -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    from qbsync.rules.duplicates.detect import blocking_recall, detect_duplicates, score_pairs
    from qbsync.rules.duplicates.sources import load_febrl

    records, truth = load_febrl(path)
    t0 = time.perf_counter()
    report = detect_duplicates(records)
    seconds = time.perf_counter() - t0
    out = _pairwise([[m.customer_id for m in c.members] for c in report.clusters], truth)
    return {**out, "seconds": seconds, "blocking_recall": blocking_recall(score_pairs(records), truth)}


def ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        (VENV / ".gitignore").write_text("*\n", encoding="utf-8")
    if subprocess.run([str(python), "-c", "import splink, pyarrow"], capture_output=True).returncode:
        subprocess.run([str(python), "-m", "pip", "install", "-q", "splink", "pyarrow"], check=True)
    (VENV / ".gitignore").write_text("*\n", encoding="utf-8")
    return python


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    files = args.files or [DATASETS / "febrl1.csv", DATASETS / "febrl2.csv"]
    if args.inner:
        print(json.dumps({str(f): run_splink(f) for f in files}))
        return
    python = ensure_venv()
    child = subprocess.run([str(python), __file__, "--inner", *map(str, files)], capture_output=True,
                           text=True)
    if child.returncode:
        sys.exit(f"splink run failed:\n{child.stderr[-4000:]}")
    splink = json.loads(child.stdout.strip().splitlines()[-1])
    for f in files:
        ours, theirs = run_qbsync(f), splink[str(f)]
        for name, res in (("qbsync", ours), ("splink 5", theirs)):
            extra = f"  blocking recall {res['blocking_recall']:.4f}" if "blocking_recall" in res else ""
            print(f"{f.name:<12} {name:<9} P {res['precision']:.4f}  R {res['recall']:.4f}  "
                  f"F1 {res['f1']:.4f}  {res['seconds']:.2f} s{extra}")
        print(f"{f.name:<12} F1 ratio qbsync/splink = {ours['f1'] / theirs['f1']:.3f}")


if __name__ == "__main__":
    main()
