"""Cross report: spend of customers x locations (or classes) in a period, with totals on both margins.

Spend is each transaction's sales (``reports.sales``: after discounts, before tax; credit memos and
refund receipts negative), like the best-customers report. A location is the header's
DepartmentRef. Classes are set per line in QuickBooks, so a transaction with sales lines shares its
sales out over its lines' classes in proportion to the line amounts (to the cent, adding up
exactly); one without lines counts whole under the header's ClassRef. Either way each
customer's row total and the grand total are the same by location and by class. No location or
class: "(none)".
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

import sqlalchemy as sa

from qbsync.cache.models import Department, QboClass, SalesLine
from qbsync.cache.read import Raw, bulk
from qbsync.cache.types import from_cents
from qbsync.errors import InputError
from qbsync.reports import sales
from qbsync.reports.source import ZERO, Period, customer_names
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


def share_out(total: Decimal, parts: dict[str, Decimal]) -> dict[str, Decimal] | None:
    """``total`` in cents over ``parts``' keys in proportion to their amounts, adding up to ``total``.

    Largest remainder: every key gets its share rounded down to the cent, the cents left over go to
    the largest remainders (ties: key order). None when the parts add up to zero (no proportion).
    """
    weight = sum(parts.values(), ZERO)
    if not weight:
        return None
    cents = int(total * 100)
    scaled = {k: v * 100 for k, v in parts.items()}
    if all(c == int(c) for c in scaled.values()):
        shares = share_cents(cents, {k: int(c) for k, c in scaled.items()})
        assert shares is not None
        return {k: from_cents(v) for k, v in shares.items()}
    keys = sorted(parts)
    exact = {k: Fraction(cents) * Fraction(parts[k]) / Fraction(weight) for k in keys}
    out = {k: math.floor(v) for k, v in exact.items()}
    left = cents - sum(out.values())
    for k in sorted(keys, key=lambda k: -(exact[k] - out[k]))[:left]:
        out[k] += 1
    return {k: from_cents(v) for k, v in out.items()}


def share_cents(total: int, parts: dict[str, int]) -> dict[str, int] | None:
    """``share_out`` in integer cents, as exact and ten times cheaper: the share of a part is
    ``total * part / weight``, whose floor and remainder Python's integers give exactly."""
    weight = sum(parts.values())
    if not weight:
        return None
    keys = sorted(parts)
    nums = [total * parts[k] for k in keys]
    if weight < 0:
        weight, nums = -weight, [-n for n in nums]
    out = [n // weight for n in nums]  # floors, as of the exact quotient, whatever the signs
    left = total - sum(out)
    if left:
        remainders = [n % weight for n in nums]  # each share's fraction left over, times the weight
        for i in sorted(range(len(keys)), key=lambda i: -remainders[i])[:left]:
            out[i] += 1
    return dict(zip(keys, out, strict=True))


def _class_rows(realm_id: str, period: Period, raw: Raw, scan: bool = True) -> sa.CompoundSelect[Any]:
    """(customer, class, split txn type, split txn id, header class, amount, txn total) rows.

    A transaction whose lines (after falling back to the header's class) are all in one class, or
    that has no lines, is summed in SQL under that class: split columns NULL, amount its signed
    total. One with lines in several classes comes back as one row per class with its txn key, the
    sum of its lines there and the transaction's signed total, for ``share_out``. Only those few
    transactions are joined to their lines; the rest cost one index probe each. SQLite reads the
    sales tables in storage order (``sales.selects`` with ``raw``): the period's rows through the
    date index cost a jump about the table each (x15 for ten times the data, x10 in storage order,
    issue 15). Amounts come back raw, summed in integer cents (``Raw.cents``).
    """
    heads = []
    for model, entity, q in sales.selects(realm_id, period.start, period.end, raw, scan):
        # probed in storage order, which is nearly id order (a full sync writes pages ``ORDERBY Id``,
        # and ids of one length sort as text as they do as numbers), the order of sales_lines'
        # primary key: the probes walk its index forwards instead of jumping about it in date order
        # (a third faster on SQLite at 2M rows). Sorting by id for them cost more than it saved
        # (x11.5 against x11 for ten times the data, issue 15).
        t = (q.add_columns(sa.literal(entity, sa.String()).label("txn_type"), model.id.label("txn_id"))
             .subquery())
        line_class = sa.func.coalesce(SalesLine.class_id, t.c.class_id, "")
        lo, hi = sa.func.min(line_class), sa.func.max(line_class)
        # one probe per transaction: "=" + its one line class, "*" when the lines are in several, NULL
        # when it has none
        kind = (sa.select(sa.case((lo == hi, "=" + lo), (lo.is_not(None), "*")))
                .where(SalesLine.realm_id == realm_id, SalesLine.txn_type == entity,
                       SalesLine.txn_id == t.c.txn_id)
                .scalar_subquery())
        # only what is read below: narrower heads to materialise and scan
        heads.append(sa.select(t.c.customer_id, t.c.amount, t.c.class_id, t.c.txn_type, t.c.txn_id,
                               kind.label("kind")))
    # materialised: read twice below, probed once
    h = sa.union_all(*heads).cte("heads").prefix_with("MATERIALIZED")
    whole = h.c.kind.is_(None) | (h.c.kind != "*")
    cls = sa.case((h.c.kind.is_(None), h.c.class_id), else_=sa.func.nullif(sa.func.substr(h.c.kind, 2), ""))
    none = sa.null()
    # summed in Python (``_class_cells``, a dict: linear): SQLite's GROUP BY sorts the ~470,000 heads
    # of 100,000 customers by (customer, class), which grew x13-20 for ten times the data (issue 15)
    single = (sa.select(h.c.customer_id, cls.label("cls"), none, none, none, Raw.col(h.c.amount), none)
              .where(whole))
    line_cls = sa.func.coalesce(SalesLine.class_id, h.c.class_id)
    split = (sa.select(h.c.customer_id, line_cls, h.c.txn_type, h.c.txn_id, h.c.class_id,
                       Raw.col(sa.func.sum(SalesLine.amount)), Raw.col(sa.func.min(h.c.amount)))
             .join(SalesLine, sa.and_(SalesLine.realm_id == realm_id, SalesLine.txn_type == h.c.txn_type,
                                      SalesLine.txn_id == h.c.txn_id))
             .where(h.c.kind == "*")
             .group_by(h.c.customer_id, line_cls, h.c.txn_type, h.c.txn_id, h.c.class_id))
    return sa.union_all(single, split)


def _class_cells(rows: Iterable[Any], raw: Raw) -> dict[str, dict[str, Decimal]]:
    """The cells from ``_class_rows``' rows, summed in integer cents (exact, cheaper than Decimals).
    SQLite gives each customer's rows one after another, so each customer's cells are looked up
    once per run of them (any order gives the same cells)."""
    cents = raw.cents
    totals: dict[str, dict[str, int]] = defaultdict(dict)
    splits: dict[tuple[str, str], tuple[str, str | None, int, dict[str, int]]] = {}
    last: str | None = None
    cell: dict[str, int] = {}
    for cid, cls, txn_type, txn_id, header, amount, total in rows:
        if txn_type is None:
            if cid != last:
                last, cell = cid, totals[cid]
            key = cls or NONE_KEY
            cell[key] = cell.get(key, 0) + cents(amount)
        else:
            split = splits.get((txn_type, txn_id))
            if split is None:
                split = splits[txn_type, txn_id] = (cid, header, cents(total), {})
            split[3][cls or NONE_KEY] = cents(amount)
    for cid, header, total, parts in splits.values():
        cell = totals[cid]
        shares = share_cents(total, parts)
        if shares is None:  # lines netting to zero: nothing to share by, so the header's class
            shares = {header or NONE_KEY: total}
        for key, value in shares.items():
            cell[key] = cell.get(key, 0) + value
    return {cid: {k: from_cents(v) for k, v in cell.items()} for cid, cell in totals.items()}


@bulk()
def cross(engine: sa.Engine, realm_id: str, as_of: date, period: Period,
          dimension: Dimension = "location") -> CrossReport:
    if dimension not in ("location", "class"):
        raise InputError(f"unknown dimension {dimension!r}", hint="use --by location or --by class")
    model = Department if dimension == "location" else QboClass
    with engine.connect() as conn:
        if dimension == "class":
            raw = Raw(conn)
            scan = sales.scan_pays(conn, realm_id, period.start, period.end)
            cells = _class_cells(conn.execute(_class_rows(realm_id, period, raw, scan)), raw)
        else:
            cells = defaultdict(dict)
            for cid, per in sales.by_customer_and(conn, realm_id, period.start, period.end,
                                                  "department_id").items():
                for dim, amount in per.items():
                    cells[cid][dim or NONE_KEY] = cells[cid].get(dim or NONE_KEY, ZERO) + amount
        dim_names = dict(conn.execute(sa.select(model.id, model.fully_qualified_name)
                                      .where(model.realm_id == realm_id)).all())
        names = customer_names(conn, realm_id)
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
    if report.dimension == "class":
        notes.append("a transaction with lines in several classes is shared out over them "
                     "in proportion to its line amounts")
    return Table(f"Customers x {label} {report.period}", cols, rows, totals, notes,
                 {"as_of": report.as_of, "period": str(report.period), "by": report.dimension})
