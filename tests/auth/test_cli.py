"""`qbsync auth login --no-browser | status | logout` as a user runs them, against the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from qbsync.cli import cli

sandbox_server = pytest.importorskip("qbsync.sandbox.server")
from qbsync.sandbox.store import Store  # noqa: E402

REALM = "9341453050000077"


@pytest.fixture
def server() -> Iterator[Any]:
    store = Store()
    store.create_realm(REALM, company_info={"CompanyName": "Hollis Bakery", "Country": "US"})
    with sandbox_server.SandboxServer(store, client_id="cli-id", client_secret="cli-secret-value") as srv:
        yield srv


@pytest.fixture
def env(server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {"QBSYNC_ENVIRONMENT": server.base_url, "QBSYNC_CLIENT_ID": server.client_id,
              "QBSYNC_CLIENT_SECRET": server.client_secret, "QBSYNC_TOKEN_DIR": str(tmp_path / "tokens"),
              "QBSYNC_REDIRECT_URI": "http://localhost:8799/callback",
              "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "XDG_DATA_HOME": str(tmp_path / "data")}
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return values


def test_headless_login_status_and_logout(env: dict[str, str]) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "qbsync", "auth", "login", "--no-browser"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **env})
    assert proc.stdout is not None and proc.stdin is not None
    url = ""
    for line in proc.stdout:
        if line.strip().startswith("http"):
            url = line.strip()
            break
    assert "/connect/oauth2?" in url
    redirected = requests.get(url, allow_redirects=False, timeout=10).headers["Location"]
    out, err = proc.communicate(redirected + "\n", timeout=60)
    assert proc.returncode == 0, err
    assert f"Connected to Hollis Bakery (realm {REALM})" in out
    token_file = Path(env["QBSYNC_TOKEN_DIR"]) / f"{REALM}.json"
    assert oct(token_file.stat().st_mode & 0o777) == "0o600"
    secret_tokens = json.loads(token_file.read_text())
    assert secret_tokens["access_token"] not in out + err

    runner = CliRunner()
    res = runner.invoke(cli, ["auth", "status", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert rows[0]["realm_id"] == REALM and rows[0]["company_name"] == "Hollis Bakery"
    assert rows[0]["refresh_hard_expires_at"]
    assert secret_tokens["refresh_token"] not in res.output

    res = runner.invoke(cli, ["auth", "status"])
    assert "Hollis Bakery" in res.output and "hard expiry" in res.output

    res = runner.invoke(cli, ["auth", "logout"])
    assert res.exit_code == 0 and "revoked" in res.output
    assert not token_file.exists()


def test_status_when_not_connected_says_what_to_do(env: dict[str, str]) -> None:
    res = CliRunner().invoke(cli, ["auth", "status"])
    assert res.exit_code == 4
    assert "qbsync auth login" in res.output


def test_invalid_setting_fails_with_its_name(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QBSYNC_MINORVERSION", "65")
    res = CliRunner().invoke(cli, ["auth", "status"])
    assert res.exit_code == 2
    assert "minorversion" in res.output and "75" in res.output
