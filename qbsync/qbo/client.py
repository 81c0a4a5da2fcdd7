"""The QuickBooks API client (``QboGateway``): limiter, retries, token refresh and fault parsing per request.

python-quickbooks supplies the URL layout (``api_url_v3`` / ``sandbox_api_url_v3``, set per instance),
the minorversion and its requests-oauthlib session. Requests go through that session directly rather
than ``QuickBooks.make_request``, which never retries, raises only the first error of a fault, maps
5010/6xxx codes to its base exception and cannot set a timeout.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import requests
import urllib3
from quickbooks.client import QuickBooks
from requests.adapters import HTTPAdapter
from requests_oauthlib import OAuth2Session

from qbsync.auth.oauth import AuthClientFactory, TokenManager, auth_client_factory
from qbsync.auth.stores import open_token_store
from qbsync.auth.tokens import TokenStore
from qbsync.clock import Clock, SystemClock
from qbsync.errors import ApiError, AuthError, ServerError, ThrottledError
from qbsync.qbo import querybuild
from qbsync.qbo.faults import batch_item_error, error_from_response, parse_fault_body
from qbsync.qbo.gateway import CdcResult, JsonDict, Page, QueryAnswers, RequestStats
from qbsync.qbo.limiter import RateLimiter, VirtualTime, limiter_for
from qbsync.qbo.retry import retrying
from qbsync.settings import Endpoints, Settings

log = logging.getLogger(__name__)

# requests-oauthlib logs the token and the Authorization header at DEBUG; tokens never reach logs.
for _noisy in ("requests_oauthlib", "oauthlib"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)

#: query answers from this size on are handed to the cache undecoded (``QboClient._page``)
RAW_PAGE_MIN = 64 * 1024
# A QBO query answer opens with its QueryResponse and the entity's array and closes with the time;
# an answer shaped otherwise (a fault, say) is decoded and checked in full.
_PAGE_HEAD = re.compile(rb'\s*\{\s*"QueryResponse"\s*:\s*\{\s*"([A-Za-z]+)"\s*:\s*\[')
_PAGE_TAIL = re.compile(rb'"time"\s*:\s*"([^"]{10,40})"\s*\}\s*$')

MAX_BATCH_ITEMS = 30
MAX_REQUEST_ID = 50
USER_AGENT = "qbsync (python-quickbooks)"


#: per thread: what to call once the current request's bytes are written (``RateLimiter.sent``)
_sending = threading.local()


def _mark_sent() -> None:
    mark = getattr(_sending, "mark", None)
    if mark is not None:
        mark()


class _MarkingHTTPConnection(urllib3.connection.HTTPConnection):
    """Tells the limiter when a request has actually left (see ``RateLimiter.sent``)."""

    def request(self, *args: Any, **kwargs: Any) -> None:
        super().request(*args, **kwargs)
        _mark_sent()


class _MarkingHTTPSConnection(urllib3.connection.HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        super().request(*args, **kwargs)
        _mark_sent()


class _MarkingHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _MarkingHTTPConnection


class _MarkingHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _MarkingHTTPSConnection


class _MarkingAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _MarkingHTTPPool, "https": _MarkingHTTPSPool}


def allow_insecure_transport(endpoints: Endpoints) -> None:
    """Let oauthlib send bearer tokens over plain http, but only to a loopback qbsync sandbox."""
    if endpoints.insecure_loopback:
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"


def parse_server_time(value: object) -> datetime | None:
    """The top-level ``time`` of a response: ISO with the company's offset, or epoch ms (401 bodies)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000.0, UTC)
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)


