"""The rules' lists as reports: inactive, disappearing and duplicate customers as of a date.

The duplicates rule is looked up by name so the other lists never depend on it being installed.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa

from qbsync.errors import InputError
from qbsync.reports.table import Column, Table
from qbsync.rules.findings import Finding


@dataclass
class RuleList:
    rule: str
    as_of: date
    findings: list[Finding]
    notes: list[str] = field(default_factory=list)


def _policy(policy_path: Path | None, overrides: dict[str, Any] | None) -> Any:
    from qbsync.rules.policy import load_policy

    policy = load_policy(policy_path)
    changes = {k: v for k, v in (overrides or {}).items() if v is not None}
    return policy.with_overrides(**changes) if changes else policy


def inactive(engine: sa.Engine, realm_id: str, as_of: date, *, policy_path: Path | None = None,
             overrides: dict[str, Any] | None = None) -> RuleList:
    from qbsync.rules.activity import load_activity
    from qbsync.rules.inactive import find_inactive

    policy = _policy(policy_path, overrides)
    acts = load_activity(engine, realm_id, as_of, include_estimates=policy.include_estimates)
    found = find_inactive(acts, policy, as_of)
    return RuleList("inactive", as_of, found, [f"threshold {policy.days} days (default; per-type and "
                                               "per-location overrides from the policy file)"])


def disappearing(engine: sa.Engine, realm_id: str, as_of: date, *, top: int | None = 50,
                 policy_path: Path | None = None, overrides: dict[str, Any] | None = None,
                 rank_by: Literal["risk", "value"] = "risk") -> RuleList:
    from qbsync.rules.activity import load_activity
    from qbsync.rules.disappearing.rank import find_disappearing

    policy = _policy(policy_path, overrides)
    acts = load_activity(engine, realm_id, as_of, include_estimates=policy.include_estimates)
    report = find_disappearing(acts, policy, as_of, top=top, rank_by=rank_by)
    return RuleList("disappearing", as_of, list(report.findings), [report.summary()])


def duplicates(engine: sa.Engine, realm_id: str, as_of: date) -> RuleList:
    for module_name in ("qbsync.rules.duplicates", "qbsync.rules.duplicates.findings"):
        try:
            module: Any = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        fn = getattr(module, "find_duplicates", None)
        if fn is not None:
            return RuleList("duplicates", as_of, list(fn(engine, realm_id, as_of)))
    raise InputError("the duplicates rule is not available in this installation",
                     hint="upgrade qbsync; the inactive and disappearing lists work without it")


def table(rl: RuleList, limit: int | None = None) -> Table:
    cols = [Column("customer_id", "Id"), Column("display_name", "Customer"), Column("action", "Action"),
            Column("score", "Score", "number"), Column("active", "Active in QBO"), Column("reason", "Reason")]
    rows = [{"customer_id": f.customer_id, "display_name": f.display_name, "action": f.action,
             "score": f.score, "active": f.active, "reason": f.reason} for f in rl.findings]
    notes = list(rl.notes)
    if limit is not None and len(rows) > limit:
        notes.insert(0, f"showing {limit} of {len(rows)} findings")
        rows = rows[:limit]
    return Table(f"{rl.rule.capitalize()} customers as of {rl.as_of.isoformat()}", cols, rows, None, notes,
                 {"as_of": rl.as_of, "rule": rl.rule, "findings": len(rl.findings)})
