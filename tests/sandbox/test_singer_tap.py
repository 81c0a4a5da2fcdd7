"""A real client nobody here wrote: Singer's tap-quickbooks (discovery, the batch of its 29 query streams,
and its deleted_objects CDC request naming 24 entities) runs against the sandbox without a fault.

The tap pins old libraries (singer-python, requests), so it is installed by pip into its own virtualenv
under the user's cache directory (made once, reused), never into the project's environment."""

from __future__ import annotations

import json
import os
import subprocess
import venv
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from qbsync.sandbox.clock import SandboxClock
from qbsync.sandbox.server import SandboxServer
from qbsync.sandbox.store import Store

from .conftest import REALM, Raw, small_company

TAP = "tap-quickbooks==2.5.0"
# tap-quickbooks hard-codes Intuit's hosts; the driver points them at the sandbox, then runs the tap's
# own main() unchanged.
DRIVER = """
import sys
import tap_quickbooks.client as client
base = sys.argv.pop(1)
client.PROD_ENDPOINT_BASE = client.SANDBOX_ENDPOINT_BASE = base
client.TOKEN_REFRESH_URL = base + "/oauth2/v1/tokens/bearer"
import tap_quickbooks
tap_quickbooks.main()
"""


def _tap_python() -> Path:
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    env = home / "qbsync-tests" / TAP.replace("==", "-")
    python = env / "bin" / "python"
    if not (env / "ok").exists():
        venv.create(env, with_pip=True, clear=True)
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", TAP],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            if os.environ.get("CI"):
                pytest.fail(f"pip could not install {TAP}: {done.stderr[-2000:]}")
            pytest.skip(f"pip could not install {TAP} (offline?): {done.stderr[-300:]}")
        (env / "ok").write_text(TAP)
    return python


@pytest.fixture(scope="module")
def tap_python() -> Path:
    return _tap_python()


@pytest.fixture
def busy_server() -> Iterator[SandboxServer]:
    """The small company with a few transactions, a journal entry and a deleted invoice (for CDC)."""
    clock = SandboxClock(datetime(2024, 3, 1, 20, 0, tzinfo=UTC))
    store = Store(clock=clock)
    small_company(store)
    with SandboxServer(store, clock=clock) as srv:
        raw = Raw(srv)
        line = {
            "Amount": 120,
            "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
        }
        for kind, cust in (
            ("invoice", "1"),
            ("invoice", "2"),
            ("salesreceipt", "3"),
            ("refundreceipt", "3"),
            ("creditmemo", "2"),
            ("estimate", "4"),
        ):
            assert raw.post(kind, {"CustomerRef": {"value": cust}, "Line": [line]}).status_code == 200
        gone = raw.post("invoice", {"CustomerRef": {"value": "5"}, "Line": [line]}).json()["Invoice"]
        raw.post("invoice", {"Id": gone["Id"], "SyncToken": gone["SyncToken"]}, operation="delete")
        je = {
            "Line": [
                {
                    "Amount": 9,
                    "JournalEntryLineDetail": {
                        "PostingType": "Debit",
                        "AccountRef": {"value": "84", "name": "Accounts Receivable (A/R)"},
                        "Entity": {"Type": "Customer", "EntityRef": {"value": "1"}},
                    },
                },
                {
                    "Amount": 9,
                    "JournalEntryLineDetail": {"PostingType": "Credit", "AccountRef": {"value": "1"}},
                },
            ]
        }
        assert raw.post("journalentry", je).status_code == 200
        yield srv


def _run(python: Path, srv: SandboxServer, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    return subprocess.run(
        [str(python), "-c", DRIVER, srv.base_url, "--config", str(tmp / "config.json"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp,
    )


def _messages(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def test_tap_quickbooks_discovers_and_syncs_every_stream(
    tap_python: Path, busy_server: SandboxServer, tmp_path: Path
) -> None:
    srv = busy_server
    tokens = srv.issue_tokens(REALM)
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "start_date": "2024-02-01T00:00:00Z",
                "user_agent": "qbsync tests",
                "realm_id": REALM,
                "client_id": srv.client_id,
                "client_secret": srv.client_secret,
                "refresh_token": tokens["refresh_token"],
                "sandbox": "false",
            }
        )
    )
    found = _run(tap_python, srv, tmp_path, "--discover")
    assert found.returncode == 0, found.stderr[-3000:]
    catalog = json.loads(found.stdout)
    streams = {s["tap_stream_id"] for s in catalog["streams"]}
    assert {"deleted_objects", "bill_payments", "journal_entries", "refund_receipts", "customers"} <= streams
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = True
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))

    synced = _run(tap_python, srv, tmp_path, "--catalog", str(tmp_path / "catalog.json"))
    assert synced.returncode == 0, synced.stderr[-3000:]
    assert "Fault" not in synced.stderr and "HTTP-error-code" not in synced.stderr
    faults = [r for r in srv.request_log if r.path.startswith("/v3/") and r.status != 200]
    assert faults == []
    records = Counter(m["stream"] for m in _messages(synced.stdout) if m["type"] == "RECORD")
    store = srv.store
    expected = {
        "customers": store.count(REALM, "Customer"),
        "invoices": 2,
        "sales_receipts": 1,
        "refund_receipts": 1,
        "credit_memos": 1,
        "estimates": 1,
        "journal_entries": 1,
        "items": 1,
        "deleted_objects": 1,
    }
    assert {k: records[k] for k in expected} == expected
    # profit_loss_report: one record per day from start_date on, read from ProfitAndLoss by day.
    days = [
        m["record"]
        for m in _messages(synced.stdout)
        if m.get("stream") == "profit_loss_report" and m["type"] == "RECORD"
    ]
    assert days[0]["ReportDate"].startswith("2024-02-01") and "Total Income" in days[0]["Details"]
    assert set(records) == set(expected) | {"profit_loss_report"}, (
        "streams the sandbox does not hold are empty"
    )
    # The tap asked in one batch for all 29 query streams and once for CDC naming its 24 entities.
    cdc = [r for r in srv.request_log if r.path.endswith("/cdc")]
    assert len(cdc) == 1 and cdc[0].status == 200
    deleted = next(
        m for m in _messages(synced.stdout) if m["type"] == "RECORD" and m["stream"] == "deleted_objects"
    )
    assert deleted["record"]["Type"] == "Invoice"
    stubs = store._read("SELECT id FROM tombstones WHERE realm = ? AND entity = 'Invoice'", (REALM,))
    assert [deleted["record"]["Id"]] == [str(r[0]) for r in stubs]
