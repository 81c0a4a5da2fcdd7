"""The HTML report's sections: each report's own Table for the numbers, a chart drawn from the same result."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from markupsafe import Markup

from qbsync.documents import charts
from qbsync.documents.htmlreport import Collected, PageTable, auc_in_words, page_table, rule_table
from qbsync.reports import aging, best, cross, lost, render
from qbsync.reports.table import Column, Table


def _money(v: Decimal) -> tuple[str, str]:
    return str(render.plain(v, "money")), render.shown(v, "money")


def aging_section(col: Collected) -> dict[str, Any]:
    r = col.aging
    table = aging.table(r)
    keys = list(r.totals)
    titles = {c.key: c.title for c in table.columns}
    items = []
    for i, key in enumerate(keys):
        data, text = _money(r.totals[key])
        colour = charts.GREEN if i == 0 else (charts.ORANGE if i < len(keys) - 1 else charts.RED)
        items.append(charts.Bar(key, titles.get(key, key), float(r.totals[key]), data, text, colour))
    chart = charts.bars("aging", items, title=f"A/R aging as of {r.as_of.isoformat()}",
                        axis_note="open amount by days past due")
    return {"chart": chart, "table": page_table("aging", table, col.options.top),
            "total": _money(r.total), "customers": len(r.rows), "tie": _tie(col)}


@dataclass(frozen=True)
class Tie:
    receivables: tuple[str, str]
    difference: tuple[str, str]
    equal: bool
    today: bool


def _tie(col: Collected) -> Tie | None:
    """The aging total against QuickBooks' own figure: the sum of the customers' balances (A/R)."""
    rec = col.receivables
    if rec is None:
        return None
    diff = col.aging.total - rec
    return Tie(_money(rec), _money(diff), diff == 0, col.receivables_today)


def best_section(col: Collected) -> dict[str, Any]:
    r = col.best
    top = col.options.top
    items = [charts.Bar(row.customer_id, row.name, float(row.spend), *_money(row.spend))
             for row in r.rows[:top]]
    n = len(r.rows)
    step = max(1, n // 200)
    ranks = sorted({0, *range(step - 1, n, step), n - 1}) if n else []
    curve = [(0.0, 0.0)] + [((k + 1) / n, float(r.rows[k].cumulative_share or 0)) for k in ranks]
    pareto_n = r.customers_for(Decimal("0.8"))
    marker = (pareto_n / n, f"{pareto_n:,} customers ({pareto_n / n:.0%}) make 80%") if n else None
    chart = charts.pareto("best", items, curve, customers=n, marker=marker,
                          title=f"Best customers {r.period}: spend and cumulative share of revenue")
    share_top = r.rows[min(top, n) - 1].cumulative_share if n else None
    return {"chart": chart, "table": page_table("best", best.table(r, None), top), "customers": n,
            "pareto": pareto_n, "total": _money(r.total),
            "top_share": render.shown(share_top, "share") if share_top is not None else None}


def cross_section(col: Collected) -> dict[str, Any]:
    r = col.cross
    table = cross.table(r, col.options.top)
    page = page_table("cross", table, None)
    dims = [c.key for c in table.columns if c.key.startswith("d:")]
    high = max((abs(float(row.get(k) or 0)) for row in table.rows for k in dims), default=0.0)
    colours = [[charts.heat_colour(float(row.get(c.key) or 0), high) if c.key in dims else ""
                for c in table.columns] for row in table.rows]
    return {"table": page, "colours": colours, "dims": dims, "marks": len(table.rows) * len(dims),
            "by": "locations" if r.dimension == "location" else "classes", "period": str(r.period)}


def disappearing_section(col: Collected) -> dict[str, Any]:
    rep = col.disappearing
    bt = rep.backtest
    findings = rep.findings
    points = []
    y_key, y_label = "expected_purchases", f"expected purchases in the next {bt.holdout_days} days"
    if any("expected_value" in f.facts for f in findings):
        y_key, y_label = "expected_value", "expected value (future spend)"
    for f in findings:
        p_alive, y = f.facts.get("p_alive"), f.facts.get(y_key)
        if p_alive is None or y is None:
            continue
        points.append(charts.Point(f.customer_id, f"{f.display_name}: P(alive) {float(p_alive):.2f}, "
                                   f"{y_label} {float(y):.2f}", float(p_alive), float(y), str(p_alive)))
    chart = (charts.scatter("disappearing", points,
                            x_label="probability the customer is still buying (P alive)", y_label=y_label,
                            title="Disappearing customers: P(alive) against expected value")
             if points else None)
    auc = bt.mean.get(rep.scorer)
    # The backtest judges several dates (rolling origin): the AUC is the mean over them, as the rule's
    # own line says, with its spread; the counts are the latest date's.
    cuts = sorted(bt.cuts, key=lambda c: c.cutoff)
    last = cuts[-1] if cuts else None
    spread = (bt.low[rep.scorer], bt.high[rep.scorer]) if rep.scorer in bt.low else None
    words = auc_in_words(auc, [c.cutoff for c in cuts], bt.horizon_days, last.customers if last else 0,
                         last.disappeared if last else 0, spread)
    table = rule_table("disappearing", col.options.as_of, findings, [rep.summary()])
    return {"chart": chart, "words": words, "table": page_table("disappearing", table, col.options.top),
            "listed": len(findings), "scorer": rep.scorer, "candidates": rep.candidates}


def activity_section(col: Collected) -> dict[str, Any]:
    inactive = [f for f in col.inactive if f.action == "deactivate"]
    collections = [f for f in col.inactive if f.action == "collections"]
    counts = [("active", "active in QuickBooks", col.customers["active"], charts.BLUE),
              ("inactive", "inactive in QuickBooks", col.customers["inactive"], charts.GREY),
              ("deactivate", "to deactivate", len(inactive), charts.RED),
              ("collections", "inactive, money open", len(collections), charts.ORANGE),
              ("reactivate", "to reactivate", len(col.reactivate), charts.GREEN)]
    items = [charts.Bar(k, label, float(n), str(n), f"{n:,}", colour) for k, label, n, colour in counts]
    chart = charts.bars("activity", items, title="Customers: active, inactive and what the rules propose")
    top = col.options.top
    return {"chart": chart, "counts": {k: n for k, _, n, _ in counts},
            "inactive": page_table("inactive", rule_table("inactive", col.options.as_of, col.inactive, []),
                                   top),
            "reactivate": page_table("reactivate", rule_table("reactivate", col.options.as_of, col.reactivate,
                                                              []), top)}


@dataclass(frozen=True)
class Evidence:
    comparison: str
    level: str
    left: str
    right: str
    bits: float
    width: float  # share of the widest bar


@dataclass(frozen=True)
class Pair:
    kind: str  # "duplicate" (in a cluster) or "possible" (for a person to decide)
    cluster: str | None
    left_id: str
    left_name: str
    right_id: str
    right_name: str
    probability: float
    weight: float
    prior_bits: float
    evidence: tuple[Evidence, ...]

    @property
    def marks(self) -> int:
        return len(self.evidence)


def duplicates_section(col: Collected) -> dict[str, Any] | None:
    rep = col.duplicates
    if rep is None:
        return None
    prior = float(rep.model.prior_bits())
    seen: set[tuple[str, str]] = set()
    found: list[tuple[str, str | None, Any]] = []
    for c in rep.clusters:
        for link in c.links:
            found.append(("duplicate", c.cluster_id, link))
    found.sort(key=lambda t: -t[2].probability)
    found += [("possible", None, p) for p in rep.possible]
    pairs = []
    for kind, cluster, link in found:
        key = (link.left_id, link.right_id)
        if key in seen:
            continue
        seen.add(key)
        widest = max([abs(prior), *(abs(e.bits) for e in link.fields)]) or 1.0
        ev = tuple(Evidence(e.comparison, e.level, e.left, e.right, e.bits, abs(e.bits) / widest)
                   for e in link.fields)
        pairs.append(Pair(kind, cluster, link.left_id, link.left_name, link.right_id, link.right_name,
                          link.probability, link.weight, prior, ev))
        if len(pairs) >= col.options.pairs:
            break
    total = len({(lk.left_id, lk.right_id) for c in rep.clusters for lk in c.links}) + len(rep.possible)
    return {"pairs": pairs, "total": total, "clusters": len(rep.clusters),
            "duplicates": sum(len(c.members) - 1 for c in rep.clusters), "possible": len(rep.possible),
            "threshold": rep.threshold, "prior_width": abs(prior) / max(
                [abs(prior), *(abs(e.bits) for p in pairs for e in p.evidence)], default=1.0) if pairs else 0}


def campaigns_section(col: Collected) -> dict[str, Any]:
    rows = []
    intervals = []
    for rep in col.campaigns:
        d = rep.as_dict()
        rows.append(d)
        low, high = rep.lift_interval
        intervals.append(charts.Interval(rep.campaign.name, rep.campaign.name, rep.contacted.rate,
                                         rep.control.rate, rep.lift, low, high))
    chart = charts.lift("campaigns", intervals, title="Campaigns: contacted against control, lift with its "
                        "95% interval") if intervals else None
    return {"chart": chart, "rows": rows}


def lost_section(col: Collected) -> dict[str, Any]:
    r = col.lost
    periods = r.periods()
    series = []
    from qbsync.customers.file import LOSS_REASONS

    for reason in LOSS_REASONS:
        values, figures = [], []
        for p in periods:
            amount = sum((x.revenue for x in r.rows if x.period == p and x.reason == reason), Decimal(0))
            values.append(float(amount))
            figures.append(str(render.plain(amount, "money")))
        if any(values):
            series.append((reason, reason, values, figures))
    chart = (charts.stacked("lost", periods, series, title="Lost revenue by reason and quarter")
             if series else None)
    return {"chart": chart, "table": page_table("lost", lost.table(r), None), "customers": r.total_customers,
            "revenue": _money(r.total_revenue)}


def timings_table(col: Collected) -> Table:
    rows = [{"part": k, "seconds": Decimal(str(v))} for k, v in col.seconds.items()]
    return Table("Time spent", [Column("part", "Part"), Column("seconds", "Seconds", "number")], rows)


def build(col: Collected) -> dict[str, Any]:
    return {"aging": aging_section(col), "best": best_section(col), "cross": cross_section(col),
            "disappearing": disappearing_section(col), "activity": activity_section(col),
            "duplicates": duplicates_section(col), "campaigns": campaigns_section(col),
            "lost": lost_section(col), "Markup": Markup, "PageTable": PageTable}