class QboClient:
    """One realm's API client; thread-safe (share one instance between worker threads)."""

    def __init__(self, settings: Settings, realm_id: str, tokens: TokenManager, *,
                 clock: Clock | None = None, limiter: RateLimiter | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 rand: Callable[[], float] = random.random) -> None:
        self.settings = settings
        self.realm_id = realm_id
        self.tokens = tokens
        self.stats = RequestStats()
        self._clock = clock or SystemClock()
        self._sleep = sleep
        self._rand = rand
        self._stats_lock = threading.Lock()
        endpoints = settings.endpoints
        allow_insecure_transport(endpoints)
        self.limiter = limiter or limiter_for(endpoints.api_url_v3, realm_id, settings.limits)
        qb = QuickBooks(company_id=realm_id, minorversion=settings.minorversion)
        qb.sandbox = endpoints.kind == "sandbox"
        qb.api_url_v3 = endpoints.api_url_v3
        qb.sandbox_api_url_v3 = endpoints.api_url_v3
        qb.session = OAuth2Session(settings.client_id)
        adapter = _MarkingAdapter(pool_connections=2, pool_maxsize=max(10, settings.limits.max_concurrent))
        qb.session.mount("https://", adapter)
        qb.session.mount("http://", adapter)
        self._qb = qb

    def __repr__(self) -> str:
        return f"QboClient(realm_id={self.realm_id!r}, api={self._qb.api_url!r})"

    @property
    def base_url(self) -> str:
        return f"{self._qb.api_url}/company/{self.realm_id}"

    def close(self) -> None:
        self._qb.session.close()

    def __enter__(self) -> QboClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing --------------------------------------------------------------------------------

    def _count(self, kind: str, entities: Sequence[str] | None = None, **fields: int) -> None:
        with self._stats_lock:
            for name, n in fields.items():
                setattr(self.stats, name, getattr(self.stats, name) + n)
            if kind:
                self.stats.by_kind[kind] = self.stats.by_kind.get(kind, 0) + 1
            if entities is not None:
                self.stats.count(entities)

    def _on_retry(self, exc: BaseException, delay: float) -> None:
        self._count("", retries=1)
        if isinstance(exc, ThrottledError):
            # the realm's budget is spent for everyone in this process, not just this thread
            self.limiter.pause(delay)

    def _send(self, kind: str, method: str, url: str, params: Mapping[str, Any], data: str | bytes | None,
              content_type: str, token: str, entities: Sequence[str]) -> requests.Response:
        headers = {"Accept": "application/json", "Content-Type": content_type, "User-Agent": USER_AGENT,
                   "Authorization": f"Bearer {token}"}
        with self.limiter.slot() as start:
            self._count(kind, entities, requests=1)
            _sending.mark = lambda: self.limiter.sent(start)
            try:
                resp = self._qb.session.request(method, url, params=dict(params), data=data, headers=headers,
                                                timeout=self.settings.retry.timeout_seconds,
                                                withhold_token=True)
                body = resp.content  # read inside the slot: a dropped body is part of this request
            except requests.Timeout:
                self._count("", server_errors=1)
                limit = self.settings.retry.timeout_seconds
                raise ServerError(f"QuickBooks did not answer within {limit:g}s",
                                  hint="try again later") from None
            except requests.RequestException as exc:
                self._count("", server_errors=1)
                raise ServerError(f"connection to QuickBooks failed ({type(exc).__name__})",
                                  hint="check the network; the request will be retried") from None
            finally:
                _sending.mark = None
        log.debug("%s %s -> %s Intuit-Tid=%s (%d bytes)", method, url.split("?")[0], resp.status_code,
                  resp.headers.get("Intuit-Tid", "-"), len(body))
        return resp

    def _parse(self, resp: requests.Response) -> JsonDict:
        status, body = resp.status_code, resp.content
        if status >= 300:
            err = error_from_response(status, body, resp.headers)
            if isinstance(err, ThrottledError):
                self._count("", throttled=1)
            elif isinstance(err, ServerError):
                self._count("", server_errors=1)
            raise err
        try:
            doc = orjson.loads(body)  # several times faster than json on 1,000-row pages
        except ValueError:
            self._count("", server_errors=1)
            raise ServerError(f"QuickBooks sent an unreadable (truncated?) body of {len(body)} bytes",
                              status=status, intuit_tid=resp.headers.get("Intuit-Tid")) from None
        if not isinstance(doc, dict):
            raise ServerError("QuickBooks sent JSON that is not an object", status=status)
        if "Fault" in doc or "fault" in doc:
            parsed = parse_fault_body(body)
            if parsed is not None:
                raise error_from_response(status, body, resp.headers)
        return doc

    def _page(self, resp: requests.Response) -> JsonDict | Page:
        """A large query answer stays undecoded (the cache maps it in the database); anything else,
        a fault among them, goes through ``_parse``."""
        body = resp.content
        if resp.status_code >= 300 or len(body) < RAW_PAGE_MIN:
            return self._parse(resp)
        head = _PAGE_HEAD.match(body, 0, 256)
        tail = _PAGE_TAIL.search(body, max(0, len(body) - 256))
        server_time = parse_server_time(tail.group(1).decode()) if tail else None
        if head is None or server_time is None:
            return self._parse(resp)
        return Page(body=body, key=head.group(1).decode(), server_time=server_time)

    def _attempt(self, kind: str, method: str, url: str, params: Mapping[str, Any],
                 data: str | bytes | None, content_type: str, entities: Sequence[str],
                 decode: Callable[[requests.Response], Any] | None = None) -> Any:
        refreshed = False
        while True:
            token = self.tokens.access_token()
            resp = self._send(kind, method, url, params, data, content_type, token, entities)
            if resp.status_code == 401 and not refreshed:
                log.info("QuickBooks rejected the access token (Intuit-Tid=%s); refreshing once",
                         resp.headers.get("Intuit-Tid", "-"))
                self.tokens.refresh_after_rejection(token)
                refreshed = True
                continue
            return (decode or self._parse)(resp)

    def request(self, kind: str, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                body: JsonDict | str | None = None, content_type: str = "application/json",
                request_id: str | None = None, entities: Sequence[str] = (),
                decode: Callable[[requests.Response], Any] | None = None) -> Any:
        """One logical API call with limiter, retries and one refresh-and-retry on 401; the answer as
        ``decode`` reads it (default: the JSON object, faults raised). ``entities``: what the call
        reads or writes, for the per-entity request counts (``stats.by_entities``)."""
        url = f"{self.base_url}/{path}"
        query: dict[str, Any] = dict(params or {})
        query["minorversion"] = self.settings.minorversion
        if request_id is not None:
            if not request_id or len(request_id) > MAX_REQUEST_ID:
                raise ValueError(f"requestid must be 1..{MAX_REQUEST_ID} characters")
            query["requestid"] = request_id
        data: str | None
        if body is None:
            data = None
        elif isinstance(body, str):
            data = body
        else:
            data = json.dumps(body)
        retry = retrying(self.settings.retry, sleep=self._sleep, on_retry=self._on_retry, rand=self._rand)
        for attempt in retry:
            with attempt:
                return self._attempt(kind, method, url, query, data, content_type, entities, decode)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _time(self, doc: Mapping[str, Any]) -> datetime:
        return parse_server_time(doc.get("time")) or self._clock.now()

    # --- QboGateway ------------------------------------------------------------------------------

    def query(self, statement: str) -> Page:
        doc = self.request("query", "POST", "query", body=statement, content_type="application/text",
                           entities=(querybuild.entity_of(statement),), decode=self._page)
        if isinstance(doc, Page):
            return doc
        qr = doc.get("QueryResponse") or {}
        rows: list[JsonDict] = []
        for value in qr.values():
            if isinstance(value, list):
                rows = value
                break
        return Page(rows=rows, server_time=self._time(doc))

    def count(self, entity: str, where: str | None = None) -> int:
        doc = self.request("count", "POST", "query", body=querybuild.count(entity, where),
                           content_type="application/text", entities=(entity,))
        return int((doc.get("QueryResponse") or {}).get("totalCount", 0))

    def queries(self, statements: Sequence[str]) -> QueryAnswers:
        answers: list[JsonDict] = []
        times: list[datetime] = []
        for start in range(0, len(statements), MAX_BATCH_ITEMS):
            part = statements[start:start + MAX_BATCH_ITEMS]
            items = [{"bId": str(i), "Query": q} for i, q in enumerate(part)]
            doc = self.request("batch", "POST", "batch", body={"BatchItemRequest": items},
                               entities=[querybuild.entity_of(q) for q in part])
            got = {str(r.get("bId")): r for r in doc.get("BatchItemResponse") or []}
            for i in range(len(part)):
                item = got.get(str(i))
                if item is None:
                    raise ServerError(f"QuickBooks' batch answer lacks the answer to {part[i]!r}")
                err = batch_item_error(item)
                if err is not None:
                    raise err
                answers.append(dict(item.get("QueryResponse") or {}))
            times.append(self._time(doc))
        return QueryAnswers(answers, min(times) if times else self._clock.now())

    def cdc(self, entities: Sequence[str], changed_since: datetime) -> CdcResult:
        if not entities:
            raise ValueError("cdc needs at least one entity")
        doc = self.request("cdc", "GET", "cdc", params={
            "entities": ",".join(entities), "changedSince": querybuild.qbo_datetime(changed_since)},
            entities=entities)
        changes: dict[str, list[JsonDict]] = {e: [] for e in entities}
        for block in doc.get("CDCResponse") or []:
            for qr in (block or {}).get("QueryResponse") or []:
                for key, value in (qr or {}).items():
                    if isinstance(value, list):
                        changes.setdefault(key, []).extend(value)
        return CdcResult(changes=changes, server_time=self._time(doc))

    def read(self, entity: str, id_: str) -> JsonDict:
        doc = self.request("read", "GET", f"{entity.lower()}/{id_}", entities=(entity,))
        obj = doc.get(entity)
        if not isinstance(obj, dict):
            raise ServerError(f"QuickBooks' answer to reading {entity} {id_} lacks the object")
        return obj

    def batch(self, items: Sequence[JsonDict], request_id: str | None = None) -> list[JsonDict]:
        if not items:
            return []
        if len(items) > MAX_BATCH_ITEMS:
            raise ValueError(f"a batch holds at most {MAX_BATCH_ITEMS} items (got {len(items)})")
        order = [str(i.get("bId")) for i in items]
        if len(set(order)) != len(order):
            raise ValueError("batch items need distinct bId values")
        # A batch may carry writes: always idempotent, so a retried batch never applies twice.
        doc = self.request("batch", "POST", "batch", body={"BatchItemRequest": list(items)},
                           request_id=request_id or uuid.uuid4().hex,
                           entities=[_item_entity(i) for i in items])
        got = {str(r.get("bId")): r for r in doc.get("BatchItemResponse") or []}
        missing = [b for b in order if b not in got]
        if missing:
            raise ServerError(f"QuickBooks' batch answer lacks items {', '.join(missing)}")
        return [got[b] for b in order]

    def sparse_update(self, entity: str, body: JsonDict, request_id: str) -> JsonDict:
        if not body.get("Id") or body.get("SyncToken") is None or body.get("sparse") is not True:
            raise ValueError("a sparse update needs Id, SyncToken and sparse: true")
        if not request_id:
            raise ValueError("every write needs a requestid")
        doc = self.request("update", "POST", entity.lower(), body=body, request_id=request_id,
                           entities=(entity,))
        obj = doc.get(entity)
        if not isinstance(obj, dict):
            raise ServerError(f"QuickBooks' answer to updating {entity} {body.get('Id')} lacks the object")
        return obj

    def report(self, name: str, params: Mapping[str, str]) -> JsonDict:
        """One of QuickBooks' reports (``GET reports/{name}``), as its JSON (Header, Columns, Rows).

        QuickBooks returns a report whole (no paging); a fault comes back as one like any request's.
        """
        if not name.isalnum():
            raise ValueError(f"not a QuickBooks report name: {name!r}")
        doc = self.request("report", "GET", f"reports/{name}", params=params)
        if not isinstance(doc.get("Header"), dict):
            raise ServerError(f"QuickBooks' answer to the {name} report lacks its Header")
        return doc

    def company_info(self) -> JsonDict:
        doc = self.request("read", "GET", f"companyinfo/{self.realm_id}", entities=("CompanyInfo",))
        return dict(doc.get("CompanyInfo") or {})

    def preferences(self) -> JsonDict:
        doc = self.request("read", "GET", "preferences", entities=("Preferences",))
        return dict(doc.get("Preferences") or {})

    # --- extras ----------------------------------------------------------------------------------

    def customers_by_id(self, ids: Sequence[str], *, chunk: int = querybuild.MAX_RESULTS) -> list[JsonDict]:
        """Customers (active or not) with these Ids, one query per ``chunk`` Ids; absent Ids are skipped."""
        wanted = list(dict.fromkeys(str(i) for i in ids))
        out: list[JsonDict] = []
        for start in range(0, len(wanted), chunk):
            part = wanted[start:start + chunk]
            statement = querybuild.select("Customer", [f"Id IN {querybuild.id_list(part)}"],
                                          include_inactive=True, max_results=min(len(part), 1000))
            out.extend(self.query(statement).rows)
        return out

    def server_time(self) -> datetime:
        """QuickBooks' clock now (from a one-row query); where a sync run's cursor may start."""
        return self.query("SELECT * FROM CompanyInfo").server_time


