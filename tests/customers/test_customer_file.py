"""The customer file end to end from the CLI: notes, reasons for loss, language, the archive, `sent`,
dunning that moves one stage per letter sent, and a campaign that knows who it reached."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from qbsync.cli import cli
from tests.builder import CacheBuilder


def run(db_url: str, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, [*args, "--cache-url", db_url], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def batch_of(output: str) -> str:
    """The batch id a command announced ("batch B1234567890 (...) recorded ...")."""
    words = output.split()
    return words[words.index("batch") + 1]


def test_notes_loss_language_and_the_archive(db_url: str) -> None:
    c = CacheBuilder(db_url)
    c.customer("7", "Casa Lima", email="ola@lima.example", city="Porto", country="PT")
    inv = c.invoice("7", date(2025, 1, 10), "300.00", due=date(2025, 2, 9), doc="1001")
    c.pay("7", date(2025, 2, 1), (inv, "100.00"))
    c.receipt("7", date(2025, 3, 1), "45.50")
    said = run(db_url, "customer", "note", "Casa Lima", "called,", "pays Friday")
    assert "note 1 added to Casa Lima" in said
    run(db_url, "customer", "note", "7", "second note")
    assert "will be written to in pt_BR" in run(db_url, "customer", "language", "7", "pt-br")
    out = run(db_url, "customer", "lost", "7", "--reason", "competitor", "--on", "2025-06-01",
              "--note", "went to the shop across the road")
    assert "lost on 2025-06-01: competitor" in out
    doc = json.loads(run(db_url, "customer", "show", "7", "--format", "json", "--as-of", "2025-06-30"))
    assert doc["profile"]["language"] == "pt_BR" and doc["profile"]["email"] == "ola@lima.example"
    assert [n["text"] for n in doc["notes"]] == ["second note", "called, pays Friday"]
    assert doc["lost"]["reason"] == "competitor" and doc["lost"]["lost_on"] == "2025-06-01"
    assert doc["balance"]["aging"]["over 90"] == "200.00" and doc["closing_balance"] == "200.00"
    assert [t["type"] for t in doc["transactions"]] == ["Invoice", "Payment", "Sales Receipt"]
    assert {f["rule"] for f in doc["findings"]} <= {"inactive", "reactivate", "disappearing"}
    text = run(db_url, "customer", "show", "Casa Lima", "--as-of", "2025-06-30", "--no-rules")
    assert "Lost on 2025-06-01: competitor - went to the shop across the road" in text
    assert "pays Friday" in text and "rules not run" in text
    # a customer who came back no longer counts
    assert "no longer counts as lost" in run(db_url, "customer", "lost", "7", "--clear")
    assert json.loads(run(db_url, "customer", "show", "7", "--format", "json", "--no-rules"))["lost"] is None


def test_bad_input_is_one_clean_line(db_url: str) -> None:
    c = CacheBuilder(db_url)
    c.customer("1", "A")
    assert "no customer with Id or name 'Nobody'" in run(db_url, "customer", "show", "Nobody", code=2)
    assert "give either --reason" in run(db_url, "customer", "lost", "1", code=2)
    assert "not a language tag" in run(db_url, "customer", "language", "1", "pt br!", code=2)
    assert "no outreach batch B0" in run(db_url, "sent", "B0", code=2)
    assert "empty" in run(db_url, "customer", "note", "1", " ", code=2)


def test_lost_report_by_reason_and_period(db_url: str) -> None:
    c = CacheBuilder(db_url)
    for cid, spend in (("1", "1200.00"), ("2", "300.00"), ("3", "50.00")):
        c.customer(cid, f"Customer {cid}")
        c.invoice(cid, date(2024, 10, 1), spend)
        c.invoice(cid, date(2023, 1, 1), "999.00")  # more than a year before: not lost revenue
    run(db_url, "customer", "lost", "1", "--reason", "price", "--on", "2025-02-10")
    run(db_url, "customer", "lost", "2", "--reason", "price", "--on", "2025-02-20")
    run(db_url, "customer", "lost", "3", "--reason", "moved", "--on", "2025-05-02")
    doc = json.loads(run(db_url, "report", "lost", "--by", "quarter", "--format", "json",
                         "--as-of", "2025-06-30"))
    assert [(r["period"], r["reason"], r["customers"], r["revenue"]) for r in doc["rows"]] == [
        ("2025-Q1", "price", 2, "1500.00"), ("2025-Q2", "moved", 1, "50.00")]
    assert doc["totals"]["revenue"] == "1550.00" and doc["totals"]["customers"] == 3
    early = json.loads(run(db_url, "report", "lost", "--format", "json", "--as-of", "2025-03-31"))
    assert early["totals"]["customers"] == 2  # not yet lost on that date


def test_dunning_moves_one_stage_per_letter_sent(db_url: str, tmp_path: Path) -> None:
    c = CacheBuilder(db_url)
    c.customer("1", "Slow Payer", email="ap@slow.example")
    c.customer("2", "Soon Due", email="ap@soon.example")
    late = c.invoice("1", date(2025, 1, 1), "500.00", due=date(2025, 1, 31), doc="S-1")
    c.invoice("2", date(2025, 6, 1), "80.00", due=date(2025, 7, 3), doc="D-1")
    out = tmp_path / "dunning.csv"

    def letters(as_of: str) -> tuple[dict[str, str], str]:
        result = CliRunner().invoke(cli, ["campaign", "dunning", "--format", "csv", "-o", str(out),
                                          "--as-of", as_of, "--cache-url", db_url], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
        return {r["Customer Id"]: r["Letter"] for r in rows}, result.output

    got, said = letters("2025-07-01")
    assert got == {"1": "first", "2": "reminder"}
    first = batch_of(said)
    again, _ = letters("2025-07-01")  # nothing marked sent yet: the same letters again
    assert again == got
    assert "marked sent on 2025-07-01: 2 customers" in run(db_url, "sent", first, "--on", "2025-07-01")
    assert "already marked sent" in run(db_url, "sent", first)
    pending = json.loads(run(db_url, "sent", "--format", "json"))["rows"]
    assert [b["id"] for b in pending] == [batch_of(_)]  # the second, unsent batch is still pending
    run(db_url, "sent", pending[0]["id"], "--cancel")
    # 9 days later: D-1 is overdue now, but the reminder about it went out 9 days ago: both wait
    waiting, said = letters("2025-07-10")
    assert waiting == {} and "batch" not in said
    assert "2 customers waiting: a letter went out less than 14 days ago" in run(
        db_url, "campaign", "dunning", "--as-of", "2025-07-10")
    second, said = letters("2025-07-15")
    assert second == {"1": "second", "2": "first"}
    run(db_url, "sent", batch_of(said), "--on", "2025-07-15", "--except", "2")  # 2's letter never went
    final, said = letters("2025-08-01")
    assert final == {"1": "final", "2": "first"}
    run(db_url, "sent", batch_of(said), "--on", "2025-08-01")
    table = run(db_url, "campaign", "dunning", "--as-of", "2025-09-01")
    assert "1 customer past the final notice" in table and "Soon Due" in table  # 2: second notice
    # paid, then late again: a new debt starts at the first notice
    c.pay("1", date(2025, 9, 2), (late, "500.00"))
    c.invoice("1", date(2025, 9, 3), "70.00", due=date(2025, 9, 10), doc="S-2")
    fresh, _ = letters("2025-09-20")
    assert fresh["1"] == "first"
    shown = json.loads(run(db_url, "customer", "show", "1", "--format", "json", "--no-rules"))
    assert [(x["kind"], x["stage"]) for x in shown["contacts"]] == [
        ("dunning", "first"), ("dunning", "second"), ("dunning", "final")]
    assert len(shown["pending_batches"]) == 1


def _campaign_back(db_url: str) -> CacheBuilder:
    """Ten customers who last bought in February 2023, all in campaign "back" (a fifth of them the
    control group) created on 2025-01-01."""
    c = CacheBuilder(db_url)
    for i in range(10):
        c.customer(str(i), f"Customer {i}", email=f"c{i}@example.com")
        c.receipt(str(i), date(2023, 2, 1), "10.00")
    run(db_url, "campaign", "create", "back", "--kind", "all", "--control", "0.2", "--seed", "3",
        "--as-of", "2025-01-01")
    return c


def test_campaign_report_knows_who_was_reached_and_who_responded(db_url: str, tmp_path: Path) -> None:
    c = _campaign_back(db_url)
    said = run(db_url, "campaign", "export", "back", "--to", "mailchimp", "--dir", str(tmp_path),
               "--as-of", "2025-01-01")
    rows = list(csv.DictReader((tmp_path / "back-mailchimp.csv").open(encoding="utf-8", newline="")))
    reached = sorted(r["Email Address"][1:].split("@")[0] for r in rows)
    not_reached = reached[0]
    run(db_url, "sent", batch_of(said), "--on", "2025-01-05", "--except", not_reached)
    for cid in reached[:3]:  # two of the reached buy again after the email; the excluded one too
        c.receipt(cid, date(2025, 1, 20), "25.00")
    rep = json.loads(run(db_url, "campaign", "report", "back", "--format", "json", "--as-of", "2025-03-01"))
    assert rep["outreach"]["reached"] == len(reached) - 1
    assert rep["outreach"]["responded_ids"] == sorted(reached[1:3])
    assert not_reached not in rep["outreach"]["reached_ids"]
    text = run(db_url, "campaign", "report", "back", "--as-of", "2025-03-01")
    assert f"{len(reached) - 1} contacted members in batches marked sent; 2 bought again" in text


def test_mark_sent_on_an_earlier_as_of_counts_from_that_day(db_url: str, tmp_path: Path) -> None:
    """A run dated --as-of an earlier day and marked sent went out that day, not today: the next run
    of that cycle moves the customer on (it used to record today, so every earlier run repeated the
    first notice)."""
    c = CacheBuilder(db_url)
    c.customer("1", "Slow Payer", email="ap@slow.example")
    c.invoice("1", date(2025, 1, 1), "500.00", due=date(2025, 1, 31), doc="S-1")
    out = tmp_path / "dunning.csv"

    def letters(as_of: str) -> tuple[dict[str, str], str]:
        said = run(db_url, "campaign", "dunning", "--format", "csv", "-o", str(out), "--as-of", as_of,
                   "--mark-sent")
        rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
        return {r["Customer Id"]: r["Letter"] for r in rows}, said

    got, said = letters("2025-07-01")
    assert got == {"1": "first"} and "recorded as sent on 2025-07-01" in said
    assert letters("2025-07-10")[0] == {}  # 9 days after the first notice: waiting
    got, said = letters("2025-07-15")
    assert got == {"1": "second"} and "recorded as sent on 2025-07-15" in said
    shown = json.loads(run(db_url, "customer", "show", "1", "--format", "json", "--no-rules"))
    assert [(x["stage"], x["sent_at"][:10]) for x in shown["contacts"]] == [
        ("first", "2025-07-01"), ("second", "2025-07-15")]


def test_a_follow_up_list_is_recorded_as_outreach_of_its_campaign(db_url: str, tmp_path: Path) -> None:
    c = _campaign_back(db_url)
    said = run(db_url, "campaign", "export", "back", "--dir", str(tmp_path), "--as-of", "2025-01-01")
    run(db_url, "sent", batch_of(said), "--on", "2025-01-05")
    contacted = json.loads(run(db_url, "campaign", "report", "back", "--format", "json", "--as-of",
                               "2025-02-01"))["outreach"]["reached_ids"]
    c.receipt(contacted[0], date(2025, 1, 20), "25.00")  # one came back: no follow-up for it
    # on the terminal the list is a preview: nothing recorded
    assert "batch" not in run(db_url, "campaign", "followup", "back", "--as-of", "2025-02-01")
    assert json.loads(run(db_url, "sent", "--format", "json"))["rows"] == []
    listed = tmp_path / "followup.csv"
    said = run(db_url, "campaign", "followup", "back", "--format", "csv", "-o", str(listed),
               "--as-of", "2025-02-01")
    ids = sorted(r["Id"] for r in csv.DictReader(listed.open(encoding="utf-8", newline="")))
    assert ids == sorted(contacted[1:])
    batch = batch_of(said)
    assert "recorded; once it went out: qbsync sent" in said
    run(db_url, "sent", batch, "--on", "2025-02-02")
    shown = json.loads(run(db_url, "customer", "show", ids[0], "--format", "json", "--no-rules"))
    assert [(x["kind"], x["stage"], x["sent_at"][:10]) for x in shown["contacts"]] == [
        ("campaign", None, "2025-01-05"), ("campaign", "followup", "2025-02-02")]
    rep = json.loads(run(db_url, "campaign", "report", "back", "--format", "json", "--as-of", "2025-03-01"))
    assert rep["outreach"]["reached_ids"] == contacted  # reached from the first contact on, once each
    # --mark-sent records it at once, on the --as-of day
    said = run(db_url, "campaign", "followup", "back", "--mark-sent", "--channel", "phone",
               "--as-of", "2025-02-20")
    assert "recorded as sent on 2025-02-20" in said


@pytest.mark.parametrize("reason", ["price", "closed"])
def test_loss_replaced_keeps_one_current(db_url: str, reason: str) -> None:
    c = CacheBuilder(db_url)
    c.customer("1", "A")
    run(db_url, "customer", "lost", "1", "--reason", "service", "--on", "2025-01-01")
    run(db_url, "customer", "lost", "1", "--reason", reason, "--on", "2025-02-01")
    doc = json.loads(run(db_url, "report", "lost", "--format", "json", "--as-of", "2025-06-30"))
    assert [(r["reason"], r["customers"]) for r in doc["rows"]] == [(reason, 1)]
