"""Where a plan's findings come from: running the inactive, reactivate or duplicates rule over the cache."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from qbsync.errors import WritebackError
from qbsync.rules.findings import Finding

RULES = ("inactive", "reactivate", "duplicates")


def _duplicates(engine: sa.Engine, realm_id: str, as_of: date) -> list[Finding]:
    # The duplicates rule lives in its own package; look its entry point up by name so a plan for
    # the other rules never depends on it.
    for module_name in ("qbsync.rules.duplicates", "qbsync.rules.duplicates.findings"):
        try:
            module: Any = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        fn = getattr(module, "find_duplicates", None)
        if fn is not None:
            return list(fn(engine, realm_id, as_of))
    raise WritebackError("the duplicates rule is not available in this installation",
                         hint="upgrade qbsync, or plan with --rule inactive or --rule reactivate")


@dataclass
class RuleOutput:
    findings: list[Finding]
    include_estimates: bool = False
    params: dict[str, Any] = field(default_factory=dict)  # what the plan records about how it was made


def findings_for(rule: str, engine: sa.Engine, realm_id: str, as_of: date, *, policy_path: Path | None = None,
                 overrides: dict[str, Any] | None = None) -> RuleOutput:
    """The findings of ``rule`` for ``realm_id`` as of ``as_of`` (only write-back actions matter here).

    ``overrides`` change the inactive policy (``days``, ``grace_days``, ``reactivate_days``,
    ``include_estimates``) for this plan only.
    """
    if rule == "duplicates":
        return RuleOutput(_duplicates(engine, realm_id, as_of), params={"rule": rule})
    if rule not in RULES:
        raise WritebackError(f"unknown rule '{rule}'", hint=f"use one of: {', '.join(RULES)}")
    from qbsync.rules.activity import load_activity
    from qbsync.rules.inactive import find_inactive, find_reactivate
    from qbsync.rules.policy import load_policy

    policy = load_policy(policy_path)
    changes = {k: v for k, v in (overrides or {}).items() if v is not None}
    if changes:
        policy = policy.with_overrides(**changes)
    activities = load_activity(engine, realm_id, as_of, include_estimates=policy.include_estimates)
    found = (find_inactive if rule == "inactive" else find_reactivate)(activities, policy, as_of)
    params = {"days": policy.days, "grace_days": policy.grace_days, "reactivate_days": policy.reactivate_days,
              "policy_file": str(policy_path) if policy_path else None}
    return RuleOutput(found, policy.include_estimates, params)
