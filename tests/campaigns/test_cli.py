"""`qbsync campaign ...` end to end: create from a command-line segment, export, report, followup, dunning."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

from click.testing import CliRunner

from qbsync.campaigns import campaign
from qbsync.cli import cli
from tests.builder import CacheBuilder


def _run(db_url: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["campaign", *args, "--cache-url", db_url], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_campaign_flow(db_url: str, tmp_path: Path) -> None:
    c = CacheBuilder(db_url)
    for i in range(20):
        c.customer(str(i), f"Customer {i}", email=f"c{i}@example.com")
        inv = c.invoice(str(i), date(2023, 1, 1), "50.00")
        c.pay(str(i), date(2023, 1, 20), (inv, "50.00"))
        c.receipt(str(i), date(2023, 2, 1), "10.00")
    out = _run(db_url, "create", "lapsed", "--kind", "all", "--where", "days_inactive_min=365",
               "--seed", "7", "--as-of", "2025-01-01")
    assert "20 members" in out and "2 held back" in out
    dnc = tmp_path / "dnc.txt"
    dnc.write_text("c3@example.com\nid:4\n", encoding="utf-8")
    _run(db_url, "export", "lapsed", "--to", "mailchimp", "--dir", str(tmp_path),
         "--do-not-contact", str(dnc), "--as-of", "2025-01-01")
    rows = list(csv.DictReader((tmp_path / "lapsed-mailchimp.csv").open(encoding="utf-8", newline="")))
    emails = {r["Email Address"] for r in rows}
    assert "c3@example.com" not in emails and "c4@example.com" not in emails
    camp = campaign.get(c.engine, c.realm_id, "lapsed")
    contacted = {m.customer_id for m in campaign.members(c.engine, camp.id) if not m.control}
    assert emails == {f"c{i}@example.com" for i in contacted - {"3", "4"}}
    for i in range(5):
        c.receipt(str(i), date(2025, 1, 15), "30.00")
    rep = json.loads(_run(db_url, "report", "lapsed", "--format", "json", "--as-of", "2025-03-01"))
    assert rep["contacted"]["members"] + rep["control"]["members"] == 20
    assert rep["contacted"]["returned"] + rep["control"]["returned"] == 5
    follow = _run(db_url, "followup", "lapsed", "--format", "json", "--as-of", "2025-03-01")
    assert len(json.loads(follow)["rows"]) == rep["contacted"]["members"] - rep["contacted"]["returned"]
    assert "lapsed" in _run(db_url, "list")
    assert "Dunning list" in _run(db_url, "dunning", "--as-of", "2025-03-01")


def test_segments_file_listing(db_url: str) -> None:
    c = CacheBuilder(db_url)
    c.department("1", "Downtown")
    c.customer("1", "A", email="a@example.com")
    c.invoice("1", date(2024, 1, 1), "500.00", due=date(2024, 1, 31), dept="1")
    path = Path(__file__).resolve().parents[2] / "config" / "segments.example.toml"
    out = _run(db_url, "segments", "--segments-file", str(path), "--as-of", "2025-06-30", "--format", "json")
    sizes = {r["name"]: r["members"] for r in json.loads(out)["rows"]}
    assert sizes["overdue-payers"] == 1 and sizes["downtown-lapsed"] == 1 and sizes["vip"] == 0
