"""Cross report: spend of customers x locations (or classes) in a period, with totals on both margins.

Uses the transaction header's DepartmentRef (location) or ClassRef; spend is net of credit memos
like the best-customers report. Transactions without one land in "(none)".
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

import sqlalchemy as sa

from qbsync.cache.models import Department, QboClass
from qbsync.errors import InputError
from qbsync.reports.source import ZERO, Period, customers, money_sum, revenue_union
from qbsync.reports.table import Column, Table

Dimension = Literal["location", "class"]
NONE_KEY = ""
OTHERS = "(all other customers)"


@dataclass
class CrossReport:
    as_of: date
    period: Period
    dimension: Dimension
    column_names: dict[str, str]  # dimension id -> name, in display order
    cells: dict[str, dict[str, Decimal]]  # customer id -> dimension id -> spend
    names: dict[str, str]

    def row_total(self, cid: str) -> Decimal:
        return sum(self.cells[cid].values(), ZERO)

    def column_totals(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for row in self.cells.values():
            for key, value in row.items():
                out[key] += value
        return dict(out)

    @property
    def total(self) -> Decimal:
        return sum((self.row_total(c) for c in self.cells), ZERO)


def cross(engine: sa.Engine, realm_id: str, as_of: date, period: Period,
          dimension: Dimension = "location") -> CrossReport:
    if dimension not in ("location", "class"):
        raise InputError(f"unknown dimension {dimension!r}", hint="use --by location or --by class")
    rev = revenue_union(realm_id, period.start, period.end)
    key = rev.c.department_id if dimension == "location" else rev.c.class_id
    model = Department if dimension == "location" else QboClass
    with engine.connect() as conn:
        rows = conn.execute(sa.select(rev.c.customer_id, key, money_sum(rev.c.amount))
                            .group_by(rev.c.customer_id, key))
        cells: dict[str, dict[str, Decimal]] = defaultdict(dict)
        for cid, dim, amount in rows:
            cells[cid][dim or NONE_KEY] = cells[cid].get(dim or NONE_KEY, ZERO) + (amount or ZERO)
        dim_names = dict(conn.execute(sa.select(model.id, model.fully_qualified_name)
                                      .where(model.realm_id == realm_id)).all())
        names = {cid: c.name for cid, c in customers(conn, realm_id).items()}
    used = {k for row in cells.values() for k in row}
    ordered = sorted(used, key=lambda k: (k == NONE_KEY, dim_names.get(k) or k))
    column_names = {k: (dim_names.get(k) or f"#{k}") if k != NONE_KEY else "(none)" for k in ordered}
    return CrossReport(as_of, period, dimension, column_names, dict(cells), names)


def table(report: CrossReport, limit: int | None = 50) -> Table:
    keys = list(report.column_names)
    cols = [Column("customer_id", "Id"), Column("name", "Customer"),
            *(Column(f"d:{k}", report.column_names[k], "money") for k in keys),
            Column("total", "Total", "money")]
    ranked = sorted(report.cells, key=lambda c: (-report.row_total(c), report.names.get(c, ""), c))
    notes = []
    shown, rest = (ranked, []) if limit is None else (ranked[:limit], ranked[limit:])
    rows = []
    for cid in shown:
        row = {"customer_id": cid, "name": report.names.get(cid, cid), "total": report.row_total(cid)}
        row.update({f"d:{k}": v for k, v in report.cells[cid].items()})
        rows.append(row)
    if rest:
        other: dict[str, object] = {"customer_id": "", "name": f"{OTHERS} ({len(rest)})"}
        for k in keys:
            other[f"d:{k}"] = sum((report.cells[c].get(k, ZERO) for c in rest), ZERO)
        other["total"] = sum((report.row_total(c) for c in rest), ZERO)
        rows.append(other)
        notes.append(f"the {len(rest)} customers after the top {limit} are summed in one row")
    totals: dict[str, object] = {"customer_id": "", "name": "TOTAL", "total": report.total}
    totals.update({f"d:{k}": v for k, v in report.column_totals().items()})
    label = "locations" if report.dimension == "location" else "classes"
    return Table(f"Customers x {label} {report.period}", cols, rows, totals, notes,
                 {"as_of": report.as_of, "period": str(report.period), "by": report.dimension})
