"""Clusters, survivors and findings that write-back acts on; the cache entry point and the CLI."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from qbsync.cache.models import Customer
from qbsync.cli.duplicates import duplicates_cmd
from qbsync.rules.duplicates import find_duplicates
from qbsync.rules.duplicates.detect import detect_duplicates
from qbsync.rules.duplicates.records import CustomerRecord
from tests.builder import CacheBuilder

_GIVEN = ["Ann", "Bob", "Cyd", "Dee", "Eve", "Fay", "Gus", "Hal", "Ida", "Jon", "Kit", "Lou"]
_FAMILY = ["Abbott", "Baker", "Clark", "Dunn", "Ellis", "Frost", "Grant", "Hayes", "Irwin", "Jones",
           "Kerr", "Lowe", "Marsh", "Nash", "Owen", "Price", "Quinn", "Reed", "Shaw", "Todd"]
_STREETS = ["Oak", "Elm", "Pine", "Ash", "Birch", "Cedar", "Maple", "Willow", "Alder", "Beech", "Holly"]
_CITIES = ["Leeds", "York", "Bath", "Ely", "Hull", "Wells", "Derby", "Truro", "Ripon", "Perth", "Sarum"]


def _population(n: int = 200) -> list[CustomerRecord]:
    out = []
    for i in range(n):
        g, f = _GIVEN[i % len(_GIVEN)], _FAMILY[(i * 7) % len(_FAMILY)]
        out.append(CustomerRecord(
            str(i + 1), f"{g} {f}", given_name=g, family_name=f, email=f"{g}.{f}{i}@mail.test".lower(),
            phone=f"(212) 555-{1000 + i:04d}", bill_line1=f"{i + 1} {_STREETS[i % 11]} Street",
            bill_city=_CITIES[(i * 3) % 11], bill_postal_code=f"{10000 + i * 13}", bill_country="US"))
    return out


def _with_duplicates() -> list[CustomerRecord]:
    base = _population()
    o1, o2, o3 = base[10], base[20], base[30]
    dups = [
        # Same person, typo and "(deleted)" suffix, no transactions.
        CustomerRecord("901", f"{o1.given_name} {o1.family_name}x (deleted)", given_name=o1.given_name,
                       family_name=(o1.family_name or "") + "x", email=o1.email, phone=o1.phone,
                       bill_line1=o1.bill_line1, bill_city=o1.bill_city, bill_postal_code=o1.bill_postal_code,
                       bill_country="USA", active=False),
        # Swapped names, same phone written differently, has a balance.
        CustomerRecord("902", f"{o2.family_name}, {o2.given_name}", given_name=o2.family_name,
                       family_name=o2.given_name, phone=(o2.phone or "").replace("(", "+1 ").replace(")", ""),
                       bill_line1=(o2.bill_line1 or "").replace("Street", "St"), bill_city=o2.bill_city,
                       bill_postal_code=o2.bill_postal_code, balance=Decimal("120.00")),
        # Same email, abbreviated given name.
        CustomerRecord("903", f"{(o3.given_name or '')[0]}. {o3.family_name}", family_name=o3.family_name,
                       given_name=(o3.given_name or "")[0], email=(o3.email or "").upper(),
                       bill_line1=o3.bill_line1, bill_city=o3.bill_city,
                       bill_postal_code=o3.bill_postal_code),
    ]
    return base + dups


def test_detects_the_planted_duplicates_and_only_them() -> None:
    report = detect_duplicates(_with_duplicates(), activity={"11": 5, "21": 2, "31": 1, "901": 0, "902": 0,
                                                             "903": 0})
    got = sorted(sorted(m.customer_id for m in c.members) for c in report.clusters)
    assert got == [["11", "901"], ["21", "902"], ["31", "903"]]


def test_survivor_and_actions_follow_activity_and_balance() -> None:
    report = detect_duplicates(_with_duplicates(), activity={"11": 5, "21": 2, "31": 1})
    by_dup = {c.members[1].customer_id: c for c in report.clusters}
    assert by_dup["901"].survivor_id == "11"  # most activity (and active)
    # No transactions, no balance, but already inactive: nothing to write.
    assert by_dup["901"].members[1].proposed_action == "none"
    assert "already inactive" in next(f for f in report.findings if f.customer_id == "901").reason
    assert by_dup["903"].members[1].proposed_action == "deactivate"  # active, no transactions, no balance
    assert by_dup["902"].members[1].proposed_action == "merge"  # open balance: never deactivated
    finding = next(f for f in report.findings if f.customer_id == "902")
    assert finding.rule == "duplicates" and finding.action == "merge"
    assert finding.facts["survivor_id"] == "21"
    assert "balance 120.00" in finding.reason
    assert {e["comparison"] for e in finding.facts["evidence"]} >= {"given name", "family name", "phone"}
    assert finding.facts["probability"] >= 0.5
    survivor = next(f for f in report.findings if f.customer_id == "21")
    assert survivor.action == "none" and survivor.facts["role"] == "survivor"


def test_survivor_prefers_the_record_with_history_even_if_poorer() -> None:
    # 903 (an initial for a given name, no phone) holds the history; 31 has more contact fields but
    # no transactions.
    report = detect_duplicates(_with_duplicates(), activity={"903": 9, "31": 0})
    cluster = next(c for c in report.clusters if "903" in {m.customer_id for m in c.members})
    assert cluster.survivor_id == "903"
    assert cluster.members[1].proposed_action == "deactivate"  # record 31 has no history


def test_without_activity_every_duplicate_goes_to_manual_merge() -> None:
    report = detect_duplicates(_with_duplicates())
    assert {f.action for f in report.findings if f.facts["role"] == "duplicate"} == {"merge"}


def test_find_duplicates_over_the_cache(db_url: str) -> None:
    b = CacheBuilder(db_url)
    people = [("1", "Maria Gonzalez", "maria.g@example.com"),
              ("2", "María González (deleted)", "Maria.G@example.com"),
              ("3", "Peter Novak", "pnovak@example.com"), ("4", "Liu Wei", "liu@example.com"),
              ("5", "Hannah Becker", "hb@example.com"), ("6", "Omar Haddad", "oh@example.com")]
    for cid, name, email in people:
        b.customer(cid, name, active=cid != "2")
        with b.engine.begin() as conn:
            conn.execute(sa.update(Customer).where(Customer.id == cid).values(
                email=email, bill_line1=f"{cid}0 Main Street", bill_city="Springfield",
                bill_postal_code=f"6270{cid}"))
    with b.engine.begin() as conn:
        conn.execute(sa.update(Customer).where(Customer.id == "2").values(bill_line1="10 Main St",
                                                                          bill_postal_code="62701"))
    b.invoice("1", date(2024, 5, 1), balance="0")
    findings = find_duplicates(b.engine, b.realm_id, date(2025, 1, 1))
    dup = [f for f in findings if f.facts["role"] == "duplicate"]
    assert [f.customer_id for f in dup] == ["2"]
    assert dup[0].action == "none" and dup[0].facts["survivor_id"] == "1"  # already inactive
    assert dup[0].facts["has_transactions"] is False
    # An invoice dated after as_of still counts: deactivating would orphan it.
    b.invoice("2", date(2025, 6, 1), balance="0")
    later = [f for f in find_duplicates(b.engine, b.realm_id, date(2025, 1, 1)) if f.customer_id == "2"]
    assert later[0].action == "merge" and later[0].facts["txn_count"] == 0
    assert later[0].facts["has_transactions"] is True
    # Replayed before any of them existed (created 2020-01-01), there is nothing to find.
    assert find_duplicates(b.engine, b.realm_id, date(2019, 1, 1)) == []


def test_cli_on_a_customer_csv(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    rows = ["Id,Customer,First Name,Last Name,Email,Phone,Street,City,Zip,Entity"]
    for r in _with_duplicates():
        truth = {"901": "11", "902": "21", "903": "31"}.get(r.customer_id, r.customer_id)
        rows.append(",".join([r.customer_id, r.display_name.replace(",", ""), r.given_name or "",
                              r.family_name or "", r.email or "", r.phone or "", r.bill_line1 or "",
                              r.bill_city or "", r.bill_postal_code or "", truth]))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "dups.json"
    result = CliRunner().invoke(duplicates_cmd, ["--input-csv", str(path), "--truth-column", "Entity",
                                                 "--country", "US", "--format", "json", "--output", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["evaluation"]["f1"] == 1.0
    assert len(doc["clusters"]) == 3
    link = doc["clusters"][0]["links"][0]
    assert {"comparison", "level", "left", "right", "bits"} <= set(link["fields"][0])
    table = CliRunner().invoke(duplicates_cmd, ["--input-csv", str(path), "--country", "US"])
    assert "survivor" in table.output and "P=" in table.output


def test_cli_rejects_an_unknown_column_mapping(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("Name\nAcme\n", encoding="utf-8")
    result = CliRunner().invoke(duplicates_cmd, ["--input-csv", str(path), "--columns", "email=Mail"])
    assert result.exit_code != 0
    assert "Mail" in str(result.exception) or "Mail" in result.output


def test_cli_on_the_cache(db_url: str) -> None:
    b = CacheBuilder(db_url)
    for cid, name in (("1", "Acme Widgets, Inc."), ("2", "ACME Widgets LLC"), ("3", "Borealis Ltd"),
                      ("4", "Cobalt Studio"), ("5", "Dune & Daughters")):
        b.customer(cid, name)
        with b.engine.begin() as conn:
            conn.execute(sa.update(Customer).where(Customer.id == cid).values(
                company_name=name, phone="(415) 555-01" + ("11" if cid in ("1", "2") else f"2{cid}"),
                bill_country="USA"))
    b.invoice("2", date(2024, 3, 1), balance="0")
    result = CliRunner().invoke(duplicates_cmd, ["--cache-url", db_url, "--realm", b.realm_id,
                                                 "--as-of", "2025-01-01", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert (doc["rule"], doc["realm_id"], doc["as_of"]) == ("duplicates", b.realm_id, "2025-01-01")
    clusters = doc["clusters"]
    assert len(clusters) == 1
    members = {m["customer_id"]: m for m in clusters[0]["members"]}
    assert set(members) == {"1", "2"}
    assert members["2"]["role"] == "survivor"  # it has the history
    # Five customers teach EM little: 0.885 is a match, but not sure enough to hide a customer.
    assert 0.5 <= members["1"]["probability"] < 0.9
    assert members["1"]["proposed_action"] == "merge"
    lower = CliRunner().invoke(duplicates_cmd, ["--cache-url", db_url, "--realm", b.realm_id, "--as-of",
                                                "2025-01-01", "--format", "json", "--deactivate-at", "0.8"])
    members = {m["customer_id"]: m for m in json.loads(lower.output)["clusters"][0]["members"]}
    assert members["1"]["proposed_action"] == "deactivate"


def _csv_of(records: list[CustomerRecord], path: Path) -> Path:
    rows = ["Id,Customer,First Name,Last Name,Email,Phone,Street,City,Zip"]
    for r in records:
        rows.append(",".join([r.customer_id, r.display_name.replace(",", ""), r.given_name or "",
                              r.family_name or "", r.email or "", r.phone or "", r.bill_line1 or "",
                              r.bill_city or "", r.bill_postal_code or ""]))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_cli_lists_possible_duplicates_below_the_threshold_for_review(tmp_path: Path) -> None:
    base = _population()
    # Namesakes of customer 41 with nothing else in common: neither sure nor impossible.
    namesakes = [CustomerRecord(str(950 + k), base[40].display_name, given_name=base[40].given_name,
                                family_name=base[40].family_name, email=f"other{k}@mail.test")
                 for k in range(2)]
    path = _csv_of(_with_duplicates() + namesakes, tmp_path / "c.csv")
    runner = CliRunner()
    args = ["--input-csv", str(path), "--country", "US", "--review", "0.000001"]
    doc = json.loads(runner.invoke(duplicates_cmd, [*args, "--format", "json"]).output)
    possible = doc["possible"]
    assert possible and doc["summary"]["possible_pairs"] == len(possible)
    assert all(1e-6 <= p["probability"] < 0.5 for p in possible)
    assert [p["probability"] for p in possible] == sorted((p["probability"] for p in possible), reverse=True)
    clustered = {m["customer_id"]: c["cluster_id"] for c in doc["clusters"] for m in c["members"]}
    assert not any(clustered.get(p["left_id"], "a") == clustered.get(p["right_id"], "b") for p in possible)
    assert any({p["left_id"], p["right_id"]} & {"950", "951"} for p in possible)
    assert possible[0]["left_name"] and possible[0]["fields"]
    csv_text = runner.invoke(duplicates_cmd, [*args, "--format", "csv"]).output
    review_rows = [r for r in csv.DictReader(io.StringIO(csv_text, newline="")) if r["role"] == "possible"]
    assert len(review_rows) == 2 * len(possible)
    assert all(r["proposed_action"] == "review" for r in review_rows)
    table = runner.invoke(duplicates_cmd, args).output
    assert f"{len(possible)} possible duplicate pair(s) to review" in table and "R1: '" in table
    # Possible pairs are no findings: nothing for write-back to act on.
    assert len(doc["clusters"]) == 3
    none = json.loads(runner.invoke(duplicates_cmd, [*args[:-2], "--review", "0", "--format", "json"]).output)
    assert none["possible"] == []


def test_cli_refuses_a_review_bound_above_the_threshold(tmp_path: Path) -> None:
    path = _csv_of(_population(20), tmp_path / "c.csv")
    from qbsync.cli import cli

    args = ["rules", "duplicates", "--input-csv", str(path), "--threshold", "0.4", "--review", "0.6"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "--review 0.6 is not below --threshold 0.4" in result.output


def test_an_active_record_survives_over_a_retired_one_with_more_history() -> None:
    """A customer retired as "(deleted)" and typed in again today: the new, active record stays, and
    the old one's history is merged into it by hand; nothing active is ever deactivated for it."""
    base = _population()
    old = base[40]
    again = CustomerRecord("960", old.display_name, given_name=old.given_name, family_name=old.family_name,
                           email=old.email, phone=old.phone, bill_line1=old.bill_line1,
                           bill_city=old.bill_city, bill_postal_code=old.bill_postal_code, bill_country="US")
    retired = CustomerRecord(old.customer_id, f"{old.display_name} (deleted)", given_name=old.given_name,
                             family_name=old.family_name, email=old.email, phone=old.phone,
                             bill_line1=old.bill_line1, bill_city=old.bill_city,
                             bill_postal_code=old.bill_postal_code, bill_country="US", active=False)
    records = [r for r in base if r.customer_id != old.customer_id] + [retired, again]
    report = detect_duplicates(records, activity={old.customer_id: 12})
    [cluster] = [c for c in report.clusters if "960" in {m.customer_id for m in c.members}]
    assert cluster.survivor_id == "960"
    actions = {m.customer_id: m.proposed_action for m in cluster.members}
    assert actions == {"960": "none", old.customer_id: "merge"}


