"""A minimal QboGateway over plain HTTP (requests), for integration tests while the real client is absent.

No retries, no rate limiting: faults map straight to the error tree, so a test sees each one. The
real client (``qbsync.qbo.client``) is preferred by the integration tests whenever it exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import requests

from qbsync.errors import (
    ApiError,
    FaultDetail,
    NotFoundError,
    ServerError,
    StaleObjectError,
    ThrottledError,
    ValidationError,
)
from qbsync.qbo.gateway import CdcResult, Page, RequestStats

JsonDict = dict[str, Any]


class HttpGateway:
    def __init__(self, api_url_v3: str, realm_id: str, access_token: str) -> None:
        self.base = f"{api_url_v3}/company/{realm_id}"
        self.realm_id = realm_id
        self.stats = RequestStats()
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {access_token}", "Accept": "application/json"})

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        text: str | None = None,
    ) -> JsonDict:
        self.stats.requests += 1
        params = {**(params or {}), "minorversion": "75"}
        headers = {"Content-Type": "application/text"} if text is not None else {}
        try:
            resp = self.session.request(
                method, self.base + path, params=params, json=body, data=text, headers=headers, timeout=30
            )
        except requests.RequestException as exc:
            raise ServerError(f"connection failed: {type(exc).__name__}") from exc
        if resp.status_code == 429:
            raise ThrottledError("ThrottleExceeded", status=429)
        if resp.status_code >= 500:
            raise ServerError(f"HTTP {resp.status_code}", status=resp.status_code)
        try:
            data: JsonDict = resp.json()
        except ValueError as exc:
            raise ServerError("truncated or non-JSON body") from exc
        if resp.status_code >= 400 or "Fault" in data:
            errors = [
                FaultDetail(str(e.get("code", "")), str(e.get("Message", "")), str(e.get("Detail", "")))
                for e in data.get("Fault", {}).get("Error", [])
            ]
            code = errors[0].code if errors else ""
            cls: type[ApiError] = {"5010": StaleObjectError, "610": NotFoundError}.get(code, ValidationError)
            raise cls(f"{code} {errors[0].message if errors else ''}", status=resp.status_code, errors=errors)
        return data

    def query(self, statement: str) -> Page:
        data = self._call("POST", "/query", text=statement)
        rows: list[JsonDict] = []
        for key, value in data.get("QueryResponse", {}).items():
            if isinstance(value, list):
                rows.extend(value)
            del key
        return Page(rows=rows, server_time=datetime.now(UTC))

    def count(self, entity: str, where: str | None = None) -> int:
        stmt = f"select count(*) from {entity}" + (f" where {where}" if where else "")
        return int(self._call("POST", "/query", text=stmt)["QueryResponse"].get("totalCount", 0))

    def cdc(self, entities: Sequence[str], changed_since: datetime) -> CdcResult:
        raise NotImplementedError

    def read(self, entity: str, id_: str) -> JsonDict:
        return self._call("GET", f"/{entity.lower()}/{id_}")[entity]  # type: ignore[no-any-return]

    def batch(self, items: Sequence[JsonDict], request_id: str | None = None) -> list[JsonDict]:
        params = {"requestid": request_id} if request_id else {}
        data = self._call("POST", "/batch", params=params, body={"BatchItemRequest": list(items)})
        return list(data["BatchItemResponse"])

    def sparse_update(self, entity: str, body: JsonDict, request_id: str) -> JsonDict:
        return self._call("POST", f"/{entity.lower()}", params={"requestid": request_id}, body=body)[entity]  # type: ignore[no-any-return]

    def create(self, entity: str, body: JsonDict) -> JsonDict:
        return self._call("POST", f"/{entity.lower()}", body=body)[entity]  # type: ignore[no-any-return]

    def company_info(self) -> JsonDict:
        raise NotImplementedError

    def preferences(self) -> JsonDict:
        raise NotImplementedError
