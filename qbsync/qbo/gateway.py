"""The seam between qbsync and QuickBooks: what sync and write-back may ask of the API.

The real client (``qbsync.qbo.client``) and in-process fakes used by tests both satisfy
``QboGateway``. Everything crosses it as plain QBO JSON dicts (exactly as the API sends them),
never python-quickbooks objects: they are slow to build and serialise defaults on write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import orjson

JsonDict = dict[str, Any]


class Page:
    """One page of a query: its objects and the server's clock when it answered (aware datetime).

    The client may hand the response over undecoded (``body``, with the QueryResponse key of its
    array): the cache then maps it inside the database and Python never builds the page's objects.
    ``rows`` decodes it on first use.
    """

    def __init__(self, rows: list[JsonDict] | None = None, server_time: datetime | None = None, *,
                 body: bytes | None = None, key: str | None = None) -> None:
        if server_time is None:
            raise ValueError("a page needs the server time of its answer")
        if rows is None and (body is None or key is None):
            raise ValueError("a page needs its rows, or the response body and the key of its array")
        self._rows = rows
        self.server_time = server_time
        self.body = body
        self.key = key

    @property
    def rows(self) -> list[JsonDict]:
        if self._rows is None:
            assert self.body is not None and self.key is not None
            found = (orjson.loads(self.body).get("QueryResponse") or {}).get(self.key)
            self._rows = found if isinstance(found, list) else []
        return self._rows

    def json_array(self) -> tuple[bytes, tuple[str, ...]]:
        """A JSON document and the path of the array of objects in it (what the cache writer reads)."""
        if self.body is not None and self.key is not None:
            return self.body, ("QueryResponse", self.key)
        return orjson.dumps(self.rows), ()

    def __repr__(self) -> str:
        size = f"{len(self.body):,} bytes" if self._rows is None and self.body else f"{len(self.rows)} rows"
        return f"Page({size}, server_time={self.server_time.isoformat()})"


@dataclass
class CdcResult:
    """One CDC answer: changed objects per entity (deleted ones as ``status: Deleted`` stubs)."""

    changes: dict[str, list[JsonDict]]
    server_time: datetime

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.changes.values())


@dataclass
class QueryAnswers:
    """The answers to several query statements sent as one batch request (``QboGateway.queries``):
    each statement's ``QueryResponse`` in the order asked, and the server's clock when it answered
    (the earliest, when more than one request was needed)."""

    answers: list[JsonDict]
    server_time: datetime

    def total(self, i: int) -> int:
        """The ``totalCount`` of the i-th answer (a COUNT statement)."""
        return int(self.answers[i].get("totalCount", 0))

    def first(self, i: int, entity: str) -> JsonDict:
        """The first object of the i-th answer (``SELECT * FROM CompanyInfo``), ``{}`` if none."""
        rows = self.answers[i].get(entity)
        return dict(rows[0]) if isinstance(rows, list) and rows and isinstance(rows[0], dict) else {}


@dataclass
class RequestStats:
    """Counters the client keeps for summaries and benchmarks."""

    requests: int = 0
    throttled: int = 0
    retries: int = 0
    server_errors: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    #: requests (every attempt, as the server sees them) by the entities each one named, in order:
    #: ``("Invoice",)`` for a page or COUNT of invoices, several for a CDC or a batch of queries
    by_entities: dict[tuple[str, ...], int] = field(default_factory=dict)

    def count(self, entities: Sequence[str]) -> None:
        key = tuple(dict.fromkeys(entities))
        self.by_entities[key] = self.by_entities.get(key, 0) + 1


class QboGateway(Protocol):
    realm_id: str
    stats: RequestStats

    def query(self, statement: str) -> Page:
        """Run one query statement (SELECT * ...) and return its rows; COUNT is ``count``."""
        ...

    def count(self, entity: str, where: str | None = None) -> int:
        """``SELECT COUNT(*) FROM entity [WHERE where]``."""
        ...

    def cdc(self, entities: Sequence[str], changed_since: datetime) -> CdcResult:
        """Change data capture since ``changed_since`` (at most 30 days back, 1,000 objects)."""
        ...

    def read(self, entity: str, id_: str) -> JsonDict:
        """GET one object by Id; NotFoundError when absent."""
        ...

    def batch(self, items: Sequence[JsonDict], request_id: str | None = None) -> list[JsonDict]:
        """POST up to 30 BatchItemRequest items; returns BatchItemResponse items in bId order.

        Per-item faults stay in the returned items (``{"bId", "Fault"}``); only a failure of the
        whole request raises.
        """
        ...

    def sparse_update(self, entity: str, body: JsonDict, request_id: str) -> JsonDict:
        """POST a sparse update (body must carry Id, SyncToken and ``sparse: true``)."""
        ...

    def queries(self, statements: Sequence[str]) -> QueryAnswers:
        """Several query statements (COUNTs, ``SELECT * FROM CompanyInfo``) in one batch request (one
        per 30); a fault of any item raises. Never for pages of 1,000: those go through ``query``."""
        ...

    def company_info(self) -> JsonDict:
        """The CompanyInfo object of the realm."""
        ...

    def preferences(self) -> JsonDict:
        """The Preferences object of the realm."""
        ...