def test_cli_reads_a_semicolon_separated_customer_csv(tmp_path: Path) -> None:
    comma = _csv_of(_with_duplicates(), tmp_path / "comma.csv")
    semi = tmp_path / "semi.csv"
    semi.write_text(comma.read_text(encoding="utf-8").replace(",", ";"), encoding="utf-8")
    runner = CliRunner()
    docs = [json.loads(runner.invoke(duplicates_cmd, ["--input-csv", str(p), "--country", "US",
                                                      "--format", "json"]).output) for p in (comma, semi)]
    assert len(docs[0]["clusters"]) == 3
    assert docs[1]["clusters"] == docs[0]["clusters"]


def test_cli_csv_is_formula_safe(tmp_path: Path) -> None:
    # Issue 10: the duplicates CSV neutralised = + - @ but not a leading TAB or CR.
    from qbsync.cli import cli

    url = f"sqlite:///{tmp_path / 'cache.sqlite3'}"
    cache = CacheBuilder(url)
    lead = {"11": "\t=", "901": "\r="}
    for r in _with_duplicates():
        cache.customer(r.customer_id, lead.get(r.customer_id, "") + r.display_name, email=r.email,
                       phone=r.phone, given=r.given_name, family=r.family_name, line1=r.bill_line1,
                       city=r.bill_city, postal=r.bill_postal_code, country=r.bill_country, active=r.active)
    result = CliRunner().invoke(cli, ["rules", "duplicates", "--cache-url", url, "--format", "csv"])
    assert result.exit_code == 0, result.output
    names = {r["customer_id"]: r["display_name"]
             for r in csv.DictReader(io.StringIO(result.stdout, newline=""))}
    assert names["11"].startswith("'\t=") and names["901"].startswith("'\r=")
    assert not any(n.startswith(("=", "+", "-", "@", "\t", "\r")) for n in names.values())
