"""What every rule returns: findings about customers, each with its reason in words and numbers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

#: What a finding proposes. ``deactivate``/``reactivate`` are the only ones write-back acts on;
#: ``collections`` (has balance or credit, so not deactivated), ``merge`` (duplicate with history,
#: merge by hand in QuickBooks), ``watch`` (disappearing: reach out before they are gone).
Action = Literal["deactivate", "reactivate", "collections", "merge", "watch", "none"]


@dataclass(frozen=True)
class Finding:
    realm_id: str
    customer_id: str
    display_name: str
    rule: str  # "inactive", "reactivate", "disappearing", "duplicates"
    action: Action
    reason: str  # "last invoice 2025-03-02, 418 days ago; threshold 365; balance 0.00"
    facts: dict[str, Any] = field(default_factory=dict)  # JSON-able numbers behind the reason
    score: float | None = None  # rule-specific ranking score (higher = more urgent)
    sync_token: str | None = None  # the customer's SyncToken in the cache when found
    active: bool | None = None  # the customer's Active flag in the cache when found

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
