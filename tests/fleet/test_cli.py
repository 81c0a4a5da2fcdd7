"""The commands end to end, as a user runs them: `webhooks serve` (SQLite, in-process queue) syncing a
signed change within moments and stopping cleanly on SIGTERM; `worker --once`; `status`."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

pytest.importorskip("starlette")

from qbsync.cache.schema import open_cache
from qbsync.fleet.events import Event
from qbsync.fleet.inbox import Inbox
from qbsync.sandbox.server import SandboxServer
from tests.fleet.env import body_of, change_customer, cloudevent, connect_realms, serving, sign

ROOT = Path(__file__).resolve().parents[2]
A = "4620816365100000011"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with serving(A) as srv:
        yield srv


def _qbsync(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qbsync", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def _email(url: str, id_: str) -> str | None:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT email FROM customers WHERE realm_id = :r AND id = :i"),
                                {"r": A, "i": id_}).scalar()
    except sa.exc.OperationalError:
        return None
    finally:
        engine.dispose()


def test_webhooks_serve_syncs_a_signed_change_and_stops_on_sigterm(sandbox: SandboxServer,
                                                                   tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cache.sqlite3'}"
    _, env = connect_realms(sandbox, tmp_path, url, [A])
    assert _qbsync(env, "sync", "--realm", A).returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "qbsync", "webhooks", "serve", "--port", "0"], cwd=ROOT,
                            env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        found = re.search(r"listening on (http://\S+)", line)
        assert found, line
        endpoint = found.group(1)
        obj = change_customer(sandbox.store, A, "9", "served@a.example")
        body = body_of([cloudevent(A, "Customer", "9", "updated", obj["MetaData"]["LastUpdatedTime"])])
        assert requests.post(endpoint, data=body, timeout=30).status_code == 401  # unsigned
        r = requests.post(endpoint, data=body, headers={"intuit-signature": sign(body)}, timeout=30)
        assert r.status_code == 200 and r.json()["queued"] == 1
        deadline = time.monotonic() + 60
        while _email(url, "9") != "served@a.example":
            assert time.monotonic() < deadline, "the change never reached the cache"
            time.sleep(0.1)
        assert requests.get(endpoint.rsplit("/webhooks", 1)[0] + "/healthz", timeout=10).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0
    status = _qbsync(env, "status", "--json")
    assert status.returncode == 0, status.stderr
    pipeline = json.loads(status.stdout)[0]["pipeline"]
    assert pipeline["last_event_at"] is not None and pipeline["waiting_events"] == 0
    assert pipeline["lag_seconds"] is not None and pipeline["queued"] is None  # in-process: not visible
    text = _qbsync(env, "status").stdout
    assert "last event" in text and "0 not yet synced" in text
    health = json.loads(_qbsync(env, "report", "health", "--format", "json").stdout)
    assert [p["realm_id"] for p in health["meta"]["pipeline"]] == [A]
    assert health["meta"]["pipeline"][0]["last_event_at"] == pipeline["last_event_at"]
    assert any(note.startswith(f"realm {A}: last event") for note in health["notes"])


def test_worker_once_on_sqlite_syncs_what_a_stopped_server_left(sandbox: SandboxServer,
                                                               tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cache.sqlite3'}"
    _, env = connect_realms(sandbox, tmp_path, url, [A])
    assert _qbsync(env, "sync", "--realm", A).returncode == 0
    obj = change_customer(sandbox.store, A, "4", "left@a.example")
    engine = open_cache(url)
    changed = datetime.fromisoformat(obj["MetaData"]["LastUpdatedTime"]).astimezone(UTC)
    event = Event("e-1", A, "Customer", "4", "Update", changed, "cloudevents")
    Inbox(engine).record([event], datetime.now(UTC))
    engine.dispose()
    first = _qbsync(env, "worker", "--once", "--json")
    assert first.returncode == 0, first.stderr
    assert [o["status"] for o in json.loads(first.stdout)["outcomes"]] == ["synced"]
    assert _email(url, "4") == "left@a.example"
    again = _qbsync(env, "worker", "--once")
    assert again.returncode == 0 and again.stdout.strip() == "nothing to sync"
    refused = _qbsync(env, "worker")
    assert refused.returncode == 2 and "PostgreSQL" in refused.stderr


def test_serve_needs_the_verifier_token(sandbox: SandboxServer, tmp_path: Path) -> None:
    _, env = connect_realms(sandbox, tmp_path, f"sqlite:///{tmp_path / 'c.sqlite3'}", [A])
    del env["QBSYNC_WEBHOOK_VERIFIER"]
    out = _qbsync(env, "webhooks", "serve", "--port", "0")
    assert out.returncode == 2 and "webhook_verifier" in out.stderr and "Verifier Token" in out.stderr
