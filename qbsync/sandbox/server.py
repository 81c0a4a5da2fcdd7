"""The HTTP server: routes OAuth, the data API and /_sandbox admin endpoints; applies knobs and limits."""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import re
import secrets
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from qbsync.sandbox import apifault, catalog, wire
from qbsync.sandbox.api import DataApi, Reply
from qbsync.sandbox.clock import SandboxClock
from qbsync.sandbox.knobs import FaultPlan, Hook, LatencyProfile, RequestHook, Throttle, ThrottleLimits
from qbsync.sandbox.oauth import OAuthError, TokenAuthority, discovery_document
from qbsync.sandbox.store import Store
from qbsync.sandbox.webhook_sender import WebhookSender

QBO_VERSION = "1944.190"
DEFAULT_REALM = "9341453050000001"
JSON_OK = "application/json;charset=utf-8"
#: Largest request body the sandbox reads (bytes). QuickBooks documents no figure for JSON bodies; a
#: batch of 30 large invoices is well under 1 MiB, so 10 MiB refuses only what no client should send
#: while keeping a 50 MB "customer" from being read into memory. ``SandboxServer(max_body=...)``.
MAX_BODY = 10 * 1024 * 1024
#: Header that opens the /_sandbox admin endpoints to a non-loopback client when the server was
#: started with an admin secret (they can mint tokens for any realm, so nobody else may call them).
ADMIN_SECRET_HEADER = "X-Sandbox-Admin-Secret"


class RequestRecord(NamedTuple):
    method: str
    path: str
    status: int
    #: the entities a data request reads or writes (a query's FROM, CDC's ``entities``, a batch's
    #: items, the path's resource), in order and once each; empty for OAuth and admin requests
    entities: tuple[str, ...] = ()


