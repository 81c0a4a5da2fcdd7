"""End to end: a generated sandbox company, synced over HTTP into the cache, then the duplicates rule."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("qbsync.sandbox.server")
pytest.importorskip("qbsync.sandbox.generator")
pytest.importorskip("qbsync.qbo.client")

from qbsync.cache.schema import open_cache
from qbsync.qbo.client import connect
from qbsync.rules.duplicates import run_on_cache
from qbsync.rules.duplicates.detect import evaluate_pairs
from qbsync.sandbox.clock import SandboxClock
from qbsync.sandbox.generator import CompanySpec, seed_realm
from qbsync.sandbox.server import SandboxServer
from qbsync.sandbox.store import Store
from qbsync.sync.runner import run_sync
from tests.sync.sandbox_env import REALM, connect_settings


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("dups")
    clock = SandboxClock()
    store = Store(clock=clock)
    truth = seed_realm(store, REALM, CompanySpec(customers=2000))
    cache_url = f"sqlite:///{tmp / 'cache.sqlite3'}"
    with SandboxServer(store, clock=clock) as server:
        conn = connect_settings(server, tmp, cache_url)
        gateway = connect(conn.settings, REALM, clock=server.clock)
        engine = open_cache(cache_url)
        try:
            run_sync(engine, gateway, clock=server.clock, workers=2)
        finally:
            gateway.close()
        yield engine, truth
        engine.dispose()


def test_planted_duplicates_found_from_the_synced_cache(synced: tuple[Any, dict[str, Any]]) -> None:
    engine, truth_doc = synced
    report = run_on_cache(engine, REALM, date.fromisoformat(truth_doc["as_of"]))
    truth = {cid: cid for cid in truth_doc["customers"]}
    for cluster in truth_doc["duplicate_clusters"]:
        for cid in cluster:
            truth[cid] = cluster[0]
    found = [[m.customer_id for m in c.members] for c in report.clusters]
    ev = evaluate_pairs(found, truth)
    assert ev["precision"] >= 0.98, ev
    assert ev["f1"] >= 0.98, ev
    # Write-back's rule: only a duplicate without any transaction and balance may be deactivated.
    for f in report.findings:
        if f.action == "deactivate":
            assert f.facts["has_transactions"] is False and f.facts["balance"] in ("0", "0.00")


def test_find_duplicates_is_what_write_back_reads(synced: tuple[Any, dict[str, Any]], tmp_path: Path) -> None:
    from qbsync.writeback.sources import findings_for

    engine, truth_doc = synced
    out = findings_for("duplicates", engine, REALM, date.fromisoformat(truth_doc["as_of"]))
    assert out.findings and {f.rule for f in out.findings} == {"duplicates"}
    assert all("survivor_id" in f.facts for f in out.findings)
