"""The webhook sender: a background thread that batches the outbox's events, signs and POSTs them, and
retries on Intuit's schedule, timed by the sandbox clock.

One delivery is in flight at a time and a failing one blocks the queue, as Intuit documents ("you may
not receive subsequent events until you correctly acknowledge the first event"); a delivery is
retried whole, with the same body. The API call that caused an event only wrote a row in the outbox:
it never waits for the sender. Tests drive time with the sandbox clock and call ``wait_idle()`` to let
the thread catch up; nothing here compares wall-clock time except the endpoint's answer timeout.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from qbsync.sandbox import webhooks
from qbsync.sandbox.webhooks import Endpoint, Event, Knobs, Outbox, WebhookError

log = logging.getLogger("qbsync.sandbox.webhooks")

# How often (real seconds) the thread looks at the database when nothing told it to: changes made by
# another process on the same file (`qbsync sandbox advance --db`) and registrations from the CLI.
POLL_SECONDS = 0.25


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, str | None]:
    """POST ``body``; (status, None) when the endpoint answered, (None, reason) when it did not.
    Redirects are not followed: Intuit calls exactly the registered URL."""
    parts = urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname or "", parts.port, timeout=timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read(1 << 16)
        return resp.status, None
    except (OSError, http.client.HTTPException) as exc:
        return None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    finally:
        conn.close()


class WebhookSender:
    """Sends the store's webhook events to the registered endpoint (start/stop with the server)."""

    def __init__(self, outbox: Outbox, *, app_id: str = "sandbox-client",
                 poll_seconds: float = POLL_SECONDS) -> None:
        self.outbox = outbox
        self.store = outbox.store
        self.source = webhooks.source_for(app_id)
        self.poll_seconds = poll_seconds
        self._cond = threading.Condition()
        self._gen = 0        # bumped by every wake-up reason
        self._done_gen = -1  # the last generation after which nothing was due
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rng = random.Random(0)
        self._seed: int | None = None
        self._clock = self.store.clock

    # ---- lifecycle ----

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._clock = self.store.clock
        self._clock.on_change(self.wake)
        self.outbox.on_change(self.wake)
        self._thread = threading.Thread(target=self._run, name="qbo-sandbox-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self.wake()
        self._thread.join(timeout=10)
        self._thread = None
        self._clock.off_change(self.wake)
        self.outbox.off_change(self.wake)

    def wake(self) -> None:
        with self._cond:
            self._gen += 1
            self._cond.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until the thread has sent everything that is due now on the sandbox clock (events
        still inside their delay or batch window, and retries not yet due, stay). True when idle."""
        if self._thread is None:
            raise RuntimeError("the webhook sender is not running (start the SandboxServer first)")
        with self._cond:
            self._gen += 1
            target = self._gen
            self._cond.notify_all()
            return self._cond.wait_for(lambda: self._done_gen >= target or self._stop.is_set(), timeout)

    # ---- the loop ----

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                gen = self._gen
            try:
                wait = self._step()
            except Exception:  # a sandbox bug must not kill the thread; say so and go on
                log.exception("webhook sender step failed")
                wait = self.poll_seconds
            if wait == 0:
                continue
            with self._cond:
                self._done_gen = max(self._done_gen, gen)
                self._cond.notify_all()
                if self._gen != gen or self._stop.is_set():
                    continue
                # A frozen clock only moves when a test moves it (which wakes us); a live one ticks.
                timeout = self.poll_seconds if wait is None or self.store.clock.frozen \
                    else min(wait, self.poll_seconds)
                self._cond.wait(timeout)

    def _step(self) -> float | None:
        """Do at most one thing: attempt the delivery in flight, or form the next one.
        Returns 0 to go on at once, else sandbox seconds until something is due (None: nothing)."""
        endpoint = self.outbox.reload()
        if endpoint is None:
            return None
        knobs = self.outbox.knobs()
        if self._seed != knobs.seed:
            self._seed = knobs.seed
            self._rng = random.Random(knobs.seed)
        now = self.store.clock.now().timestamp()
        pending = self.store._read(
            "SELECT id, format, body, attempts, next_attempt FROM webhook_deliveries "
            "WHERE state = 'pending' ORDER BY id LIMIT 1")
        if pending:
            did, fmt, body, attempts_text, next_attempt = pending[0]
            if next_attempt is not None and float(next_attempt) > now:
                return float(next_attempt) - now
            self._attempt(int(did), fmt, body.encode("utf-8"), json.loads(attempts_text), endpoint, knobs)
            return 0
        return self._form_delivery(endpoint, knobs, now)

    def _form_delivery(self, endpoint: Endpoint, knobs: Knobs, now: float) -> float | None:
        oldest = self.store._read("SELECT MIN(occurred) FROM webhook_events WHERE state = 'queued'")[0][0]
        if oldest is None:
            return None
        first_due = float(oldest) + knobs.delay
        if first_due > now:
            return first_due - now
        # Events held back by the reorder knob come last, so events that happened after them overtake.
        due = self.outbox.events("queued", due_by=now - knobs.delay, limit=knobs.batch_size)
        if len(due) < knobs.batch_size and first_due + knobs.batch_window > now:
            return first_due + knobs.batch_window - now
        batch: list[Event] = []
        newly_held: list[int] = []
        copies: list[Event] = []
        for ev in due:
            if knobs.reorder_rate and not ev.held and not ev.copy and self._rng.random() < knobs.reorder_rate:
                newly_held.append(ev.seq)
                continue
            batch.append(ev)
            if knobs.duplicate_rate and not ev.copy and self._rng.random() < knobs.duplicate_rate:
                copies.append(ev)
        fmt = endpoint.format
        body = webhooks.body_bytes(webhooks.payload(batch, fmt, self.source)).decode("utf-8") if batch else ""
        realms = list(dict.fromkeys(ev.realm for ev in batch))
        with self.store.transaction() as conn:
            for seq in newly_held:
                conn.execute("UPDATE webhook_events SET held = 1 WHERE seq = ?", (seq,))
            for ev in copies:
                # The redelivery: same event id, queued again so that it goes out in a later delivery.
                conn.execute("INSERT INTO webhook_events (event_id, realm, entity, entity_id, operation, "
                             "deleted_id, occurred, copy) VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
                             (ev.event_id, ev.realm, ev.entity, ev.entity_id, ev.operation, ev.deleted_id,
                              ev.occurred))
            if batch:
                cur = conn.execute(
                    "INSERT INTO webhook_deliveries (created, format, body, events, realms, state, attempts, "
                    "next_attempt) VALUES (?, ?, ?, ?, ?, 'pending', '[]', ?)",
                    (now, fmt, body, json.dumps([ev.event_id for ev in batch]), json.dumps(realms), now))
                delivery = cur.lastrowid
                conn.executemany("UPDATE webhook_events SET state = 'sent', delivery = ? WHERE seq = ?",
                                 [(delivery, ev.seq) for ev in batch])
        return 0

    def _attempt(self, delivery: int, fmt: str, body: bytes, attempts: list[dict[str, Any]],
                 endpoint: Endpoint, knobs: Knobs) -> None:
        headers = {"Content-Type": webhooks.content_type(fmt),
                   "intuit-signature": webhooks.sign(body, endpoint.verifier_token),
                   "Content-Length": str(len(body))}
        at = self.store.clock.now()
        started = time.perf_counter()
        status, error = post(endpoint.url, body, headers, knobs.timeout)
        elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        attempts.append({"at": at.isoformat(), "url": endpoint.url, "status": status, "error": error,
                         "ms": elapsed_ms})
        ok = status == 200  # Intuit: "respond with an HTTP 200 status within 3 seconds"
        after = self.store.clock.now().timestamp()
        if ok:
            state, next_attempt = "delivered", None
        elif knobs.max_attempts is not None and len(attempts) >= knobs.max_attempts:
            state, next_attempt = "abandoned", None
            log.warning("webhook delivery %s abandoned after %s attempts", delivery, len(attempts))
        else:
            state, next_attempt = "pending", after + knobs.wait_after(len(attempts))
        with self.store.transaction() as conn:
            conn.execute("UPDATE webhook_deliveries SET state = ?, attempts = ?, next_attempt = ? "
                         "WHERE id = ? AND state = 'pending'",
                         (state, json.dumps(attempts), next_attempt, delivery))

    # ---- admin endpoint (/_sandbox/webhooks...) ----

    def admin(self, method: str, parts: list[str], body: dict[str, Any],
              params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Answer ``/_sandbox/webhooks[/knobs|/deliveries]``: (HTTP status, JSON body)."""
        try:
            return self._admin(method, parts, body, params)
        except (WebhookError, TypeError, ValueError) as exc:
            return 400, {"error": str(exc)}

    def _admin(self, method: str, parts: list[str], body: dict[str, Any],
               params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if parts == [] and method == "GET":
            return 200, self.status()
        if parts == [] and method in ("POST", "PUT"):
            endpoint = Endpoint.make(body.get("url", ""), body.get("verifier_token"),
                                     body.get("format", "cloudevents"), body.get("entities"))
            self.outbox.register(endpoint)
            # The one answer that shows the whole token, as the portal does once you ask for it.
            return 200, {**self.status(), "verifier_token": endpoint.verifier_token}
        if parts == [] and method == "DELETE":
            dropped = self.outbox.unregister()
            return 200, {"unregistered": True, "dropped_events": dropped}
        if parts == ["knobs"] and method == "GET":
            return 200, self.outbox.knobs().to_dict()
        if parts == ["knobs"] and method in ("POST", "PUT"):
            return 200, self.outbox.set_knobs(body).to_dict()
        if parts == ["deliveries"] and method == "GET":
            after = int(params.get("after", "0") or 0)
            limit = int(params.get("limit", "1000") or 1000)
            return 200, {"deliveries": self.outbox.deliveries(after, limit)}
        return 404, {"error": "unknown webhooks admin endpoint",
                     "endpoints": ["GET/POST/DELETE /_sandbox/webhooks", "GET/POST /_sandbox/webhooks/knobs",
                                   "GET /_sandbox/webhooks/deliveries?after=ID&limit=N"]}

    def status(self) -> dict[str, Any]:
        endpoint = self.outbox.endpoint
        return {"endpoint": endpoint.public() if endpoint else None, "knobs": self.outbox.knobs().to_dict(),
                "source": self.source, **self.outbox.counts()}
