"""Named segments over the cache: a kind (who) plus filters (narrowing), from TOML or the command line.

Kinds: ``all``; ``inactive`` (the inactive rule's findings, deactivate and collections);
``disappearing`` (the disappearing rule, ``min_score``/``top``); ``value_at_risk`` (the disappearing
list ranked by value at risk, ``top``/``min_value``/``min_chance``); ``best`` (top ``top`` customers or
the ``share`` of revenue, over the last ``days``); ``rfm`` (``segments = ["At Risk", ...]``);
``overdue`` (open invoices more than ``min_days`` past due, at least ``min_amount``).
Filters: ``location`` and ``class`` (Ids or names), ``customer_type`` (Ids), ``ltv_min``/``ltv_max``,
``last_purchase_after``/``last_purchase_before``, ``balance_min``/``balance_max``,
``days_inactive_min``/``days_inactive_max``, ``active`` (true/false).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from qbsync.cache.models import Invoice, QboClass, SalesReceipt
from qbsync.campaigns.rfm import SEGMENT_NAMES, RfmConfig, score_all
from qbsync.errors import ConfigError, InputError
from qbsync.reports.receivables import open_items
from qbsync.reports.source import Period
from qbsync.rules.activity import CustomerActivity, load_activity

KINDS = ("all", "inactive", "disappearing", "value_at_risk", "best", "rfm", "overdue")
FILTER_KEYS = ("location", "class", "customer_type", "ltv_min", "ltv_max", "last_purchase_after",
               "last_purchase_before", "balance_min", "balance_max", "days_inactive_min", "days_inactive_max",
               "active")
PARAM_KEYS = {"all": (), "inactive": ("days", "policy"), "disappearing": ("min_score", "top", "policy"),
              "value_at_risk": ("top", "min_value", "min_chance", "policy"),
              "best": ("top", "share", "days"), "rfm": ("segments",), "overdue": ("min_days", "min_amount")}


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


def make(name: str, kind: str, values: Mapping[str, Any], description: str = "") -> SegmentDef:
    """Validate and type a definition; ``values`` mixes the kind's params and the filters."""
    if kind not in KINDS:
        raise InputError(f"segment {name!r}: unknown kind {kind!r}", hint=f"use one of: {', '.join(KINDS)}")
    params: dict[str, Any] = {}
    filters: dict[str, Any] = {}
    for key, value in values.items():
        if key in FILTER_KEYS:
            if key in ("location", "class", "customer_type"):
                filters[key] = _list(value)
            elif key in ("ltv_min", "ltv_max", "balance_min", "balance_max"):
                filters[key] = _decimal(key, value)
            elif key.startswith("last_purchase"):
                filters[key] = _date(key, value)
            elif key == "active":
                filters[key] = _bool(key, value)
            else:
                filters[key] = int(value)
        elif key in PARAM_KEYS[kind]:
            params[key] = value
        else:
            allowed = ", ".join((*PARAM_KEYS[kind], *FILTER_KEYS))
            raise InputError(f"segment {name!r}: {key!r} means nothing for kind {kind!r}",
                             hint=f"use one of: {allowed}")
    if kind == "rfm":
        wanted = _list(params.get("segments", []))
        unknown = [s for s in wanted if s not in SEGMENT_NAMES]
        if not wanted or unknown:
            raise InputError(f"segment {name!r}: rfm needs segments from the usual names"
                             + (f" (unknown: {', '.join(unknown)})" if unknown else ""),
                             hint="segments=" + ",".join(SEGMENT_NAMES))
        params["segments"] = wanted
    return SegmentDef(name, kind, params, filters, description)


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


def _passes(act: CustomerActivity, f: Mapping[str, Any], as_of: date, in_class: set[str] | None) -> bool:
    if "location" in f:
        wanted = {w.casefold() for w in f["location"]}
        if (act.department_id or "").casefold() not in wanted and \
                (act.department_name or "").casefold() not in wanted:
            return False
    if in_class is not None and act.customer_id not in in_class:
        return False
    if "customer_type" in f and act.customer_type_id not in f["customer_type"]:
        return False
    if "ltv_min" in f and act.lifetime_revenue < f["ltv_min"]:
        return False
    if "ltv_max" in f and act.lifetime_revenue > f["ltv_max"]:
        return False
    if "balance_min" in f and act.open_balance < f["balance_min"]:
        return False
    if "balance_max" in f and act.open_balance > f["balance_max"]:
        return False
    last = act.last_purchase
    if "last_purchase_after" in f and (last is None or last < f["last_purchase_after"]):
        return False
    if "last_purchase_before" in f and (last is None or last > f["last_purchase_before"]):
        return False
    idle = (as_of - last).days if last else None
    if "days_inactive_min" in f and (idle is not None and idle < f["days_inactive_min"]):
        return False
    if "days_inactive_max" in f and (idle is None or idle > f["days_inactive_max"]):
        return False
    return not ("active" in f and act.active != f["active"])


