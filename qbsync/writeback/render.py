"""Rendering plans, run reports and the audit log as text tables, CSV and JSON (strings, no I/O)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from qbsync.cache.audit_models import WritebackAudit, WritebackPlanItem, WritebackRun
from qbsync.csvfile import SafeCell, csv_text
from qbsync.texttable import aligned
from qbsync.writeback.engine import RunReport
from qbsync.writeback.plan import PlanSummary

PLAN_COLUMNS = ("plan_id", "seq", "customer_id", "display_name", "current", "new", "disposition", "rule",
                "sync_token", "balance", "last_activity", "reason", "steps")
REPORT_COLUMNS = ("customer_id", "display_name", "old_active", "new_active", "outcome", "sync_token_before",
                  "sync_token_after", "request_id", "reason")
LOG_COLUMNS = ("at", "run_id", "customer_id", "display_name", "event", "attempt", "old_active", "new_active",
               "sync_token_sent", "sync_token_after", "fault_code", "request_id", "reason")


def _state(active: bool) -> str:
    return "active" if active else "inactive"


def plan_rows(summary: PlanSummary) -> list[dict[str, Any]]:
    return [_plan_row(summary.plan.id, item) for item in summary.items]


def _plan_row(plan_id: str, item: WritebackPlanItem) -> dict[str, Any]:
    return {"plan_id": plan_id, "seq": item.seq, "customer_id": item.customer_id,
            "display_name": item.display_name, "current": _state(item.current_active),
            "new": _state(item.new_active), "disposition": item.disposition, "rule": item.rule,
            "sync_token": item.sync_token, "balance": SafeCell(f"{item.balance:.2f}"),
            "last_activity": item.last_activity.isoformat() if item.last_activity else "",
            "reason": item.reason, "steps": item.steps or ""}


def log_rows(events: Sequence[WritebackAudit]) -> list[dict[str, Any]]:
    return [{"at": e.at, "run_id": e.run_id, "customer_id": e.customer_id,
             "display_name": e.display_name or "", "event": e.event, "attempt": e.attempt,
             "old_active": e.old_active, "new_active": e.new_active, "sync_token_sent": e.sync_token_sent,
             "sync_token_after": e.sync_token_after, "fault_code": e.fault_code, "request_id": e.request_id,
             "reason": e.reason or ""} for e in events]


def run_rows(runs: Sequence[WritebackRun]) -> list[dict[str, Any]]:
    return [{"run_id": r.id, "kind": r.kind, "plan_id": r.plan_id, "undo_of": r.undo_of,
             "started_at": r.started_at, "finished_at": r.finished_at, "status": r.status,
             "summary": r.summary, "error": r.error} for r in runs]


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], *, width: int = 60) -> str:
    """A plain aligned table; long cells are cut at ``width`` (CSV and JSON keep them whole)."""
    return aligned(columns, rows, width=width)


def to_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str], *, bom: bool = False) -> str:
    """Rows for a spreadsheet through the one CSV writer: names and reasons are formula-safe."""
    return csv_text(columns, ([row.get(k) for k in columns] for row in rows), bom=bom)


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=False, default=str) + "\n"


def render_plan(summary: PlanSummary, fmt: str, *, bom: bool = False) -> str:
    rows = plan_rows(summary)
    if fmt == "json":
        p = summary.plan
        return to_json({"plan_id": p.id, "realm_id": p.realm_id, "rule": p.rule,
                        "as_of": p.as_of.isoformat(), "created_at": p.created_at.isoformat(),
                        "params": p.params, "counts": summary.counts(),
                        "ignored": summary.ignored, "items": rows})
    if fmt == "csv":
        return to_csv(rows, PLAN_COLUMNS, bom=bom)
    cols = [c for c in PLAN_COLUMNS if c not in ("plan_id", "steps", "rule")]
    return table(rows, cols)


def render_report(report: RunReport, fmt: str, *, bom: bool = False) -> str:
    rows = [i.as_dict() for i in report.items]
    if fmt == "json":
        return to_json(report.as_dict())
    if fmt == "csv":
        return to_csv(rows, REPORT_COLUMNS, bom=bom)
    cols = ("customer_id", "display_name", "old_active", "new_active", "outcome", "reason")
    return table(rows, cols, width=90)


def describe_report(report: RunReport) -> str:
    """The closing lines a user reads first: what happened, and what to do next."""
    counts = report.counts()
    what = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(counts.items())) or "nothing to do"
    subject = f"plan {report.plan_id}" if report.kind == "apply" else f"run {report.undo_of}"
    lines = []
    if report.dry_run:
        lines.append(f"dry run of {report.kind} {subject}: {what}. Nothing was written; add --yes to write.")
    else:
        lines.append(f"{report.kind} {subject}: run {report.run_id}: {what}.")
    if report.interrupted:
        lines.append(f"stopped early: {report.interrupted}")
        lines.append("run the same command again to finish: changes already made are detected and not "
                     "repeated.")
    return "\n".join(lines) + "\n"
