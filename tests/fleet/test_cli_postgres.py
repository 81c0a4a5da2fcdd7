"""The fleet's commands on PostgreSQL as a user meets them: a database no command has used yet, a schema
that does not exist, `worker --once` saying what it did, a machine given the wrong token key."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

pytest.importorskip("procrastinate")
pytest.importorskip("cryptography")

from cryptography.fernet import Fernet

from qbsync.auth.pgstore import PgTokenStore
from qbsync.auth.tokens import TokenStore
from qbsync.cache.schema import open_cache
from qbsync.fleet.events import Event
from qbsync.fleet.inbox import Inbox
from qbsync.sandbox.server import SandboxServer
from tests.conftest import PG_AVAILABLE, PG_URL, pg_schema_url
from tests.fleet.env import body_of, change_customer, cloudevent, connect_realms, legacy, serving, sign

pytestmark = pytest.mark.skipif(not PG_AVAILABLE, reason="needs PostgreSQL")

ROOT = Path(__file__).resolve().parents[2]
A = "4620816365400000001"
GONE = "4620816365400000099"  # a company this machine is not connected to
KEY = Fernet.generate_key().decode()


@pytest.fixture
def pg_url() -> Iterator[str]:
    with pg_schema_url() as url:
        yield url


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with serving(A) as srv:
        yield srv


def _qbsync(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qbsync", "-q", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def _in_cache_store(env: dict[str, str], url: str) -> dict[str, str]:
    """Move the file tokens ``connect_realms`` wrote into the cache store; the fleet's environment."""
    engine = open_cache(url)
    files, cache = TokenStore(Path(env["QBSYNC_TOKEN_DIR"])), PgTokenStore(engine, KEY)
    for realm in files.realms():
        tokens = files.load(realm)
        assert tokens is not None
        cache.save(tokens)
        files.delete(realm)
    engine.dispose()
    return {**env, "QBSYNC_TOKEN_STORE": "cache", "QBSYNC_TOKEN_KEY": KEY}


def test_the_cache_store_on_a_database_no_command_has_used(sandbox: SandboxServer, tmp_path: Path,
                                                           pg_url: str) -> None:
    _, env = connect_realms(sandbox, tmp_path, pg_url, [])
    env.update(QBSYNC_TOKEN_STORE="cache", QBSYNC_TOKEN_KEY=KEY)
    out = _qbsync(env, "auth", "status")  # `auth` is often the first command: no table exists yet
    assert out.returncode == 4 and "not connected to any QuickBooks company" in out.stderr, out.stderr
    assert "relation" not in out.stderr


def test_a_search_path_schema_that_does_not_exist_says_how_to_create_it(sandbox: SandboxServer,
                                                                        tmp_path: Path) -> None:
    schema = f"missing_{uuid.uuid4().hex[:8]}"
    sep = "&" if "?" in PG_URL else "?"
    _, env = connect_realms(sandbox, tmp_path, f"{PG_URL}{sep}options=-csearch_path%3D{schema}", [A])
    out = _qbsync(env, "worker", "--once")
    assert out.returncode == 3, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 2 and "does not exist" in lines[0] and f"CREATE SCHEMA {schema};" in lines[1]


def test_worker_once_says_what_it_synced(sandbox: SandboxServer, tmp_path: Path, pg_url: str) -> None:
    _, env = connect_realms(sandbox, tmp_path, pg_url, [A])
    env = _in_cache_store(env, pg_url)
    first = _qbsync(env, "worker", "--once", "--json")  # never synced: the schedule's first sync
    assert first.returncode == 0, first.stderr
    assert [(o["realm_id"], o["reason"], o["status"]) for o in json.loads(first.stdout)["outcomes"]] == [
        (A, "schedule", "synced")]
    obj = change_customer(sandbox.store, A, "3", "once@a.example")
    engine = open_cache(pg_url)
    changed = datetime.fromisoformat(obj["MetaData"]["LastUpdatedTime"]).astimezone(UTC)
    Inbox(engine).record([Event("e-1", A, "Customer", "3", "Update", changed, "cloudevents")],
                         datetime.now(UTC))
    engine.dispose()
    second = _qbsync(env, "worker", "--once")  # the event's sync, left by a receiver whose queue was lost
    assert second.returncode == 0 and second.stdout.strip() == f"realm {A}: cdc (event) synced", second.stdout
    assert _qbsync(env, "worker", "--once").stdout.strip() == "nothing to sync"