class RequestLog(list[RequestRecord]):
    """Every request served, in order; ``count(prefix)`` counts data requests by path prefix."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def add(self, rec: RequestRecord) -> None:
        with self.lock:
            self.append(rec)

    def count_path(self, fragment: str = "/v3/", status: int | None = None) -> int:
        with self.lock:
            return sum(1 for r in self if fragment in r.path and (status is None or r.status == status))

    def by_entity(self, fragment: str = "/v3/") -> dict[tuple[str, ...], int]:
        """Data requests counted by the entities each one named (``("Customer",)``, a CDC's list...)."""
        out: dict[tuple[str, ...], int] = {}
        with self.lock:
            for r in self:
                if fragment in r.path:
                    out[r.entities] = out.get(r.entities, 0) + 1
        return out


_FROM = re.compile(r"\bFROM\s+([A-Za-z]+)", re.IGNORECASE)


def _request_entities(path: str, params: dict[str, str], raw: bytes, content_type: str) -> tuple[str, ...]:
    """What a data request names, for the request log: never raises (a bad request names nothing)."""
    parts = path.split("/")  # ["", "v3", "company", realm, resource, ...]
    if len(parts) < 5 or not path.startswith("/v3/company/"):
        return ()
    resource = parts[4].lower()
    names: list[str] = []
    try:
        if resource == "query":
            text = params.get("query") or raw.decode("utf-8", "replace")
            if "x-www-form-urlencoded" in content_type.lower():
                text = parse_qs(text).get("query", [""])[-1]
            names = _FROM.findall(text)[:1]
        elif resource == "cdc":
            names = [e for e in params.get("entities", "").split(",") if e.strip()]
        elif resource == "batch":
            items = json.loads(raw or b"{}").get("BatchItemRequest") or []
            for item in items if isinstance(items, list) else []:
                if not isinstance(item, dict):
                    continue
                if "Query" in item:
                    names += _FROM.findall(str(item["Query"]))[:1]
                else:
                    names += [k for k in item if k not in ("bId", "operation", "optionsData")][:1]
        elif resource != "reports":
            names = [resource]
    except (ValueError, AttributeError):
        return ()
    canon = [catalog.qbo_entity(n) or n for n in names]
    return tuple(dict.fromkeys(n.strip() for n in canon if n.strip()))


def _tid() -> str:
    return f"1-{secrets.token_hex(4)}-{secrets.token_hex(12)}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes; with Nagle on, the body waits for the client's delayed
    # ACK (~40 ms per request on loopback), which dwarfed every latency profile but "realistic".
    disable_nagle_algorithm = True
    server_version = "nginx"
    sys_version = ""
    server: _HttpServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.app._handle(self, "GET")

    def do_POST(self) -> None:
        self.server.app._handle(self, "POST")

    def do_PUT(self) -> None:
        self.server.app._handle(self, "PUT")

    def do_DELETE(self) -> None:
        self.server.app._handle(self, "DELETE")


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: SandboxServer


class _Response:
    def __init__(self, status: int, body: str | bytes, content_type: str = JSON_OK,
                 headers: dict[str, str] | None = None, rows: int = 0) -> None:
        self.status = status
        self.body = body.encode("utf-8") if isinstance(body, str) else body
        self.content_type = content_type
        self.headers = headers or {}
        self.rows = rows
        self.misbehave: str | None = None  # "drop" or "truncate"


class SandboxServer:
    """A QuickBooks Online-compatible server on a background thread (also a context manager)."""

    def __init__(self, store: Store | None = None, *, clock: SandboxClock | None = None,
                 client_id: str = "sandbox-client", client_secret: str = "sandbox-secret",
                 host: str = "127.0.0.1", port: int = 0, latency: LatencyProfile | None = None,
                 faults: FaultPlan | None = None, limits: ThrottleLimits | None = None,
                 default_realm: str | None = None, max_body: int = MAX_BODY,
                 admin_secret: str | None = None) -> None:
        if store is None:
            store = Store(clock=clock)
            store.create_realm(default_realm or DEFAULT_REALM,
                               company_info={"CompanyName": "Sandbox Company"})
        if clock is not None:
            store.clock = clock
        self.store = store
        self.clock = store.clock
        self.client_id = client_id
        self.client_secret = client_secret
        self.host = host
        self.port = port
        self.latency = latency or LatencyProfile.none()
        self.faults = faults
        self.limits = limits or ThrottleLimits()
        self.throttle = Throttle(self.limits, self.clock)
        self.default_realm = default_realm
        self.max_body = max_body
        self.admin_secret = admin_secret or None
        self.auth = TokenAuthority(store, self.clock, client_id, client_secret)
        self.api = DataApi(store)
        self.request_log = RequestLog()
        self.webhooks = WebhookSender(store.outbox, app_id=client_id)
        self.hooks: list[Hook] = []
        self._data_requests = 0
        self._count_lock = threading.Lock()
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # ---- lifecycle ----

    def start(self) -> str:
        if self._httpd is not None:
            return self.base_url
        httpd = _HttpServer((self.host, self.port), _Handler)
        httpd.app = self
        self._httpd = httpd
        host, port = httpd.server_address[0], httpd.server_address[1]
        self.port = int(port)
        shown = self.host if self.host not in ("0.0.0.0", "") else "127.0.0.1"
        self.base_url = f"http://{shown}:{self.port}"
        del host
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="qbo-sandbox", daemon=True)
        self._thread.start()
        self.webhooks.start()
        return self.base_url

    def stop(self) -> None:
        self.webhooks.stop()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Run in the calling thread until interrupted (the CLI)."""
        self.start()
        try:
            while True:
                time.sleep(3600)
        finally:
            self.stop()

    @property
    def discovery_url(self) -> str:
        return f"{self.base_url}/.well-known/openid_configuration"

    @property
    def api_url_v3(self) -> str:
        return f"{self.base_url}/v3"

    # ---- knobs ----

    def on_request(self, fn: RequestHook, every: int = 1) -> None:
        """Run ``fn(store, clock, n)`` before every ``every``-th data request (n counts data requests)."""
        self.hooks.append(Hook(fn, max(1, every)))

    def pick_realm(self, requested: str | None = None) -> str:
        if requested:
            return requested
        if self.default_realm and self.store.has_realm(self.default_realm):
            return self.default_realm
        realms = self.store.realms()
        if not realms:
            raise OAuthError(400, "invalid_request", "the sandbox has no company yet: create a realm first")
        return realms[0]

    def issue_tokens(self, realm_id: str | None = None) -> dict[str, Any]:
        """A token pair for ``realm_id`` without the browser step (tests, demos)."""
        return self.auth.issue_for_tests(self.pick_realm(realm_id))

    # ---- request handling ----

    def _handle(self, h: _Handler, method: str) -> None:
        started = time.perf_counter()
        url = urlsplit(h.path)
        params = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        path = url.path.rstrip("/") or "/"
        refused = self._refuse_body(h, path)
        if refused is not None:
            # The body was not read: the connection cannot be reused for another request.
            h.close_connection = True
            self.request_log.add(RequestRecord(method, url.path, refused.status))
            self._send(h, refused, started)
            return
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        names = _request_entities(path, params, raw, h.headers.get("Content-Type") or "")
        try:
            resp = self._route(h, method, path, params, raw)
        except Exception as exc:  # a sandbox bug must still answer like a server
            fault = apifault.server_error(500)
            fault.detail += f" ({type(exc).__name__}: {exc})"
            resp = _Response(500, wire.dumps({"Fault": fault.fault()}), "application/json")
        self.request_log.add(RequestRecord(method, url.path, resp.status if not resp.misbehave else 0, names))
        self._send(h, resp, started)

    def _refuse_body(self, h: _Handler, path: str) -> _Response | None:
        """A 400 for a Content-Length that is not a length, a 413 for one over ``max_body``; else None."""
        text = (h.headers.get("Content-Length") or "0").strip()
        if not text.isdigit():
            return _Response(400, json.dumps({"error": "bad_request",
                                              "detail": "Content-Length is not a non-negative integer"}),
                             "application/json")
        if int(text) <= self.max_body:
            return None
        fault = apifault.ApiFault(413, "413", "Request Entity Too Large",
                                  f"request body of {int(text)} bytes is over the limit of {self.max_body}",
                                  element=None, fault_type="SystemFault")
        realm = path.split("/")[3] if path.startswith("/v3/company/") and path.count("/") >= 3 else None
        return self._fault(realm if realm and self.store.has_realm(realm) else None, fault)

    def _admin_allowed(self, h: _Handler) -> bool:
        """Loopback clients, or anyone presenting the admin secret the server was started with."""
        given = h.headers.get(ADMIN_SECRET_HEADER)
        if self.admin_secret is not None and given is not None:
            return hmac.compare_digest(given.encode(), self.admin_secret.encode())
        try:
            return ipaddress.ip_address(h.client_address[0]).is_loopback
        except ValueError:
            return False

    def _send(self, h: _Handler, resp: _Response, started: float) -> None:
        if resp.misbehave == "drop":
            h.close_connection = True
            with contextlib.suppress(OSError):
                h.connection.shutdown(socket.SHUT_RDWR)
            return
        h.send_response(resp.status)
        h.send_header("Content-Type", resp.content_type)
        h.send_header("Content-Length", str(len(resp.body)))
        h.send_header("Intuit-Tid", _tid())
        for k, v in resp.headers.items():
            h.send_header(k, v)
        if 200 <= resp.status < 300 and "Service-Time" not in resp.headers and resp.content_type == JSON_OK:
            total = int((time.perf_counter() - started) * 1000)
            h.send_header("Qbo-Version", QBO_VERSION)
            h.send_header("Service-Time", f"total={total}, db={total * 6 // 10}")
            h.send_header("Expires", "0")
            h.send_header("Cache-Control", "max-age=0, no-cache, no-store, must-revalidate, private")
        h.end_headers()
        if resp.misbehave == "truncate":
            h.wfile.write(resp.body[: max(1, len(resp.body) // 2)])
            h.wfile.flush()
            h.close_connection = True
            with contextlib.suppress(OSError):
                h.connection.shutdown(socket.SHUT_RDWR)
            return
        h.wfile.write(resp.body)

    def _route(self, h: _Handler, method: str, path: str, params: dict[str, str], raw: bytes) -> _Response:
        if path in ("/.well-known/openid_configuration", "/.well-known/openid-configuration"):
            return _Response(200, json.dumps(discovery_document(self.base_url)), "application/json")
        if path.startswith("/connect/oauth2") or path.startswith("/oauth2/") or path.startswith("/v1/openid"):
            return self._oauth(h, method, path, params, raw)
        if path.startswith("/_sandbox"):
            if not self._admin_allowed(h):
                return _Response(403, json.dumps({
                    "error": "forbidden",
                    "detail": f"admin endpoints answer loopback clients only, or a request carrying "
                              f"the {ADMIN_SECRET_HEADER} header the sandbox was started with"}),
                    "application/json")
            try:
                return self._admin(method, path, params, raw)
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                return _Response(400, json.dumps({"error": "bad_request",
                                                  "detail": f"{type(exc).__name__}: {exc}"}),
                                 "application/json")
        if path.startswith("/v3/company/"):
            return self._data(h, method, path, params, raw)
        return _Response(404, json.dumps({"error": "not_found", "path": path}), "application/json")

    # ---- OAuth ----

    def _oauth(self, h: _Handler, method: str, path: str, params: dict[str, str], raw: bytes) -> _Response:
        try:
            if path == "/connect/oauth2":
                location = self.auth.authorize(params, self.pick_realm(params.get("realm_id")))
                return _Response(302, b"", "text/plain", {"Location": location})
            if path == "/oauth2/v1/tokens/bearer" and method == "POST":
                form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8")).items()}
                body = self.auth.token(h.headers.get("Authorization"), form)
                return _Response(200, json.dumps(body), "application/json",
                                 {"Cache-Control": "no-store", "Pragma": "no-cache"})
            if path == "/oauth2/v1/tokens/revoke" and method == "POST":
                text = raw.decode("utf-8")
                try:
                    token = json.loads(text).get("token", "") if text.strip().startswith("{") else \
                        parse_qs(text).get("token", [""])[-1]
                except ValueError:
                    token = ""
                self.auth.revoke(h.headers.get("Authorization"), token)
                return _Response(200, b"", "application/json")
            if path == "/oauth2/v1/keys":
                return _Response(200, json.dumps({"keys": []}), "application/json")
            if path == "/v1/openid_connect/userinfo":
                return _Response(200, json.dumps({"sub": "sandbox-user", "email": "sandbox@example.com",
                                                  "emailVerified": True, "givenName": "Sandbox",
                                                  "familyName": "User"}), "application/json")
        except OAuthError as err:
            return _Response(err.status, json.dumps(err.body()), "application/json")
        return _Response(404, json.dumps({"error": "not_found"}), "application/json")

    # ---- data API ----

    def _fault(self, realm: str | None, fault: apifault.ApiFault) -> _Response:
        return _Response(fault.status, self.api.fault_body(realm, fault), "application/json")

    def _data(self, h: _Handler, method: str, path: str, params: dict[str, str], raw: bytes) -> _Response:
        parts = path.split("/")  # ["", "v3", "company", realm, resource, id?...]
        realm = parts[3] if len(parts) > 3 else ""
        rest = parts[4:]
        problem = self.auth.check_bearer(h.headers.get("Authorization"), realm)
        if problem is not None:
            body = apifault.auth_401(problem)
            body["time"] = int(self.clock.now().timestamp() * 1000)
            return _Response(401, json.dumps(body), "application/json",
                             {"WWW-Authenticate": 'Bearer realm="Intuit", error="invalid_token"'})
        if not self.throttle.enter(realm):
            return self._throttled(realm)
        try:
            with self._count_lock:
                self._data_requests += 1
                n = self._data_requests
            injected = self.faults.draw() if self.faults is not None else None
            if injected in ("429",):
                return self._throttled(realm)
            if injected in ("500", "503"):
                return self._fault(realm, apifault.server_error(int(injected)))
            for hook in self.hooks:
                if n % hook.every == 0:
                    hook.fn(self.store, self.clock, n)
            resp = self._data_call(realm, method, rest, params, raw, h)
            if self.latency.active:
                server_s, network_s = self.latency.delay(resp.rows)
                time.sleep(server_s + network_s)
                if resp.status == 200:
                    total = int(server_s * 1000)
                    resp.headers.setdefault("Qbo-Version", QBO_VERSION)
                    resp.headers["Service-Time"] = f"total={total}, db={total * 6 // 10}"
            if injected in ("drop", "truncate"):
                resp.misbehave = injected
            return resp
        finally:
            self.throttle.leave(realm)

    def _throttled(self, realm: str) -> _Response:
        tz = self.store.tz(realm) if self.store.has_realm(realm) else UTC
        now = wire.fmt_body_time(self.clock.now(), tz)
        return _Response(429, apifault.THROTTLE_XML.format(time=now), "application/xml")

    def _data_call(self, realm: str, method: str, rest: list[str], params: dict[str, str], raw: bytes,
                   h: _Handler) -> _Response:
        if not self.store.has_realm(realm):
            return self._fault(None, apifault.ApiFault(403, "3100", "ApplicationAuthorizationFailed",
                                                       f"no company {realm} on this sandbox", element=None,
                                                       fault_type="AuthorizationFault"))
        requestid = params.get("requestid") or None
        if method == "POST" and requestid:
            seen = self.store.remembered(realm, requestid)
            if seen is not None:
                return _Response(seen[0], seen[1], JSON_OK if seen[0] == 200 else "application/json")
        try:
            reply = self._dispatch(realm, method, rest, params, raw, h)
            resp = _Response(reply.status, reply.body, JSON_OK, rows=reply.rows)
        except apifault.ApiFault as fault:
            resp = self._fault(realm, fault)
        if method == "POST" and requestid and resp.status < 500:
            self.store.remember(realm, requestid, resp.status, resp.body.decode("utf-8"))
        return resp

    def _dispatch(self, realm: str, method: str, rest: list[str], params: dict[str, str], raw: bytes,
                  h: _Handler) -> Reply:
        if not rest or not rest[0]:
            raise apifault.unsupported(f"/v3/company/{realm}")
        resource = rest[0].lower()
        if resource == "query":
            text = params.get("query")
            if method == "POST" and not text:
                text = raw.decode("utf-8")
                ctype = (h.headers.get("Content-Type") or "").lower()
                if "x-www-form-urlencoded" in ctype:
                    text = parse_qs(text).get("query", [""])[-1]
            return self.api.query(realm, text or "")
        if resource == "cdc" and method == "GET":
            return self.api.cdc(realm, params.get("entities", ""), params.get("changedSince", ""))
        if resource == "batch" and method == "POST":
            return self.api.batch(realm, raw)
        if resource == "reports" and method == "GET" and len(rest) == 2:
            return self.api.report(realm, rest[1], params)
        if method == "GET":
            if len(rest) > 2:
                raise apifault.unsupported(f"/v3/company/{realm}/{'/'.join(rest)}")
            if catalog.qbo_entity(resource) is None:
                raise apifault.unsupported(f"/v3/company/{realm}/{'/'.join(rest)}")
            return self.api.read(realm, resource, rest[1] if len(rest) > 1 else None)
        if method == "POST" and len(rest) == 1:
            return self.api.write(realm, resource, raw, params.get("operation"), params.get("include"))
        raise apifault.unsupported(f"/v3/company/{realm}/{'/'.join(rest)}")

    # ---- admin (/_sandbox) ----

    def _merge(self, realm: str, entity: str, body: dict[str, Any]) -> _Response:
        from qbsync.sandbox.merge import MergeError, merge

        try:
            done = merge(self.api.ledger, realm, entity, str(body.get("from", "")), str(body.get("into", "")))
        except MergeError as exc:
            return _Response(400, json.dumps({"error": str(exc)}), "application/json")
        except apifault.ApiFault as fault:
            return _Response(400, json.dumps({"error": fault.detail, "code": fault.code}), "application/json")
        return _Response(200, json.dumps(done), "application/json")

    def _admin(self, method: str, path: str, params: dict[str, str], raw: bytes) -> _Response:
        try:
            body = json.loads(raw.decode("utf-8") or "{}") if raw else {}
        except ValueError:
            return _Response(400, json.dumps({"error": "body must be JSON"}), "application/json")
        parts = [p for p in path.split("/") if p][1:]
        ok = "application/json"
        if parts == ["clock"]:
            if method == "POST":
                if "set" in body:
                    self.clock.set(datetime.fromisoformat(str(body["set"]).replace("Z", "+00:00")))
                if "advance_seconds" in body:
                    self.clock.advance(timedelta(seconds=float(body["advance_seconds"])))
            state = {"now": self.clock.now().isoformat(), "frozen": self.clock.frozen}
            return _Response(200, json.dumps(state), ok)
        if parts == ["stats"]:
            by_entity = {",".join(k): n for k, n in self.request_log.by_entity().items()}
            return _Response(200, json.dumps({"requests": len(self.request_log),
                                              "data_requests": self._data_requests,
                                              "throttled": self.request_log.count_path("/v3/", 429),
                                              "by_entity": by_entity}), ok)
        if parts == ["faults"] and method == "POST":
            script = {int(k): str(v) for k, v in (body.pop("script", {}) or {}).items()}
            self.faults = FaultPlan(**body, script=script)
            return _Response(200, json.dumps({"faults": "set"}), ok)
        if parts == ["latency"] and method == "POST":
            profile = body.pop("profile", None)
            if profile == "realistic":
                self.latency = LatencyProfile.realistic(seed=int(body.get("seed", 0)))
            elif profile == "none":
                self.latency = LatencyProfile.none()
            else:
                self.latency = LatencyProfile(**body)
            return _Response(200, json.dumps({"latency": "set"}), ok)
        if parts == ["throttle"] and method == "POST":
            self.limits.per_minute = body.get("per_minute", self.limits.per_minute)
            self.limits.concurrent = body.get("concurrent", self.limits.concurrent)
            self.limits.per_second = body.get("per_second", self.limits.per_second)
            return _Response(200, json.dumps({"per_minute": self.limits.per_minute,
                                              "concurrent": self.limits.concurrent,
                                              "per_second": self.limits.per_second}), ok)
        if parts == ["tokens"] and method == "POST":
            try:
                return _Response(200, json.dumps(self.issue_tokens(body.get("realm_id"))), ok)
            except OAuthError as err:
                return _Response(err.status, json.dumps(err.body()), ok)
        if parts[:1] == ["webhooks"]:
            status, answer = self.webhooks.admin(method, parts[1:], body, params)
            return _Response(status, json.dumps(answer), ok)
        if parts == ["realms"] and method == "GET":
            return _Response(200, json.dumps({"realms": self.store.realms()}), ok)
        if len(parts) == 4 and parts[0] == "realms" and parts[3] == "merge" and method == "POST":
            return self._merge(parts[1], parts[2], body)
        if len(parts) == 3 and parts[0] == "realms" and method in ("POST", "PUT"):
            obj = self.store.put(parts[1], parts[2], body)
            return _Response(200, wire.dumps(obj), ok)
        if len(parts) == 4 and parts[0] == "realms" and method == "DELETE":
            try:
                self.store.delete(parts[1], parts[2], parts[3])
            except KeyError as exc:
                return _Response(404, json.dumps({"error": str(exc)}), ok)
            return _Response(200, json.dumps({"deleted": parts[3]}), ok)
        return _Response(404, json.dumps({"error": "unknown admin endpoint", "path": path}), ok)
