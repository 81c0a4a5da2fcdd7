"""The sandbox is safe to run on a shared network: admin endpoints, body limits, bad headers, tokens."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from qbsync.sandbox.clock import SandboxClock
from qbsync.sandbox.server import ADMIN_SECRET_HEADER, SandboxServer
from qbsync.sandbox.store import Store
from tests.sandbox.conftest import REALM


def _non_loopback_address() -> str | None:
    """An address of this machine that is not loopback, or None (then the network test is skipped)."""
    candidates: set[str] = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            candidates.add(str(info[4][0]))
    except OSError:
        pass
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            candidates.add(s.getsockname()[0])
    except OSError:
        pass
    for addr in sorted(candidates):
        if not addr.startswith("127."):
            try:
                with socket.socket() as probe:
                    probe.bind((addr, 0))
                return addr
            except OSError:
                continue
    return None


@pytest.fixture
def open_server(store: Store, clock: SandboxClock) -> Iterator[SandboxServer]:
    """A sandbox listening on every interface, as `qbsync sandbox serve --host 0.0.0.0` runs it."""
    with SandboxServer(store, clock=clock, host="0.0.0.0", admin_secret="s3cret", max_body=64 * 1024) as srv:
        yield srv


def _raw_request(port: int, head: str, body: bytes = b"") -> tuple[int, dict[str, Any]]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head.encode("ascii") + b"\r\n\r\n" + body)
        data = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                headers, _, rest = data.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in headers.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                if len(rest) >= length:
                    break
    status = int(data.split(b" ", 2)[1])
    return status, json.loads(data.partition(b"\r\n\r\n")[2] or b"{}")


def test_admin_answers_loopback(open_server: SandboxServer) -> None:
    port = open_server.port
    resp = requests.post(f"http://127.0.0.1:{port}/_sandbox/tokens", json={"realm_id": REALM}, timeout=10)
    assert resp.status_code == 200 and "access_token" in resp.json()


def test_admin_refuses_other_hosts_without_the_secret(open_server: SandboxServer) -> None:
    addr = _non_loopback_address()
    if addr is None:
        pytest.skip("this machine has no non-loopback address to call from")
    url = f"http://{addr}:{open_server.port}/_sandbox/tokens"
    refused = requests.post(url, json={"realm_id": REALM}, timeout=10)
    assert refused.status_code == 403
    assert "access_token" not in refused.text
    assert "loopback" in refused.json()["detail"]
    wrong = requests.post(url, json={"realm_id": REALM}, headers={ADMIN_SECRET_HEADER: "guess"}, timeout=10)
    assert wrong.status_code == 403
    allowed = requests.post(url, json={"realm_id": REALM}, headers={ADMIN_SECRET_HEADER: "s3cret"},
                            timeout=10)
    assert allowed.status_code == 200 and "access_token" in allowed.json()
    # The data API itself stays reachable from other hosts (with a token, as QuickBooks is).
    token = allowed.json()["access_token"]
    read = requests.get(f"http://{addr}:{open_server.port}/v3/company/{REALM}/customer/1",
                        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                        timeout=10)
    assert read.status_code == 200


def test_body_over_the_limit_is_a_413_fault_and_is_not_read(open_server: SandboxServer) -> None:
    token = open_server.issue_tokens(REALM)["access_token"]
    huge = {"DisplayName": "Big", "Notes": "x" * (200 * 1024)}
    resp = requests.post(f"{open_server.base_url}/v3/company/{REALM}/customer", json=huge,
                         headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                         timeout=10)
    assert resp.status_code == 413
    err = resp.json()["Fault"]["Error"][0]
    assert err["code"] == "413" and "over the limit" in err["Detail"]
    assert not open_server.store.ids_named(REALM, ["Customer"], "Big")
    # A body under the limit is still accepted.
    ok = requests.post(f"{open_server.base_url}/v3/company/{REALM}/customer",
                       json={"DisplayName": "Small"},
                       headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}, timeout=10)
    assert ok.status_code == 200


def test_a_claimed_length_over_the_limit_is_refused_before_reading(open_server: SandboxServer) -> None:
    # 50 MB announced, nothing sent: the server must answer at once instead of waiting for (or
    # allocating) the body.
    status, body = _raw_request(open_server.port, f"POST /v3/company/{REALM}/customer HTTP/1.1\r\n"
                                "Host: x\r\nContent-Type: application/json\r\nContent-Length: 52428800")
    assert status == 413
    assert body["Fault"]["Error"][0]["code"] == "413"


@pytest.mark.parametrize("value", ["-5", "abc", "1e9", "99999999999999999999999999"])
def test_bad_content_length_is_a_400(open_server: SandboxServer, value: str) -> None:
    status, body = _raw_request(open_server.port, f"POST /_sandbox/clock HTTP/1.1\r\nHost: x\r\n"
                                f"Content-Length: {value}")
    if value.isdigit():  # a huge but well-formed number is over the limit
        assert status == 413
    else:
        assert status == 400
        assert "Content-Length" in body["detail"]


def test_bad_admin_clock_value_is_a_400(open_server: SandboxServer) -> None:
    before = open_server.clock.now()
    for payload in ({"set": "not a time"}, {"advance_seconds": "soon"}, {"set": 5}):
        resp = requests.post(f"{open_server.base_url}/_sandbox/clock", json=payload, timeout=10)
        assert resp.status_code == 400, payload
        assert resp.json()["error"] == "bad_request"
    assert open_server.clock.now() == before


def test_bad_token_is_not_echoed(open_server: SandboxServer) -> None:
    secretish = "AB0123456789-my-leaked-refresh-or-access-token-value"
    resp = requests.get(f"{open_server.base_url}/v3/company/{REALM}/customer/1",
                        headers={"Authorization": f"Bearer {secretish}", "Accept": "application/json"},
                        timeout=10)
    assert resp.status_code == 401
    assert secretish[:10] not in resp.text
    assert resp.json()["fault"]["error"][0]["detail"] == "Token invalid"


def test_serve_on_a_port_in_use_is_one_clean_line(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from qbsync.cli import cli

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = CliRunner().invoke(cli, ["sandbox", "serve", "--db", str(tmp_path / "s.db"),
                                          "--port", str(port)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "Traceback" not in result.output
    # Nothing half-made: the database this command would have created is not left behind, and
    # the note about creating a company is not said of a company that was not kept.
    assert list(tmp_path.iterdir()) == []
    assert "created an empty one" not in result.output


def test_serve_on_a_port_in_use_keeps_a_database_that_was_there(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from qbsync.cli import cli

    db = tmp_path / "s.db"
    assert CliRunner().invoke(cli, ["sandbox", "seed", "--db", str(db), "--customers", "5"]).exit_code == 0
    size = db.stat().st_size
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = CliRunner().invoke(cli, ["sandbox", "serve", "--db", str(db), "--port", str(port)])
    assert result.exit_code == 2, result.output
    assert db.exists() and db.stat().st_size >= size
