"""`qbsync rules disappearing --input-csv`: the backtest and ranking on a purchase log, no cache."""

from __future__ import annotations

import csv
import json
import random
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from qbsync.cli import cli

END = date(2025, 12, 31)


def _log(path: Path, customers: int = 600, seed: int = 3) -> dict[str, date]:
    """A Pareto/NBD-like till log (dates as 'dd/mm/YYYY HH:MM', a return, cash sales without a
    customer); returns the day each customer stopped buying for good."""
    rng = random.Random(seed)
    stopped: dict[str, date] = {}
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Customer ID", "InvoiceDate", "Total", "Customer Name"])
        for c in range(customers):
            cid = f"C{c}"
            rate = rng.gammavariate(2.0, 1 / 40)
            first = date(2023, 1, 1) + timedelta(days=rng.randrange(600))
            death = first + timedelta(days=int(rng.expovariate(1 / 500)))
            day = first
            while day <= END and day <= death:
                amount = f"{rng.uniform(5, 300):.2f}"
                w.writerow([cid, day.strftime("%d/%m/%Y %H:%M"), amount, f"Shopper {c}"])
                stopped[cid] = day
                day += timedelta(days=max(1, int(rng.expovariate(rate))))
            if c % 50 == 0:
                w.writerow(["", day.strftime("%d/%m/%Y %H:%M"), "9.99", ""])
        w.writerow(["C1", "02/01/2023 10:00", "-12.50", "Shopper 1"])  # a return
    return stopped