def _value_at_risk(engine: sa.Engine, realm_id: str, as_of: date,
                   p: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """The disappearing list ranked by value at risk (chance of loss x a year of expected spend):
    the ``top`` (default 100) with at least ``min_value`` at risk and a ``min_chance`` of loss."""
    from qbsync.reports import rulelists

    policy = Path(p["policy"]) if p.get("policy") else None
    top = int(p["top"]) if p.get("top") else 100
    floor = _decimal("min_value", p.get("min_value", "0"))
    chance = float(p.get("min_chance", 0))
    rl = rulelists.disappearing(engine, realm_id, as_of, top=top, policy_path=policy, rank_by="value")
    out = {}
    for f in rl.findings:
        at_risk, loss = f.facts.get("value_at_risk"), f.facts.get("chance_of_loss")
        if at_risk is None or loss is None or Decimal(at_risk) < floor or loss < chance:
            continue
        out[f.customer_id] = (f.reason, {"value_at_risk": at_risk, "chance_of_loss": loss,
                                         "value_if_kept": f.facts.get("value_if_kept")})
    return out


def evaluate(engine: sa.Engine, realm_id: str, seg: SegmentDef, as_of: date,
             rfm: RfmConfig | None = None) -> list[Member]:
    """The customers in ``seg`` as of ``as_of``, each with the reason it is in."""
    rfm = rfm or RfmConfig()
    acts = load_activity(engine, realm_id, as_of)
    chosen: dict[str, tuple[str, dict[str, Any]]] = {}
    p = seg.params
    if seg.kind == "all":
        chosen = {cid: ("all customers", {}) for cid in acts}
    elif seg.kind in ("inactive", "disappearing"):
        from qbsync.reports import rulelists

        policy = Path(p["policy"]) if p.get("policy") else None
        overrides = {"days": int(p["days"])} if p.get("days") else None
        if seg.kind == "inactive":
            rl = rulelists.inactive(engine, realm_id, as_of, policy_path=policy, overrides=overrides)
            findings = [f for f in rl.findings if f.action in ("deactivate", "collections")]
        else:
            rl = rulelists.disappearing(engine, realm_id, as_of, top=int(p["top"]) if p.get("top") else None,
                                        policy_path=policy)
            floor = float(p.get("min_score", "-inf"))
            findings = [f for f in rl.findings if f.score is not None and f.score >= floor]
        chosen = {f.customer_id: (f.reason, {"score": f.score, "action": f.action}) for f in findings}
    elif seg.kind == "value_at_risk":
        chosen = _value_at_risk(engine, realm_id, as_of, p)
    elif seg.kind == "best":
        from qbsync.reports import best

        days = int(p.get("days", 365))
        report = best.best(engine, realm_id, as_of, Period(as_of - timedelta(days=days - 1), as_of))
        share = Decimal(str(p["share"])) if "share" in p else None
        top = int(p["top"]) if "top" in p else (None if share is not None else 100)
        for row in report.rows:
            if top is not None and row.rank > top:
                break
            chosen[row.customer_id] = (f"rank {row.rank} by spend over {days} days ({row.spend:.2f})",
                                       {"rank": row.rank, "spend": str(row.spend)})
            if share is not None and row.cumulative_share is not None and row.cumulative_share >= share:
                break
    elif seg.kind == "rfm":
        scores = score_all(acts, as_of, rfm)
        for cid, s in scores.items():
            if s.segment in p["segments"]:
                chosen[cid] = (f"RFM {s.r}{s.f}{s.m} (R {s.r}, FM {s.fm}): {s.segment}",
                               {"rfm_segment": s.segment, "r": s.r, "f": s.f, "m": s.m})
    elif seg.kind == "overdue":
        min_days = int(p.get("min_days", 1))
        min_amount = _decimal("min_amount", p.get("min_amount", "0.01"))
        with engine.connect() as conn:
            items = open_items(conn, realm_id, as_of)
        owed: dict[str, tuple[Decimal, int]] = {}
        for item in items:
            late = item.days_past_due(as_of)
            if late >= min_days and item.open > 0:
                amount, worst = owed.get(item.customer_id, (Decimal(0), 0))
                owed[item.customer_id] = (amount + item.open, max(worst, late))
        chosen = {cid: (f"{amount:.2f} overdue, oldest {worst} days", {"overdue": str(amount), "days": worst})
                  for cid, (amount, worst) in owed.items() if amount >= min_amount}
    in_class = _classes_of(engine, realm_id, seg.filters["class"], as_of) if "class" in seg.filters else None
    members = [Member(cid, acts[cid].name, reason, acts[cid], facts)
               for cid, (reason, facts) in chosen.items()
               if cid in acts and _passes(acts[cid], seg.filters, as_of, in_class)]
    members.sort(key=lambda m: (m.name.casefold(), m.customer_id))
    return members
