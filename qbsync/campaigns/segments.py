"""Named segments over the cache: a kind (who) plus filters (narrowing), from TOML or the command line.

Kinds: ``all``; ``inactive`` (the inactive rule's findings, deactivate and collections);
``disappearing`` (the disappearing rule, ``min_score``/``top``); ``value_at_risk`` (the disappearing
list ranked by value at risk, ``top``/``min_value``/``min_chance``); ``best`` (top ``top`` customers or
the ``share`` of revenue, over the last ``days``); ``rfm`` (``segments = ["At Risk", ...]``);
``overdue`` (open invoices more than ``min_days`` past due, at least ``min_amount``).
Filters: ``location`` and ``class`` (Ids or names), ``customer_type`` (Ids), ``ltv_min``/``ltv_max``,
``last_purchase_after``/``last_purchase_before``, ``balance_min``/``balance_max``,
``days_inactive_min``/``days_inactive_max``, ``active`` (true/false).

Each kind is one entry of ``_KINDS`` (its parameters, each with how its value is read, and who it
chooses) and each filter one entry of ``_FILTERS`` (how its value is read, whether a customer passes):
a new kind or filter is one function and one line, and the lists of names come from the tables. Every
value is read when the segment is defined, so a bad one is one line naming it, never a traceback
halfway through a run.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from qbsync.cache.models import Invoice, QboClass, SalesReceipt
from qbsync.cache.read import bulk
from qbsync.campaigns.rfm import SEGMENT_NAMES, RfmConfig, score_all
from qbsync.errors import ConfigError, InputError
from qbsync.reports.receivables import open_items
from qbsync.reports.source import Period
from qbsync.rules.activity import CustomerActivity, load_activity
from qbsync.rules.findings import Finding

#: The kinds, in the order of ``_KINDS`` below (a literal: the command line reads it for --help without
#: importing this module; a test holds it equal to the table's keys).
KINDS = ("all", "inactive", "disappearing", "value_at_risk", "best", "rfm", "overdue")


@dataclass(frozen=True)
class SegmentDef:
    name: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    filters: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: (v if not isinstance(v, dict) else {kk: _jsonable(vv) for kk, vv in v.items()})
                for k, v in asdict(self).items()}


def _jsonable(v: Any) -> Any:
    if isinstance(v, Decimal | date):
        return str(v)
    if isinstance(v, tuple | list):
        return [_jsonable(x) for x in v]
    return v


@dataclass
class Member:
    customer_id: str
    name: str
    reason: str
    activity: CustomerActivity
    facts: dict[str, Any] = field(default_factory=dict)


# --- definitions -------------------------------------------------------------------------------------


def _decimal(key: str, value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise InputError(f"{key}: {value!r} is not an amount", hint=f"write it like {key}=500") from None


def _date(key: str, value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InputError(f"{key}: {value!r} is not a date", hint=f"write it like {key}=2025-01-31") from None


def _list(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [v.strip() for v in str(value).split(",") if v.strip()]


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    raise InputError(f"{key}: {value!r} is not true or false", hint=f"write {key}=true or {key}=false")


def _int(key: str, value: Any) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise InputError(f"{key}: {value!r} is not a whole number", hint=f"write it like {key}=90") from None


def _at_least(least: int) -> Callable[[str, Any], int]:
    """A whole number of at least ``least`` (days, a top N)."""
    def parse(key: str, value: Any) -> int:
        n = _int(key, value)
        if n < least:
            raise InputError(f"{key}: {value!r} is less than {least}", hint=f"write it like {key}=90")
        return n
    return parse


def _number(key: str, value: Any) -> float:
    try:
        return float(str(value).strip())
    except ValueError:
        raise InputError(f"{key}: {value!r} is not a number", hint=f"write it like {key}=0.5") from None


def _share(key: str, value: Any) -> float:
    """A share or a chance: a number from 0 to 1."""
    x = _number(key, value)
    if not 0 <= x <= 1:
        raise InputError(f"{key}: {value!r} is not between 0 and 1", hint=f"write it like {key}=0.8 (80 %)")
    return x


def _text(key: str, value: Any) -> str:
    return str(value)


def make(name: str, kind: str, values: Mapping[str, Any], description: str = "") -> SegmentDef:
    """Validate and type a definition; ``values`` mixes the kind's params and the filters."""
    spec = _KINDS.get(kind)
    if spec is None:
        raise InputError(f"segment {name!r}: unknown kind {kind!r}", hint=f"use one of: {', '.join(KINDS)}")
    params: dict[str, Any] = {}
    filters: dict[str, Any] = {}
    for key, value in values.items():
        if key in _FILTERS:
            filters[key] = _FILTERS[key].parse(key, value)
        elif key in spec.params:
            params[key] = spec.params[key](key, value)
        else:
            allowed = ", ".join((*spec.params, *FILTER_KEYS))
            raise InputError(f"segment {name!r}: {key!r} means nothing for kind {kind!r}",
                             hint=f"use one of: {allowed}")
    if spec.check is not None:
        params = spec.check(name, params)
    return SegmentDef(name, kind, params, filters, description)


