"""`qbsync rules duplicates`: duplicate customers from the cache, a customer CSV or a FEBRL file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from qbsync.cli.context import CommandContext, with_context
from qbsync.cli.options import Output, column_pairs, with_output
from qbsync.csvfile import SafeCell, csv_text
from qbsync.errors import InputError
from qbsync.rules.duplicates.defaults import DEACTIVATE_AT, MAX_CLUSTER, REVIEW, THRESHOLD

if TYPE_CHECKING:
    from qbsync.rules.duplicates.detect import DuplicateReport, PairMatch

def _json(report: DuplicateReport, evaluation: dict[str, float] | None, source: dict[str, Any]) -> str:
    doc: dict[str, Any] = {"rule": "duplicates", **source, "summary": report.summary(),
                           "model": report.model.describe(), "per_key_pairs": report.per_key, "clusters": []}
    if evaluation is not None:
        doc["evaluation"] = evaluation
    for c in report.clusters:
        doc["clusters"].append({
            "cluster_id": c.cluster_id, "survivor_id": c.survivor_id,
            "members": [{"customer_id": m.customer_id, "display_name": m.display_name, "role":
                         "survivor" if m.survivor else "duplicate", "proposed_action": m.proposed_action,
                         "active": m.active, "balance": str(m.balance), "txn_count": m.facts.txn_count,
                         "has_transactions": m.facts.has_transactions,
                         "open_balance": str(m.facts.open_balance),
                         "unapplied_credit": str(m.facts.unapplied_credit),
                         "completeness": m.facts.completeness, "sync_token": m.sync_token,
                         "probability": m.link.probability if m.link else None} for m in c.members],
            "links": [_link(lk) for lk in c.links]})
    doc["possible"] = [_link(lk) for lk in report.possible]
    return json.dumps(doc, indent=2, default=str) + "\n"


def _link(lk: PairMatch) -> dict[str, Any]:
    return {"left_id": lk.left_id, "left_name": lk.left_name, "right_id": lk.right_id,
            "right_name": lk.right_name, "probability": lk.probability,
            "match_weight": lk.weight, "swapped_names": lk.swapped_names,
            "fields": [vars(f) for f in lk.fields]}


def _csv(report: DuplicateReport, bom: bool = False) -> str:
    header = ["cluster_id", "role", "customer_id", "display_name", "proposed_action", "probability",
              "match_weight", "active", "balance", "txn_count", "survivor_id", "evidence"]

    def rows() -> Iterator[list[Any]]:
        for c in report.clusters:
            for m in c.members:
                link = m.link
                yield [c.cluster_id, "survivor" if m.survivor else "duplicate", m.customer_id, m.display_name,
                       m.proposed_action, SafeCell(f"{link.probability:.6f}") if link else None,
                       link.weight if link else None, m.active, m.balance, m.facts.txn_count, c.survivor_id,
                       link.summary(top=8) if link else None]
        for k, lk in enumerate(report.possible, start=1):
            sides = ((lk.left_id, lk.left_name, lk.right_id), (lk.right_id, lk.right_name, lk.left_id))
            for cid, name, other in sides:
                yield [f"R{k}", "possible", cid, name, "review", SafeCell(f"{lk.probability:.6f}"), lk.weight,
                       None, None, None, other, lk.summary(top=8)]

    return csv_text(header, rows(), bom=bom)


def _table(report: DuplicateReport, evaluation: dict[str, float] | None) -> str:
    s = report.summary()
    lines = [f"{s['clusters']} duplicate clusters ({s['duplicates']} duplicates) among {s['records']} "
             f"customers; {s['candidate_pairs']} pairs compared, threshold P(match) >= {s['threshold']}"
             + (f"; {len(report.possible)} possible pair(s) to review (P >= {report.review})"
                if report.review is not None else "")]
    if evaluation is not None:
        lines.append("evaluation: precision {precision:.4f}  recall {recall:.4f}  F1 {f1:.4f}  "
                     "(true pairs {true_pairs:.0f}, predicted {predicted_pairs:.0f})".format(**evaluation)
                     + (f"  blocking recall {evaluation['blocking_recall']:.4f}"
                        if "blocking_recall" in evaluation else ""))
    for c in report.clusters:
        lines.append("")
        lines.append(f"{c.cluster_id}: survivor '{c.survivor.display_name}' (Id {c.survivor_id})")
        for m in c.members[1:]:
            prob = f"P={m.link.probability:.3f}" if m.link else "P=?"
            history = "txns ?" if m.facts.txn_count is None else f"txns {m.facts.txn_count}"
            lines.append(f"  - '{m.display_name}' (Id {m.customer_id}) {prob}  {m.proposed_action}  "
                         f"[{history}, balance {m.balance:.2f}, {'active' if m.active else 'inactive'}]")
            if m.link:
                for f in m.link.fields:
                    lines.append(f"      {f.comparison:<15} {f.level:<36} {f.bits:+6.1f}  "
                                 f"{f.left!r} ~ {f.right!r}")
    if report.possible:
        lines.append("")
        lines.append(f"{len(report.possible)} possible duplicate pair(s) to review (P(match) from "
                     f"{report.review} to {report.threshold}; not acted on):")
        for k, lk in enumerate(report.possible, start=1):
            lines.append(f"R{k}: '{lk.left_name}' (Id {lk.left_id}) ~ '{lk.right_name}' (Id {lk.right_id})  "
                         f"P={lk.probability:.3f}  {lk.summary()}")
    return "\n".join(lines) + "\n"


@click.command("duplicates")
@with_context(as_of="Only customers created by DATE, and their activity by DATE (default: today in the "
                    "company's time zone).")
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=THRESHOLD,
              show_default=True, help="Posterior match probability a pair needs.")
@click.option("--review", type=click.FloatRange(0, 1, max_open=True), default=REVIEW, show_default=True,
              help="List pairs from this probability up to --threshold as possible duplicates for a person "
                   "to decide (never acted on; 0 lists none).")
@click.option("--deactivate-at", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=DEACTIVATE_AT, show_default=True,
              help="Match probability a duplicate needs to be proposed for deactivation rather than a manual "
                   "merge.")
@click.option("--country", help="Country of phones whose address names none (default: the company's).")
@click.option("--input-csv", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read customers from a CSV file instead of the cache.")
@click.option("--columns", multiple=True, metavar="FIELD=COLUMN",
              help="Map a CSV column to a customer field (repeatable), e.g. family_name=Surname.")
@click.option("--truth-column", help="CSV column with each row's true entity: prints precision/recall/F1.")
@click.option("--febrl", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Evaluate on a FEBRL file (names and address only) against its true entities.")
@click.option("--max-cluster", type=click.IntRange(min=2), default=MAX_CLUSTER, show_default=True,
              help="Largest cluster allowed (guards against chaining).")
@with_output()
def duplicates_cmd(ctx: CommandContext, threshold: float, review: float, deactivate_at: float,
                   country: str | None, input_csv: Path | None, columns: tuple[str, ...],
                   truth_column: str | None, febrl: Path | None, max_cluster: int, out: Output) -> None:
    """Customers that are the same person or company twice, with a proposed survivor and the
    per-field evidence of every match (Fellegi-Sunter weights learned by EM on your own data)."""
    from qbsync.rules.duplicates.detect import detect_duplicates, evaluate_pairs
    from qbsync.rules.duplicates.records import matchable
    from qbsync.rules.duplicates.sources import (
        load_cache,
        load_febrl,
        load_history,
        load_truth,
        read_customers,
        realm_country,
    )

    if input_csv and febrl:
        raise InputError("--input-csv and --febrl are two different inputs", hint="pass one of them")
    for given, option in ((columns, "--columns"), (truth_column, "--truth-column")):
        if given and input_csv is None:
            raise InputError(f"{option} is for the columns of --input-csv, and no --input-csv was given",
                             hint=f"add --input-csv FILE, or drop {option} to read the cache")
    if review > 0 and review >= threshold:
        raise InputError(f"--review {review} is not below --threshold {threshold}",
                         hint="pick a lower --review, or --review 0 to list no possible duplicates")
    truth: dict[str, str] | None = None
    activity = None
    source: dict[str, Any] = {"source": str(febrl or input_csv or "")}
    if febrl is not None:
        records, truth = load_febrl(febrl)
    elif input_csv is not None:
        mapping = column_pairs(columns, "given_name='First Name'")
        read = read_customers(input_csv, mapping)
        records = read.records
        source["columns"] = read.fields
        left_out = [i for i in read.ignored if i.column != truth_column]
        source["ignored_columns"] = [i.column for i in left_out]
        for column in left_out:
            click.echo(f"note: {input_csv.name}: column {column.line()} left out", err=True)
        if truth_column:
            truth = load_truth(input_csv, truth_column, mapping.get("customer_id"))
    else:
        records = load_cache(ctx.engine, ctx.realm_id, ctx.as_of)
        activity = load_history(ctx.engine, ctx.realm_id, ctx.as_of)
        country = country or realm_country(ctx.engine, ctx.realm_id)
        source = {"realm_id": ctx.realm_id, "as_of": ctx.as_of.isoformat()}
    report = detect_duplicates(records, activity=activity, threshold=threshold, default_country=country,
                               max_cluster=max_cluster, review=review or None, deactivate_at=deactivate_at)
    evaluation = None
    if truth is not None:
        from qbsync.rules.duplicates.detect import blocking_recall, score_pairs

        evaluation = evaluate_pairs([[m.customer_id for m in c.members] for c in report.clusters], truth)
        scored = score_pairs(matchable(records), default_country=country)
        evaluation["blocking_recall"] = blocking_recall(scored, truth)
    text = {"table": lambda: _table(report, evaluation), "csv": lambda: _csv(report, out.bom),
            "json": lambda: _json(report, evaluation, source)}[out.fmt]()
    out.write(text)


def register(cli: click.Group) -> None:
    rules = cli.commands.get("rules")
    if isinstance(rules, click.Group):
        rules.add_command(duplicates_cmd)