def test_a_machine_given_the_wrong_token_key_stops_at_once(sandbox: SandboxServer, tmp_path: Path,
                                                           pg_url: str) -> None:
    _, env = connect_realms(sandbox, tmp_path, pg_url, [A])
    env = _in_cache_store(env, pg_url)
    wrong = {**env, "QBSYNC_TOKEN_KEY": Fernet.generate_key().decode()}
    for args in (("worker",), ("worker", "--once"), ("sync", "--realm", A)):
        out = _qbsync(wrong, *args)
        # a setting (exit 2), not "log in again" (exit 4): that would strand the machines with the key
        assert out.returncode == 2 and "token_key" in out.stderr and "cannot decrypt" in out.stderr, args


def test_webhooks_serve_on_postgresql_queues_and_status_shows_the_queue(sandbox: SandboxServer,
                                                                        tmp_path: Path, pg_url: str) -> None:
    # The fleet's receiver as a user runs it: nothing syncs until a worker runs, so the queue shows.
    _, env = connect_realms(sandbox, tmp_path, pg_url, [A])
    env = _in_cache_store(env, pg_url)
    assert _qbsync(env, "sync", "--realm", A).returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "qbsync", "webhooks", "serve", "--port", "0",
                             "--max-body", "4k"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        found = re.search(r"listening on (http://\S+)", line)
        assert found and "PostgreSQL queue" in line, line
        endpoint = found.group(1)
        obj = change_customer(sandbox.store, A, "5", "queued@a.example")
        when = obj["MetaData"]["LastUpdatedTime"]
        body = body_of([cloudevent(A, "Customer", "5", "updated", when),
                        cloudevent(GONE, "Customer", "5", "updated", when)])
        assert requests.post(endpoint, data=body, timeout=30).status_code == 401
        assert requests.post(endpoint, data=body, headers={"intuit-signature": sign(body + b" ")},
                             timeout=30).status_code == 401
        big = body_of([cloudevent(A, "Customer", str(i), "updated", when) for i in range(40)])
        assert requests.post(endpoint, data=big, headers={"intuit-signature": sign(big)},
                             timeout=30).status_code == 413
        r = requests.post(endpoint, data=body, headers={"intuit-signature": sign(body)}, timeout=30)
        assert r.status_code == 200
        assert (r.json()["new"], r.json()["dropped"], r.json()["queued"]) == (1, 1, 1)
        old = body_of(legacy(A, [("Customer", "5", "Update", when)]))  # a second change, coalesced
        r = requests.post(endpoint, data=old, headers={"intuit-signature": sign(old)}, timeout=30)
        assert r.status_code == 200 and (r.json()["format"], r.json()["coalesced"]) == ("legacy", 1)
        assert requests.get(endpoint.rsplit("/webhooks", 1)[0] + "/healthz", timeout=10).status_code == 200

        [waiting] = json.loads(_qbsync(env, "status", "--json").stdout)
        assert waiting["pipeline"]["queued"] == 1 and waiting["pipeline"]["running"] == 0
        assert waiting["pipeline"]["waiting_events"] == 2 and waiting["pipeline"]["last_event_at"]
        assert "2 not yet synced; queue 1 queued, 0 running" in _qbsync(env, "status").stdout
        health = json.loads(_qbsync(env, "report", "health", "--format", "json").stdout)
        assert [(p["realm_id"], p["queued"]) for p in health["meta"]["pipeline"]] == [(A, 1)]

        once = _qbsync(env, "worker", "--once")
        assert once.stdout.strip() == f"realm {A}: cdc (event) synced", once.stderr
        [done] = json.loads(_qbsync(env, "status", "--json").stdout)
        assert (done["pipeline"]["queued"], done["pipeline"]["waiting_events"]) == (0, 0)
        assert done["pipeline"]["lag_seconds"] is not None and done["pipeline"]["last_sync_at"]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"dropped 1 event(s) of companies not connected: {GONE}" in err