def _check_rfm(name: str, params: dict[str, Any]) -> dict[str, Any]:
    if not params.get("segments"):
        raise InputError(f"segment {name!r}: rfm needs segments from the usual names",
                         hint="segments=" + ",".join(SEGMENT_NAMES))
    return params


def _rfm_segments(key: str, value: Any) -> list[str]:
    wanted = _list(value)
    unknown = [s for s in wanted if s not in SEGMENT_NAMES]
    if not wanted or unknown:
        raise InputError(f"{key}: rfm needs segments from the usual names"
                         + (f" (unknown: {', '.join(unknown)})" if unknown else ""),
                         hint="segments=" + ",".join(SEGMENT_NAMES))
    return wanted


@dataclass
class SegmentFile:
    segments: dict[str, SegmentDef]
    rfm: RfmConfig = field(default_factory=RfmConfig)


def load_file(path: Path) -> SegmentFile:
    """``[rfm]`` settings and ``[segments.NAME]`` tables (``kind``, ``description``, params, filters)."""
    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("segments", f"file {path} does not exist",
                          hint="copy config/segments.example.toml and edit it") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("segments", f"{path} is not valid TOML: {exc}", hint="fix the line named") from None
    out: dict[str, SegmentDef] = {}
    for name, table in doc.get("segments", {}).items():
        values = {k: v for k, v in table.items() if k not in ("kind", "description", "filters")}
        values.update(table.get("filters", {}))
        if "kind" not in table:
            raise ConfigError(f"segments.{name}.kind", "missing", hint=f"one of: {', '.join(KINDS)}")
        out[name] = make(name, table["kind"], values, table.get("description", ""))
    return SegmentFile(out, RfmConfig.from_toml(doc.get("rfm", {})))


def from_command_line(kind: str, pairs: list[str], name: str | None = None) -> SegmentDef:
    """``--kind rfm --where segments="At Risk,Lost" --where location=Downtown``."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise InputError(f"--where {pair!r} needs KEY=VALUE", hint="e.g. --where ltv_min=500")
        values[key.strip()] = value.strip()
    return make(name or kind, kind, values)


# --- evaluation --------------------------------------------------------------------------------------


@dataclass
class Scope:
    """What a kind or a filter may look at: the cache, the date, every customer's activity."""

    engine: sa.Engine
    realm_id: str
    as_of: date
    acts: dict[str, CustomerActivity]
    rfm: RfmConfig
    _classes: dict[tuple[str, ...], set[str]] = field(default_factory=dict)

    def idle(self, act: CustomerActivity) -> int | None:
        """Days since the last purchase (None: never bought)."""
        return (self.as_of - act.last_purchase).days if act.last_purchase else None

    def in_class(self, wanted: list[str]) -> set[str]:
        """Customers with a sale (header ClassRef) in one of ``wanted`` (class Ids or names); once per run."""
        key = tuple(wanted)
        if key not in self._classes:
            self._classes[key] = _classes_of(self.engine, self.realm_id, wanted, self.as_of)
        return self._classes[key]


#: Who is chosen, with why: customer id -> (reason, facts).
Chosen = dict[str, tuple[str, dict[str, Any]]]


# --- kinds: who is in the segment ------------------------------------------------------------------


def _all(scope: Scope, p: Mapping[str, Any]) -> Chosen:
    return {cid: ("all customers", {}) for cid in scope.acts}


def _chosen(findings: list[Finding]) -> Chosen:
    return {f.customer_id: (f.reason, {"score": f.score, "action": f.action}) for f in findings}


def _inactive(scope: Scope, p: Mapping[str, Any]) -> Chosen:
    """The inactive rule's findings to deactivate or to collect first (``days`` overrides the policy's)."""
    from qbsync.reports import rulelists

    rl = rulelists.inactive(scope.engine, scope.realm_id, scope.as_of, policy_path=_policy(p),
                            overrides={"days": p["days"]} if "days" in p else None)
    return _chosen([f for f in rl.findings if f.action in ("deactivate", "collections")])


