"""`qbsync webhooks serve`: the HTTP endpoint QuickBooks posts webhooks to (Starlette on uvicorn).

Per delivery, in this order, and nothing recorded unless every check before it passed:

1. the body is read up to ``max_body`` bytes (larger: 413);
2. ``intuit-signature`` is checked over the raw bytes (missing or wrong: 401);
3. the body is parsed (neither CloudEvents nor legacy: 400); events of companies that are not
   connected are logged and dropped;
4. the events are committed to the cache (idempotent by id), and a CDC sync is queued for each
   company with a change its cache does not hold yet (coalesced per company);
5. only then 200 — Intuit waits 3 seconds, then redelivers. A failure to record or queue answers
   503, so Intuit tries again (a redelivery is harmless: see ``inbox``).

Each event is routed by its own ``intuitaccountid`` / ``realmId``: a delivery that mixes companies
queues one sync per company and never lets one company's event touch another's rows.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from qbsync.clock import Clock, SystemClock
from qbsync.fleet.events import BadDelivery, parse_delivery, verify
from qbsync.fleet.inbox import Inbox
from qbsync.fleet.queue import SyncQueue
from qbsync.fleet.runner import CDC, EVENT, SyncRequest

log = logging.getLogger(__name__)

DEFAULT_PATH = "/webhooks/quickbooks"
#: Intuit sets no size limit and batches every event of its aggregation window into one delivery; 2 MB
#: is the common server default it warns about. 16 MiB holds ~50,000 events.
DEFAULT_MAX_BODY = 16 * 1024 * 1024


@dataclass
class Answer:
    status: int
    body: dict[str, Any]


class ConnectedRealms:
    """The companies with stored tokens, re-read at most every ``ttl`` seconds, and at once when a
    delivery names one not seen before (a company connected a minute ago must not be dropped)."""

    def __init__(self, read: Callable[[], list[str]], ttl: float = 30.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._read = read
        self._ttl = ttl
        self._monotonic = monotonic
        self._known: set[str] = set()
        self._at: float | None = None
        self._lock = threading.Lock()

    def __call__(self, wanted: set[str]) -> set[str]:
        with self._lock:
            now = self._monotonic()
            stale = self._at is None or now - self._at >= self._ttl
            if stale or not wanted <= self._known:
                self._known = set(self._read())
                self._at = now
            return wanted & self._known


class Receiver:
    """The endpoint's logic, free of HTTP: bytes and a header in, a status and a JSON body out."""

    def __init__(self, verifier_token: str, inbox: Inbox, queue: SyncQueue,
                 connected: Callable[[set[str]], set[str]], *, clock: Clock | None = None,
                 max_body: int = DEFAULT_MAX_BODY) -> None:
        if not verifier_token:
            raise ValueError("a webhook receiver needs the app's verifier token")
        self._token = verifier_token
        self.inbox = inbox
        self.queue = queue
        self._connected = connected
        self.clock = clock or SystemClock()
        self.max_body = max_body

    def handle(self, body: bytes, signature: str | None) -> Answer:
        if not verify(body, signature, self._token):
            log.warning("webhook delivery refused: %s intuit-signature (%d bytes)",
                        "missing" if not signature else "wrong", len(body))
            return Answer(401, {"error": "invalid or missing intuit-signature"})
        try:
            delivery = parse_delivery(body)
        except BadDelivery as exc:
            log.warning("webhook delivery refused: %s", exc)
            return Answer(400, {"error": str(exc)})
        try:
            known = self._connected(delivery.realms)
        except Exception:
            log.exception("cannot read the connected companies")
            return Answer(503, {"error": "cannot read the connected companies; deliver again"})
        kept = [e for e in delivery.events if e.realm_id in known]
        dropped = len(delivery.events) - len(kept)
        if dropped:
            log.warning("dropped %d event(s) of companies not connected: %s", dropped,
                        ", ".join(sorted(delivery.realms - known)))
        try:
            recorded = self.inbox.record(kept, self.clock.now())
            queued = self.queue.request_many([SyncRequest(realm, CDC, EVENT) for realm in recorded.to_sync])
        except Exception:
            log.exception("cannot record or queue a webhook delivery; answering 503 so Intuit delivers again")
            return Answer(503, {"error": "not recorded; deliver again"})
        log.info("webhook %s: %d event(s), %d new, %d already seen, %d dropped, %d unreadable; "
                 "%d sync(s) queued, %d already waiting", delivery.format, len(delivery.events), recorded.new,
                 recorded.duplicates, dropped, delivery.skipped, queued, len(recorded.to_sync) - queued)
        return Answer(200, {"format": delivery.format, "events": len(delivery.events),
                            "new": recorded.new, "duplicates": recorded.duplicates, "dropped": dropped,
                            "unreadable": delivery.skipped, "queued": queued,
                            "coalesced": len(recorded.to_sync) - queued})

    def healthy(self) -> bool:
        try:
            with self.inbox.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            return False
        return True


def create_app(receiver: Receiver, *, path: str = DEFAULT_PATH) -> Any:
    """The Starlette application: POST ``path`` (the webhook) and GET /healthz."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    too_large = {"error": f"the body is larger than {receiver.max_body} bytes"}

    async def webhook(request: Request) -> JSONResponse:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > receiver.max_body:
            return JSONResponse(too_large, status_code=413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > receiver.max_body:
                return JSONResponse(too_large, status_code=413)
        # The cache is written with blocking SQLAlchemy calls: off the event loop.
        signature = request.headers.get("intuit-signature")
        answer = await run_in_threadpool(receiver.handle, bytes(body), signature)
        return JSONResponse(answer.body, status_code=answer.status)

    async def healthz(request: Request) -> JSONResponse:
        ok = await run_in_threadpool(receiver.healthy)
        return JSONResponse({"status": "ok" if ok else "cache unreachable"}, status_code=200 if ok else 503)

    return Starlette(routes=[Route(path, webhook, methods=["POST"]),
                             Route("/healthz", healthz, methods=["GET", "HEAD"])])


def _server_class() -> Any:
    import contextlib
    import signal

    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, except that SIGTERM/SIGINT end it with exit code 0 (uvicorn raises the
        signal again after its graceful shutdown, which systemd would report as a failure)."""

        @contextlib.contextmanager
        def capture_signals(self) -> Any:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return Server


class WebhookServer:
    """uvicorn serving ``app`` on a thread (tests, benchmarks, `webhooks serve` alongside its queue).

    ``port=0`` picks a free port; ``url`` is where it listens once started."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, *, proxy_headers: bool = False,
                 forwarded_allow_ips: str | None = None, log_level: str = "warning") -> None:
        import uvicorn

        _Server = _server_class()
        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self._sock.listen(2048)  # connections wait in the backlog until uvicorn accepts them
        self.host, self.port = host, int(self._sock.getsockname()[1])
        config = uvicorn.Config(app, log_level=log_level, proxy_headers=proxy_headers,
                                forwarded_allow_ips=forwarded_allow_ips, access_log=False,
                                timeout_graceful_shutdown=10)
        self._server = _Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def serve_forever(self) -> None:
        """Serve in this thread until SIGTERM/SIGINT (uvicorn installs the handlers)."""
        self._server.run(sockets=[self._sock])

    def start(self) -> WebhookServer:
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name="qbsync-webhooks", daemon=True)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the webhook server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(15)
            self._thread = None
        self._sock.close()

    def __enter__(self) -> WebhookServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