def _item_entity(item: Mapping[str, Any]) -> str:
    """The entity one batch item names: its query's FROM, or the key of the object it writes."""
    if "Query" in item:
        return querybuild.entity_of(str(item["Query"]))
    return next((k for k in item if k not in ("bId", "operation", "optionsData")), "")


def connect(settings: Settings, realm_id: str | None = None, *, clock: Clock | None = None,
            token_store: TokenStore | None = None, factory: AuthClientFactory | None = None,
            limiter: RateLimiter | None = None, sleep: Callable[[float], None] = time.sleep) -> QboClient:
    """A ready client for ``realm_id`` (default: the ``realm`` setting, else the only connected realm).

    Fails at once with AuthError when not connected and ConfigError when credentials are missing.
    Without ``limiter`` the process-wide limiter of the realm is used, unless ``sleep`` is injected:
    then the client gets a private limiter whose clock advances by the injected sleeps.
    """
    store = token_store or open_token_store(settings)
    realm = store.default_realm(realm_id or settings.realm)
    if limiter is None and sleep is not time.sleep:
        # An injected sleeper (tests, benchmarks) gets its own limiter on matching virtual time;
        # the shared per-realm one would block on the wall clock after a 429.
        virtual = VirtualTime(sleep)
        limiter = RateLimiter.from_settings(settings.limits, monotonic=virtual.monotonic,
                                            sleep=virtual.sleep)
        sleep = virtual.sleep
    if store.load(realm) is None:
        raise AuthError(f"not connected to QuickBooks company {realm}", hint="run `qbsync auth login`")
    tokens = TokenManager(store, realm, factory or auth_client_factory(settings), clock=clock,
                          skew=timedelta(seconds=settings.refresh_skew_seconds),
                          environment=settings.environment)
    return QboClient(settings, realm, tokens, clock=clock, limiter=limiter, sleep=sleep)


def python_quickbooks_client(settings: Settings, realm_id: str, access_token: str) -> QuickBooks:
    """A plain python-quickbooks client aimed at the same API (for baselines in bench/)."""
    allow_insecure_transport(settings.endpoints)
    qb = QuickBooks(company_id=realm_id, minorversion=settings.minorversion)
    qb.sandbox = settings.endpoints.kind == "sandbox"
    qb.api_url_v3 = qb.sandbox_api_url_v3 = settings.endpoints.api_url_v3
    qb.session = OAuth2Session(settings.client_id, token={"access_token": access_token,
                                                          "token_type": "Bearer"})
    return qb


__all__ = ["ApiError", "QboClient", "connect", "parse_server_time", "python_quickbooks_client"]
