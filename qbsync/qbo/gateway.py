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

JsonDict = dict[str, Any]


@dataclass
class Page:
    """One page of a query: the rows and the server's clock when it answered (aware datetime)."""

    rows: list[JsonDict]
    server_time: datetime


@dataclass
class CdcResult:
    """One CDC answer: changed objects per entity (deleted ones as ``status: Deleted`` stubs)."""

    changes: dict[str, list[JsonDict]]
    server_time: datetime

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.changes.values())


@dataclass
class RequestStats:
    """Counters the client keeps for summaries and benchmarks."""

    requests: int = 0
    throttled: int = 0
    retries: int = 0
    server_errors: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


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

    def company_info(self) -> JsonDict:
        """The CompanyInfo object of the realm."""
        ...

    def preferences(self) -> JsonDict:
        """The Preferences object of the realm."""
        ...
