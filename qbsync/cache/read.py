"""Reading many cache rows fast: raw driver values turned into dates and money, ids in chunks.

Rules and reports read hundreds of thousands of rows; SQLAlchemy's per-value conversion of ``Money``
and of SQLite's ISO dates costs more than the query. Columns wrapped in ``Raw.col`` come back as the
driver returns them (integer cents and ISO text on SQLite, Decimal and date on PostgreSQL);
``Raw.money`` and ``Raw.day`` give the values the column types would, so the results stay identical
(two-place Decimals) at a fraction of the cost. Days come from a memo (a company has a few thousand
distinct dates); amounts are converted each time (``types.from_cents``), as a memo of them grows
with the company: at 100,000 customers 200,000 distinct amounts, and a look-up in a memo that size
misses the CPU's caches and costs as much as the conversion it saves.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from qbsync.cache.types import CENT, from_cents

ZERO = Decimal("0.00")
#: ids per IN (...) list: far below SQLite's and PostgreSQL's parameter limits
CHUNK = 500


@contextmanager
def bulk() -> Iterator[None]:
    """No cyclic garbage collection while a report or rule reads and works over the whole cache.

    Rows are tuples and the facts built from them dataclasses: reference counting frees what they
    drop, and none forms a cycle for the collector to find. Yet every 700 objects allocated start a
    collection, and each full one walks every object alive, the rows read so far included: on
    100,000 customers it took a third of a report's time and grew faster than the data (issue 15).
    As a decorator or ``with`` block; nests, and leaves collection as it found it (on unless
    someone had turned it off); cycles made meanwhile wait for the next collection after it.

    (Handing what it built to the oldest generation on the way out, ``gc.freeze`` + ``gc.unfreeze``,
    saved the first young collection's walk over it, but those calls reset the collector's counts and
    hide the objects from them: in a process running report after report no collection came again
    and cycle garbage piled up. Not done.)
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def chunked(ids: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
    """``ids`` in slices of ``size``, for one ``IN (...)`` list each."""
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


class _DayMemo(dict[Any, date]):
    def __missing__(self, raw: Any) -> date:
        found = self[raw] = raw if isinstance(raw, date) else date.fromisoformat(str(raw)[:10])
        return found


class Raw:
    """Converts a dialect's raw dates and money, each distinct value once (see the module docstring)."""

    def __init__(self, source: sa.Connection | sa.Engine | str) -> None:
        dialect = source if isinstance(source, str) else source.dialect.name
        self.sqlite = dialect == "sqlite"
        self._days = _DayMemo()

    @staticmethod
    def col(column: Any) -> Any:
        """``column`` read as the driver returns it."""
        return sa.type_coerce(column, sa.types.NullType())

    def day(self, raw: Any) -> date:
        return self._days[raw]

    def maybe_day(self, raw: Any) -> date | None:
        return None if raw is None else self._days[raw]

    def days(self, raw: list[Any]) -> list[date]:
        return list(map(self._days.__getitem__, raw))

    def not_indexed(self, column: Any) -> Any:
        """``column`` as SQLite's planner cannot search an index by (``col || ''``: same values, same
        order, for the ISO text SQLite keeps dates in); as it is on PostgreSQL, whose planner weighs
        both ways with statistics. Compare it with ``raw_day``."""
        return sa.type_coerce(column, sa.String) + "" if self.sqlite else column

    def raw_day(self, day: date) -> Any:
        """``day`` as this driver returns dates, to compare raw values with."""
        return day.isoformat() if self.sqlite else day

    def money(self, raw: int | Decimal | None) -> Decimal:
        """An amount as the ``Money`` column type gives it; ZERO for NULL (no rows)."""
        if raw is None:
            return ZERO
        return from_cents(int(raw)) if self.sqlite else Decimal(raw).quantize(CENT)

    def total(self, raw: int | Decimal | None) -> Decimal | None:
        """A sum as ``money`` gives it, None for NULL (no rows)."""
        return None if raw is None else self.money(raw)

    def cents(self, raw: int | Decimal | None) -> int:
        """An amount in integer cents (0 for NULL), for exact sums in ints rather than Decimals."""
        if raw is None:
            return 0
        return int(raw) if self.sqlite else int(Decimal(raw).quantize(CENT) * 100)