def _disappearing(scope: Scope, p: Mapping[str, Any]) -> Chosen:
    """The disappearing list (its ``top``), scored at least ``min_score``."""
    from qbsync.reports import rulelists

    rl = rulelists.disappearing(scope.engine, scope.realm_id, scope.as_of, top=p.get("top"),
                                policy_path=_policy(p))
    floor = p.get("min_score", float("-inf"))
    return _chosen([f for f in rl.findings if f.score is not None and f.score >= floor])


def _policy(p: Mapping[str, Any]) -> Path | None:
    return Path(p["policy"]) if p.get("policy") else None


def _value_at_risk(scope: Scope, p: Mapping[str, Any]) -> Chosen:
    """The disappearing list ranked by value at risk (chance of loss x a year of expected spend):
    the ``top`` (default 100) with at least ``min_value`` at risk and a ``min_chance`` of loss."""
    from qbsync.reports import rulelists

    top, floor, chance = p.get("top", 100), p.get("min_value", Decimal(0)), p.get("min_chance", 0.0)
    rl = rulelists.disappearing(scope.engine, scope.realm_id, scope.as_of, top=top, policy_path=_policy(p),
                                rank_by="value")
    out: Chosen = {}
    for f in rl.findings:
        at_risk, loss = f.facts.get("value_at_risk"), f.facts.get("chance_of_loss")
        if at_risk is None or loss is None or Decimal(at_risk) < floor or loss < chance:
            continue
        out[f.customer_id] = (f.reason, {"value_at_risk": at_risk, "chance_of_loss": loss,
                                         "value_if_kept": f.facts.get("value_if_kept")})
    return out


def _best(scope: Scope, p: Mapping[str, Any]) -> Chosen:
    from qbsync.reports import best

    days = p.get("days", 365)
    report = best.best(scope.engine, scope.realm_id, scope.as_of,
                       Period(scope.as_of - timedelta(days=days - 1), scope.as_of))
    share = Decimal(str(p["share"])) if "share" in p else None
    top = p.get("top", None if share is not None else 100)
    chosen: Chosen = {}
    for row in report.rows:
        if (top is not None and row.rank > top) or row.spend <= 0:  # refunds outweigh sales: not "best"
            break
        chosen[row.customer_id] = (f"rank {row.rank} by spend over {days} days ({row.spend:.2f})",
                                   {"rank": row.rank, "spend": str(row.spend)})
        if share is not None and row.cumulative_share is not None and row.cumulative_share >= share:
            break
    return chosen


def _rfm(scope: Scope, p: Mapping[str, Any]) -> Chosen:
    return {cid: (f"RFM {s.r}{s.f}{s.m} (R {s.r}, FM {s.fm}): {s.segment}",
                  {"rfm_segment": s.segment, "r": s.r, "f": s.f, "m": s.m})
            for cid, s in score_all(scope.acts, scope.as_of, scope.rfm).items() if s.segment in p["segments"]}


def _overdue(scope: Scope, p: Mapping[str, Any]) -> Chosen:
    min_days, min_amount = p.get("min_days", 1), p.get("min_amount", Decimal("0.01"))
    with scope.engine.connect() as conn:
        items = open_items(conn, scope.realm_id, scope.as_of)
    owed: dict[str, tuple[Decimal, int]] = {}
    for item in items:
        late = item.days_past_due(scope.as_of)
        if late >= min_days and item.open > 0:
            amount, worst = owed.get(item.customer_id, (Decimal(0), 0))
            owed[item.customer_id] = (amount + item.open, max(worst, late))
    return {cid: (f"{amount:.2f} overdue, oldest {worst} days", {"overdue": str(amount), "days": worst})
            for cid, (amount, worst) in owed.items() if amount >= min_amount}


@dataclass(frozen=True)
class Kind:
    """A segment kind: the parameters it takes (each with how its value is read), who it chooses, and a
    check of its parameters together."""

    params: dict[str, Callable[[str, Any], Any]]
    choose: Callable[[Scope, Mapping[str, Any]], Chosen]
    check: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None