def test_backtest_and_ranking_on_a_purchase_log(tmp_path: Path, config_file: Path) -> None:
    stopped = _log(tmp_path / "log.csv")
    result = CliRunner().invoke(cli, ["rules", "disappearing", "--input-csv", str(tmp_path / "log.csv"),
                                      "--date-format", "%d/%m/%Y %H:%M", "--format", "json", "--top", "40"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["as_of"] == max(stopped.values()).isoformat()  # the log's last day, not today
    assert doc["log"]["skipped_without_customer"] == 12
    auc = doc["backtest"]["mean_auc"][doc["scorer"]]
    assert auc > 0.8, doc["backtest"]
    assert doc["models"]["pareto_nbd"]["r"] > 0 and doc["models"]["gamma_gamma"]["p"] > 0
    assert doc["summary"].startswith("Ranked by ") and f"AUC {auc:.3f} on " in doc["summary"]
    # Those listed first really had stopped: most bought nothing in the last 60 days of the log.
    as_of = date.fromisoformat(doc["as_of"])
    top = [f["customer_id"] for f in doc["findings"]]
    assert len(top) == 40
    gone = sum((as_of - stopped[cid]).days > 60 for cid in top)
    assert gone >= 30, gone
    assert doc["findings"][0]["display_name"].startswith("Shopper ")


def test_as_of_replays_the_log(tmp_path: Path, config_file: Path) -> None:
    _log(tmp_path / "log.csv")
    result = CliRunner().invoke(cli, ["rules", "disappearing", "--input-csv", str(tmp_path / "log.csv"),
                                      "--date-format", "%d/%m/%Y %H:%M", "--as-of", "2024-12-31",
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["as_of"] == "2024-12-31"
    assert doc["log"]["after_as_of"] > 0
    assert all(f["facts"]["last_purchase"] <= "2024-12-31" for f in doc["findings"])


def test_unreadable_date_names_the_line_and_the_fix(tmp_path: Path, config_file: Path) -> None:
    _log(tmp_path / "log.csv")
    result = CliRunner().invoke(cli, ["rules", "disappearing", "--input-csv", str(tmp_path / "log.csv")])
    assert result.exit_code == 2
    assert "line 2" in result.output and "--date-format" in result.output


def test_missing_customer_column_asks_for_a_mapping(tmp_path: Path, config_file: Path) -> None:
    (tmp_path / "log.csv").write_text("Who,When\nann,2025-01-02\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli, ["rules", "disappearing", "--input-csv", str(tmp_path / "log.csv")])
    assert result.exit_code == 2
    assert "customer_id" in result.output and "--columns" in result.output
    args = ["--columns", "customer_id=Who", "--columns", "date=When", "--format", "json"]
    mapped = runner.invoke(cli, ["rules", "disappearing", "--input-csv", str(tmp_path / "log.csv"), *args])
    assert mapped.exit_code == 0, mapped.output
    assert json.loads(mapped.output)["log"]["customers"] == 1


def test_log_options_without_a_log_are_refused(tmp_path: Path, config_file: Path) -> None:
    result = CliRunner().invoke(cli, ["rules", "disappearing", "--date-format", "%Y", "--cache-url",
                                      f"sqlite:///{tmp_path / 'c.sqlite3'}"])
    assert result.exit_code == 2
    assert "--input-csv" in result.output


def test_a_headerless_space_separated_log_like_cdnow(tmp_path: Path, config_file: Path) -> None:
    """CDNOW's transaction file: 'customer date(YYYYMMDD) CDs dollars', runs of spaces, no header."""
    _log(tmp_path / "log.csv")
    lines = []
    with (tmp_path / "log.csv").open(newline="", encoding="utf-8") as fh:
        for row in list(csv.reader(fh))[1:]:
            if row[0]:
                day = date(int(row[1][6:10]), int(row[1][3:5]), int(row[1][:2]))
                lines.append(f"{row[0][1:]:>5} {day:%Y%m%d}  1 {row[2]:>7}")
    (tmp_path / "cdnow.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    runner = CliRunner()
    refused = runner.invoke(cli, ["rules", "disappearing", "--input-csv", str(tmp_path / "cdnow.txt")])
    assert refused.exit_code == 2
    assert "no header row" in refused.output and "2='" in refused.output and "customer_id=1" in refused.output
    mapped = runner.invoke(cli, ["rules", "disappearing", "--input-csv", str(tmp_path / "cdnow.txt"),
                                 "--columns", "customer_id=1", "--columns", "date=2", "--columns", "amount=4",
                                 "--format", "json"])
    assert mapped.exit_code == 0, mapped.output
    doc = json.loads(mapped.output)
    same = ["--input-csv", str(tmp_path / "log.csv"), "--date-format", "%d/%m/%Y %H:%M", "--format", "json"]
    from_csv = json.loads(runner.invoke(cli, ["rules", "disappearing", *same]).output)
    # The same purchases read from either file give the same backtest.
    assert doc["log"]["customers"] == from_csv["log"]["customers"]
    assert doc["backtest"] == from_csv["backtest"]
    bad = runner.invoke(cli, ["rules", "disappearing", "--input-csv", str(tmp_path / "cdnow.txt"),
                              "--columns", "customer_id=1", "--columns", "date=9"])
    assert bad.exit_code == 2 and "numbers 1 to 4" in bad.output


def test_a_date_that_is_not_on_the_calendar_names_the_row(tmp_path: Path, config_file: Path) -> None:
    (tmp_path / "log.csv").write_text("customer,date\na,2024-01-02\nb,2024-02-30\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["rules", "disappearing", "--input-csv", str(tmp_path / "log.csv")])
    assert result.exit_code == 2
    assert "line 3" in result.output and "not one on the calendar" in result.output


def _rewrite_future(src: Path, dst: Path, as_of: date, seed: int) -> int:
    """The same log up to ``as_of``, and a different future after it: other customers buying on
    other days, and some who had stopped coming back. Returns how many future rows it wrote."""
    rng = random.Random(seed)
    with src.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    kept = [r for r in body if datetime.strptime(r[1], "%d/%m/%Y %H:%M").date() <= as_of]
    ids = sorted({r[0] for r in kept if r[0]})
    future = []
    for _ in range(len(body) - len(kept) + 300):
        day = as_of + timedelta(days=rng.randrange(1, 200))
        amount = f"{rng.uniform(5, 900):.2f}"
        future.append([rng.choice(ids), day.strftime("%d/%m/%Y %H:%M"), amount, "Someone"])
    with dst.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header, *kept, *future])
    return len(future)


def test_nothing_after_as_of_changes_the_ranking(tmp_path: Path, config_file: Path) -> None:
    """A leak check: the same past with two different futures must give the same list, backtest,
    models and values; only the count of rows after --as-of may differ."""
    _log(tmp_path / "log.csv", customers=500, seed=11)
    as_of = date(2025, 6, 30)
    _rewrite_future(tmp_path / "log.csv", tmp_path / "other.csv", as_of, seed=1)
    docs = []
    for name in ("log.csv", "other.csv"):
        result = CliRunner().invoke(cli, ["rules", "disappearing", "--input-csv", str(tmp_path / name),
                                          "--date-format", "%d/%m/%Y %H:%M", "--as-of", as_of.isoformat(),
                                          "--format", "json", "--top", "500", "--rank-by", "value"])
        assert result.exit_code == 0, result.output
        docs.append(json.loads(result.output))
    a, b = docs
    assert a["log"]["after_as_of"] != b["log"]["after_as_of"]
    for doc in docs:
        doc.pop("log")
        doc.pop("source")
    assert a == b
    assert a["scorer"] in a["backtest"]["mean_auc"] and len(a["findings"]) > 100


def test_rank_by_value_lists_the_money_at_stake_first(tmp_path: Path, config_file: Path) -> None:
    _log(tmp_path / "log.csv")
    args = ["rules", "disappearing", "--input-csv", str(tmp_path / "log.csv"),
            "--date-format", "%d/%m/%Y %H:%M", "--format", "json", "--top", "30"]
    by_value = json.loads(CliRunner().invoke(cli, [*args, "--rank-by", "value"]).output)
    at_risk = [float(f["facts"]["value_at_risk"]) for f in by_value["findings"]]
    assert at_risk == sorted(at_risk, reverse=True) and at_risk[0] > 0
    assert by_value["rank_by"] == "value" and "value at risk" in by_value["summary"]
    assert float(by_value["value_at_risk"]) >= sum(at_risk)  # the total covers everyone eligible
    text = CliRunner().invoke(cli, [*args[:-4], "--rank-by", "value", "--top", "3"]).output
    lines = text.splitlines()
    assert lines[0].startswith("Listed by value at risk, the chance of loss from ")
    assert all(" a year at risk" in line for line in lines[2:5])


def test_quickbooks_names_and_every_column_left_out(tmp_path: Path, config_file: Path) -> None:
    # A QuickBooks Sales by Customer Detail export: Date, Customer, Amount are read; the rest is named.
    rows = ["Date,Transaction Type,Num,Customer,Memo/Description,Amount,Balance"]
    for c in range(40):
        for k in range(6):
            rows.append(f"2025-{1 + k * 2:02d}-{1 + c % 27:02d},Invoice,{c * 10 + k},Shop {c},,{10 + c}.50,0")
    (tmp_path / "sales.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["rules", "disappearing", "--input-csv", str(tmp_path / "sales.csv"),
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["log"]["customers"] == 40 and doc["log"]["rows"] == 240
    assert doc["log"]["ignored_columns"] == ["Transaction Type", "Num", "Memo/Description", "Balance"]
    assert "note: sales.csv: column 'Num' (not a purchase field) left out" in result.stderr
    api = tmp_path / "api.csv"
    lines = [f"{c},Shop {c},2025-0{1 + k}-1{c % 9},12.00" for c in range(30) for k in range(5)]
    api.write_text("CustomerRef.value,CustomerRef.name,TxnDate,TotalAmt\n" + "\n".join(lines) + "\n",
                   encoding="utf-8")
    named = json.loads(CliRunner().invoke(cli, ["rules", "disappearing", "--input-csv", str(api),
                                                "--format", "json"]).stdout)
    assert named["log"]["customers"] == 30 and named["log"]["ignored_columns"] == []
    assert any(f["display_name"].startswith("Shop ") for f in named["findings"])


def test_the_spend_model_on_a_log_is_the_published_cdnow_fit(tmp_path: Path, config_file: Path) -> None:
    """Fader, Hardie & Lee (2005) fit p 6.25, q 3.74, v 15.44 on the CDNOW sample's repeat purchases
    (weeks 1-39): a log holding those purchases, after a first purchase of a different size each,
    gives the same fit through the command line (the first purchase is left out)."""
    rows = [("customer", "date", "amount")]
    start = date(1997, 1, 1)
    with (Path(__file__).parent / "data" / "cdnow_summary_spend.csv").open(newline="") as fh:
        for r in csv.DictReader(fh):
            first = start + timedelta(days=int(r["ID"]) % 80)
            rows.append((r["ID"], first.isoformat(), "999.00"))
            rows += [(r["ID"], (first + timedelta(days=k)).isoformat(), r["zbar"])
                     for k in range(1, int(r["x"]) + 1)]
    with (tmp_path / "cdnow.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    out = CliRunner().invoke(cli, ["rules", "disappearing", "--input-csv", str(tmp_path / "cdnow.csv"),
                                   "--as-of", "1997-09-30", "--format", "json", "--top", "1"])
    assert out.exit_code == 0, out.output
    gg = json.loads(out.output)["models"]["gamma_gamma"]
    assert gg["customers"] == 946
    assert (round(gg["p"], 2), round(gg["q"], 2)) == (6.25, 3.74)
    assert gg["v"] == pytest.approx(15.44, abs=0.01)  # 15.448: the summary's averages are to the cent
