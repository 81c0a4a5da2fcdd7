"""Where a plan's findings come from: running the inactive, reactivate or duplicates rule over the cache."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from qbsync.errors import InputError
from qbsync.rules.findings import Finding

if TYPE_CHECKING:
    from qbsync.rules.policy import InactivePolicy

RULES = ("inactive", "reactivate", "duplicates")
#: What shapes the duplicates rule's list, as ``rules duplicates`` takes it (for ``--rule duplicates``).
DUPLICATES_OPTIONS = ("threshold", "deactivate_at", "max_cluster", "country")


@dataclass
class RuleOutput:
    findings: list[Finding]
    include_estimates: bool = False
    params: dict[str, Any] = field(default_factory=dict)  # what the plan records about how it was made


def findings_for(rule: str, engine: sa.Engine, realm_id: str, as_of: date, *, policy_path: Path | None = None,
                 overrides: dict[str, Any] | None = None, policy: InactivePolicy | None = None) -> RuleOutput:
    """The findings of ``rule`` for ``realm_id`` as of ``as_of`` (only write-back actions matter here).

    ``policy`` is the inactive policy as the command line built it (the same as ``qbsync rules``
    uses); without it, ``policy_path``'s ``[rules.inactive]`` with ``overrides`` (``days``,
    ``grace_days``, ``reactivate_days``, ``include_estimates``). ``overrides`` also change the
    duplicates rule (``threshold``, ``deactivate_at``, ``max_cluster``, ``country``: ``DUPLICATES_OPTIONS``)
    for this plan only.
    """
    changes = {k: v for k, v in (overrides or {}).items() if v is not None}
    if rule == "duplicates":
        from qbsync.rules.duplicates import DEACTIVATE_AT, MAX_CLUSTER, THRESHOLD, find_duplicates

        params: dict[str, Any] = {"threshold": THRESHOLD, "deactivate_at": DEACTIVATE_AT,
                                  "max_cluster": MAX_CLUSTER, "country": None}
        params.update((k, v) for k, v in changes.items() if k in DUPLICATES_OPTIONS)
        found = find_duplicates(engine, realm_id, as_of, threshold=params["threshold"],
                                deactivate_at=params["deactivate_at"], max_cluster=params["max_cluster"],
                                default_country=params["country"])
        return RuleOutput(found, params={"rule": rule, **params})
    if rule not in RULES:
        raise InputError(f"unknown rule '{rule}'", hint=f"use one of: {', '.join(RULES)}")
    from qbsync.rules.activity import load_activity
    from qbsync.rules.inactive import find_inactive, find_reactivate
    from qbsync.rules.policy import load_policy

    if policy is None:
        policy = load_policy(policy_path)
        policy_changes = {k: v for k, v in changes.items() if k not in DUPLICATES_OPTIONS}
        if policy_changes:
            policy = policy.with_overrides(**policy_changes)
    activities = load_activity(engine, realm_id, as_of, include_estimates=policy.include_estimates)
    found = (find_inactive if rule == "inactive" else find_reactivate)(activities, policy, as_of)
    params = {"days": policy.days, "grace_days": policy.grace_days, "reactivate_days": policy.reactivate_days,
              "policy_file": str(policy_path) if policy_path else None}
    return RuleOutput(found, policy.include_estimates, params)