_KINDS: dict[str, Kind] = {
    "all": Kind({}, _all),
    "inactive": Kind({"days": _at_least(1), "policy": _text}, _inactive),
    "disappearing": Kind({"min_score": _share, "top": _at_least(1), "policy": _text}, _disappearing),
    "value_at_risk": Kind({"top": _at_least(1), "min_value": _decimal, "min_chance": _share, "policy": _text},
                          _value_at_risk),
    "best": Kind({"top": _at_least(1), "share": _share, "days": _at_least(1)}, _best),
    "rfm": Kind({"segments": _rfm_segments}, _rfm, _check_rfm),
    "overdue": Kind({"min_days": _at_least(0), "min_amount": _decimal}, _overdue),
}
PARAM_KEYS = {name: tuple(kind.params) for name, kind in _KINDS.items()}


# --- filters: narrowing a kind's choice --------------------------------------------------------------


@dataclass(frozen=True)
class Filter:
    """A filter: how its value is read (from TOML or --where), and whether a customer passes it."""

    parse: Callable[[str, Any], Any]
    passes: Callable[[CustomerActivity, Any, Scope], bool]


def _list_of(key: str, value: Any) -> list[str]:
    return _list(value)


def _in_location(act: CustomerActivity, wanted: list[str], scope: Scope) -> bool:
    names = {w.casefold() for w in wanted}
    return (act.department_id or "").casefold() in names or (act.department_name or "").casefold() in names


_FILTERS: dict[str, Filter] = {
    "location": Filter(_list_of, _in_location),
    "class": Filter(_list_of, lambda act, v, scope: act.customer_id in scope.in_class(v)),
    "customer_type": Filter(_list_of, lambda act, v, scope: act.customer_type_id in v),
    "ltv_min": Filter(_decimal, lambda act, v, scope: act.lifetime_revenue >= v),
    "ltv_max": Filter(_decimal, lambda act, v, scope: act.lifetime_revenue <= v),
    "last_purchase_after": Filter(_date, lambda act, v, scope: act.last_purchase is not None
                                  and act.last_purchase >= v),
    "last_purchase_before": Filter(_date, lambda act, v, scope: act.last_purchase is not None
                                   and act.last_purchase <= v),
    "balance_min": Filter(_decimal, lambda act, v, scope: act.open_balance >= v),
    "balance_max": Filter(_decimal, lambda act, v, scope: act.open_balance <= v),
    # never bought: inactive for any minimum, for no maximum
    "days_inactive_min": Filter(_int, lambda act, v, scope: (idle := scope.idle(act)) is None or idle >= v),
    "days_inactive_max": Filter(_int, lambda act, v, scope: (idle := scope.idle(act)) is not None
                                and idle <= v),
    "active": Filter(_bool, lambda act, v, scope: act.active == v),
}
FILTER_KEYS = tuple(_FILTERS)


def passes(act: CustomerActivity, filters: Mapping[str, Any], scope: Scope) -> bool:
    """Whether ``act`` passes every filter of a segment."""
    return all(_FILTERS[key].passes(act, value, scope) for key, value in filters.items())


def _classes_of(engine: sa.Engine, realm_id: str, wanted: list[str], as_of: date) -> set[str]:
    """Customers with a sale (header ClassRef) in one of ``wanted`` (class Ids or names)."""
    with engine.connect() as conn:
        names = dict(conn.execute(sa.select(QboClass.id, QboClass.name)
                                  .where(QboClass.realm_id == realm_id)).all())
        lowered = {w.casefold() for w in wanted}
        ids = [cid for cid, n in names.items() if cid in wanted or (n or "").casefold() in lowered] + wanted
        found: set[str] = set()
        for model in (Invoice, SalesReceipt):
            found.update(str(c) for (c,) in conn.execute(
                sa.select(model.customer_id).distinct()
                .where(model.realm_id == realm_id, model.txn_date <= as_of, model.class_id.in_(ids))))
    return found


@bulk()
def evaluate(engine: sa.Engine, realm_id: str, seg: SegmentDef, as_of: date,
             rfm: RfmConfig | None = None) -> list[Member]:
    """The customers in ``seg`` as of ``as_of``, each with the reason it is in."""
    scope = Scope(engine, realm_id, as_of, load_activity(engine, realm_id, as_of), rfm or RfmConfig())
    chosen = _KINDS[seg.kind].choose(scope, seg.params)
    acts = scope.acts
    members = [Member(cid, acts[cid].name, reason, acts[cid], facts)
               for cid, (reason, facts) in chosen.items()
               if cid in acts and passes(acts[cid], seg.filters, scope)]
    members.sort(key=lambda m: (m.name.casefold(), m.customer_id))
    return members
