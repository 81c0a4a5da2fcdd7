"""The inactive / reactivate policy: thresholds, overrides, grace period, exclusions, and its TOML form."""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from qbsync.errors import ConfigError
from qbsync.rules.activity import CustomerActivity

_KEYS = {"days", "grace_days", "reactivate_days", "include_estimates", "type_days", "location_days",
         "exclude_ids", "exclude_names"}


@dataclass(frozen=True)
class InactivePolicy:
    """When a customer counts as inactive, and who is never touched.

    ``type_days`` keys are CustomerType Ids; ``location_days`` keys are Department (location) Ids or
    names. When both a type and a location override apply, the longer threshold wins: the safer
    choice for a rule that deactivates.
    """

    days: int = 365
    grace_days: int = 90  # customers with no transactions, created this recently, are left alone
    # inactive in QBO but active within this many days -> reactivate; None: the customer's own
    # inactive threshold (a customer the inactive rule would keep should not be inactive)
    reactivate_days: int | None = None
    include_estimates: bool = False
    type_days: Mapping[str, int] = field(default_factory=dict)
    location_days: Mapping[str, int] = field(default_factory=dict)
    exclude_ids: frozenset[str] = frozenset()
    exclude_names: tuple[str, ...] = ()  # shell-style globs, case-insensitive, e.g. "*Holdings*"

    def __post_init__(self) -> None:
        for name in ("days", "grace_days", "reactivate_days"):
            value = getattr(self, name)
            if value is None and name == "reactivate_days":
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"rules.inactive.{name}",
                                  f"must be a whole number of days >= 1, got {value!r}")
        for table_name in ("type_days", "location_days"):
            for key, value in getattr(self, table_name).items():
                if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                    raise ConfigError(f"rules.inactive.{table_name}.{key}",
                                      f"must be a whole number of days >= 1, got {value!r}")

    def threshold(self, act: CustomerActivity) -> tuple[int, str]:
        """The threshold in days for ``act`` and where it came from ("default", "type 3", ...)."""
        candidates: list[tuple[int, str]] = []
        if act.customer_type_id is not None and act.customer_type_id in self.type_days:
            candidates.append((self.type_days[act.customer_type_id], f"customer type {act.customer_type_id}"))
        for key in (act.department_id, act.department_name):
            if key is not None and key in self.location_days:
                candidates.append((self.location_days[key], f"location {act.department_name or key}"))
                break
        if not candidates:
            return self.days, "default"
        return max(candidates)

    def excluded(self, act: CustomerActivity) -> str | None:
        """Why ``act`` is on the exclusion list, or None."""
        if act.customer_id in self.exclude_ids:
            return f"excluded by Id {act.customer_id}"
        name = act.name.casefold()
        for pattern in self.exclude_names:
            if fnmatch.fnmatchcase(name, pattern.casefold()):
                return f"excluded by name pattern {pattern!r}"
        return None

    def with_overrides(self, **changes: Any) -> InactivePolicy:
        """A copy with the given fields replaced (None values are ignored): CLI options over the file."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any]) -> InactivePolicy:
        """Build from the ``[rules.inactive]`` table of the config file."""
        unknown = set(table) - _KEYS
        if unknown:
            raise ConfigError(f"rules.inactive.{sorted(unknown)[0]}", "unknown setting",
                              hint=f"known settings: {', '.join(sorted(_KEYS))}")
        kw: dict[str, Any] = {}
        for key in ("days", "grace_days", "reactivate_days"):
            if key in table:
                kw[key] = table[key]
        if "include_estimates" in table:
            if not isinstance(table["include_estimates"], bool):
                raise ConfigError("rules.inactive.include_estimates", "must be true or false")
            kw["include_estimates"] = table["include_estimates"]
        for key in ("type_days", "location_days"):
            if key in table:
                if not isinstance(table[key], Mapping):
                    raise ConfigError(f"rules.inactive.{key}", "must be a table of name = days")
                kw[key] = {str(k): v for k, v in table[key].items()}
        for key in ("exclude_ids", "exclude_names"):
            if key in table:
                value = table[key]
                if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
                    raise ConfigError(f"rules.inactive.{key}", "must be a list of strings")
                kw[key] = (frozenset(str(v) for v in value) if key == "exclude_ids"
                           else tuple(str(v) for v in value))
        return cls(**kw)


def load_policy(path: Path | None) -> InactivePolicy:
    """The policy from the ``[rules.inactive]`` table of the TOML config at ``path`` (defaults if absent)."""
    if path is None:
        return InactivePolicy()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError("config", f"file {path} does not exist",
                          hint="pass an existing file or leave the option out for the defaults") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"{path} is not valid TOML: {exc}") from exc
    table = data.get("rules", {}).get("inactive", {})
    if not isinstance(table, Mapping):
        raise ConfigError("rules.inactive", "must be a table")
    return InactivePolicy.from_mapping(table)
