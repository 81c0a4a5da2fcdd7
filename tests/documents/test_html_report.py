"""`qbsync report html` checked as a person sees it: in headless chromium, offline, every chart drawn with
the marks its report implies, and every number on the page equal to the report's own JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qbsync.cli import cli
from tests.documents.company import AS_OF, build
from tests.documents.conftest import pdf_pages, pdf_text

pytest.importorskip("jinja2")
ASOF = AS_OF.isoformat()


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def campaign_json(url: str) -> dict[str, Any]:
    return dict(json.loads(run("campaign", "report", "spring", "--format", "json", "--as-of", ASOF,
                               "--cache-url", url)))


def json_of(url: str, *args: str) -> dict[str, Any]:
    return dict(json.loads(run(*args, "--format", "json", "--as-of", ASOF, "--cache-url", url)))


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    tmp = tmp_path_factory.mktemp("html")
    url = f"sqlite:///{tmp / 'cache.sqlite3'}"
    c = build(url)
    run("campaign", "create", "spring", "--kind", "all", "--where", "days_inactive_min=30",
        "--control", "0.3", "--seed", "5", "--as-of", "2025-03-01", "--cache-url", url)
    said = run("campaign", "export", "spring", "--dir", str(tmp / "out"), "--as-of", "2025-03-01",
               "--cache-url", url)
    batch = said.split("batch ")[1].split()[0]
    run("sent", batch, "--on", "2025-03-02", "--cache-url", url)
    c.engine.dispose()
    page = tmp / "report.html"
    run("report", "html", "-o", str(page), "--as-of", ASOF, "--top", "10", "--cache-url", url)
    yield url, page


@pytest.fixture(scope="module")
def seen(made: tuple[str, Path], browser: Any) -> Iterator[dict[str, Any]]:
    """The page opened in chromium: what it asked for, what it logged, what it drew."""
    _, page_path = made
    page = browser.new_page()
    requests: list[str] = []
    console: list[tuple[str, str]] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: console.append((m.type, m.text)))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(page_path.as_uri(), wait_until="load")
    charts = page.evaluate("""() => Array.from(document.querySelectorAll('[data-chart]')).map(e => ({
        name: e.dataset.chart, declared: Number(e.dataset.marks), drawn: e.querySelectorAll('.mark').length,
        values: Array.from(e.querySelectorAll('.mark')).map(m => m.dataset.value),
        width: e.getBoundingClientRect().width, height: e.getBoundingClientRect().height}))""")
    tables = page.evaluate("""() => Object.fromEntries(
        Array.from(document.querySelectorAll('table[data-table]')).map(t => [t.dataset.table, {
          rows: Array.from(t.querySelectorAll('tbody tr')).map(r => Object.fromEntries(
              Array.from(r.querySelectorAll('td[data-key]')).map(d => [d.dataset.key, [d.dataset.value,
                                                                                      d.textContent.trim()]]))),
          totals: Object.fromEntries(Array.from(t.querySelectorAll('tfoot td[data-key]')).map(
              d => [d.dataset.key, [d.dataset.value, d.textContent.trim()]]))}]))""")
    fields = page.evaluate("""() => Object.fromEntries(Array.from(document.querySelectorAll('[data-field]'))
        .map(e => [e.dataset.field, [e.dataset.value || null, e.textContent.trim()]]))""")
    yield {"page": page, "requests": requests, "console": console, "errors": errors, "charts": charts,
           "tables": tables, "fields": fields}
    page.close()


def test_opens_offline_without_errors(seen: dict[str, Any], made: tuple[str, Path]) -> None:
    assert seen["errors"] == [] and [c for c in seen["console"] if c[0] in ("error", "warning")] == []
    assert seen["requests"] == [made[1].as_uri()]  # the file itself and nothing else
    html = made[1].read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # nothing to fetch, even if allowed
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Sons" in html


def test_every_chart_draws_the_marks_its_report_implies(seen: dict[str, Any], made: tuple[str, Path]) -> None:
    url, _ = made
    charts = {c["name"]: c for c in seen["charts"]}
    for c in seen["charts"]:
        assert c["drawn"] == c["declared"] > 0 and c["width"] > 100 and c["height"] > 20, c
    aging = json_of(url, "report", "aging")
    buckets = [col["key"] for col in aging["columns"] if col["kind"] == "money" and col["key"] != "total"]
    assert charts["aging"]["values"] == [aging["totals"][k] for k in buckets]
    best = json_of(url, "report", "best", "--limit", "10")
    assert charts["best"]["values"] == [r["spend"] for r in best["rows"]]
    cross = json_of(url, "report", "cross", "--limit", "10")
    dims = [col["key"] for col in cross["columns"] if col["key"].startswith("d:")]
    assert charts["cross"]["drawn"] == len(cross["rows"]) * len(dims)
    dis = json.loads(run("rules", "disappearing", "--format", "json", "--as-of", ASOF, "--cache-url", url))
    with_model = [f for f in dis["findings"] if f["facts"].get("p_alive") is not None]
    assert charts["disappearing"]["drawn"] == len(with_model) > 0
    assert sorted(charts["disappearing"]["values"]) == sorted(str(f["facts"]["p_alive"]) for f in with_model)
    inactive = json.loads(run("rules", "inactive", "--format", "json", "--as-of", ASOF, "--cache-url", url))
    reactivate = json.loads(run("rules", "reactivate", "--format", "json", "--as-of", ASOF,
                                "--cache-url", url))
    values = dict(zip(["active", "inactive", "deactivate", "collections", "reactivate"],
                      charts["activity"]["values"], strict=True))
    assert values["deactivate"] == str(sum(f["action"] == "deactivate" for f in inactive["findings"]))
    assert values["collections"] == str(sum(f["action"] == "collections" for f in inactive["findings"]))
    assert values["reactivate"] == str(reactivate["count"])
    camp = campaign_json(url)
    assert charts["campaigns"]["values"] == [f"{camp['lift']:.4f}"]
    pairs = [c for c in seen["charts"] if c["name"] == "pair"]
    assert pairs and all(c["drawn"] == c["declared"] for c in pairs)
    lost = json_of(url, "report", "lost", "--by", "quarter")
    assert sorted(charts["lost"]["values"]) == sorted(r["revenue"] for r in lost["rows"])


def test_numbers_on_the_page_are_the_reports_json(seen: dict[str, Any], made: tuple[str, Path]) -> None:
    url, _ = made
    tables = seen["tables"]
    for name, args in (("aging", ["report", "aging"]), ("best", ["report", "best"]),
                       ("cross", ["report", "cross", "--limit", "10"]),
                       ("lost", ["report", "lost", "--by", "quarter"])):
        doc = json_of(url, *args)
        page = tables[name]
        assert {k: v[0] for k, v in page["totals"].items()} == {
            k: "" if v is None else str(v) for k, v in doc["totals"].items()}, name
        for got, want in zip(page["rows"], doc["rows"], strict=False):
            assert {k: v[0] for k, v in got.items()} == {
                k: "" if v is None else str(v) for k, v in want.items()}
        assert len(page["rows"]) == min(10, len(doc["rows"])) if name != "cross" else len(doc["rows"])
    aging = json_of(url, "report", "aging")
    shown = seen["fields"]["ar_total"]
    assert shown[0] == aging["totals"]["total"] and shown[1] == f"{float(aging['totals']['total']):,.2f}"
    camp = campaign_json(url)
    row = tables["campaigns"]["rows"][0]
    assert row["contacted.members"][0] == str(camp["contacted"]["members"])
    assert row["outreach.reached"][0] == str(camp["outreach"]["reached"]) != "0"
    words = seen["fields"]["auc_words"][1]
    assert "times out of 100" in words or "too little history" in words


def test_prints_on_a4_and_letter(seen: dict[str, Any], made: tuple[str, Path], tmp_path: Path) -> None:
    page = seen["page"]
    page.emulate_media(media="print")
    for fmt, width_px in (("A4", 210 / 25.4 * 96), ("Letter", 8.5 * 96)):
        page.set_viewport_size({"width": int(width_px - 2 * 11 / 25.4 * 96), "height": 1000})
        wide = page.evaluate("""() => Array.from(document.querySelectorAll('body *')).filter(
            e => e.getBoundingClientRect().right > window.innerWidth + 1)
            .map(e => e.tagName + '.' + e.className)""")
        assert wide == [], (fmt, wide[:5])
        pdf = tmp_path / f"report-{fmt}.pdf"
        page.pdf(path=str(pdf), format=fmt, print_background=True)
        text = pdf_text(pdf)
        assert "Padaria Estrela Lda" in text and "A/R aging" in text and "Lost customers" in text
        assert 4 <= pdf_pages(pdf) <= 40
    page.emulate_media(media="screen")


def test_runs_on_both_backends(db_url: str, tmp_path: Path) -> None:
    build(db_url).engine.dispose()
    out = tmp_path / "r.html"
    run("report", "html", "-o", str(out), "--as-of", ASOF, "--no-duplicates", "--cache-url", db_url)
    html = out.read_text(encoding="utf-8")
    aging = json_of(db_url, "report", "aging")
    assert f'data-field="ar_total" data-value="{aging["totals"]["total"]}"' in html
    assert "Not run (--no-duplicates)" in html


def test_two_processes_make_the_page_one_process_makes(made: tuple[str, Path]) -> None:
    """The duplicates rule and the campaigns run in a second process on a machine with two cores: the
    page is the one a single process makes, figure for figure."""
    from datetime import UTC, datetime

    from qbsync.cache.schema import open_cache, resolve_realm
    from qbsync.documents import htmlreport
    from qbsync.reports.source import default_period

    url, _ = made
    engine = open_cache(url)
    realm = resolve_realm(engine, None)
    pages = {}
    for n in (1, 2):
        col = htmlreport.collect(engine, realm, htmlreport.Options(
            AS_OF, default_period(AS_OF), top=10, today=AS_OF, processes=n))
        assert col.processes == n and col.duplicates is not None and col.duplicates.clusters
        assert col.campaigns and col.campaigns[0].reached
        col.seconds, col.wall, col.processes = {}, 0.0, 1
        pages[n] = htmlreport.render_page(col, generated=datetime(2025, 6, 30, tzinfo=UTC))
    engine.dispose()
    assert pages[1] == pages[2]
    assert "Padaria Estrela Lda" in pages[2] and 'data-chart="pair"' in pages[2]


def test_an_error_in_the_second_process_is_the_same_error_here() -> None:
    """QbsyncErrors cross back as data (some cannot be pickled as exceptions): class, message, hint and
    exit code as the command line would show them."""
    import pickle

    from qbsync.documents.htmlreport import _raised
    from qbsync.errors import ConfigError

    exc = ConfigError("duplicates.threshold", "must be between 0 and 1", hint="edit the config file")
    sent = pickle.loads(pickle.dumps((type(exc), exc.message, dict(vars(exc)))))
    back = _raised(*sent)
    assert isinstance(back, ConfigError) and back.exit_code == 2 and str(back) == str(exc)
    assert back.setting == "duplicates.threshold"


def test_counts_on_the_page_are_written_as_the_terminal_writes_them() -> None:
    from qbsync.documents.templating import environment

    words = environment(None).from_string("{{ n | count }} of {{ m | count }} customers")
    assert words.render(n=487, m=100000) == "487 of 100,000 customers"


def test_without_process_semaphores_the_page_is_made_in_one_process(made: tuple[str, Path],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Some containers cannot start a process pool (no sem_open): the page is made all the same."""
    import multiprocessing.context

    from qbsync.cache.schema import open_cache, resolve_realm
    from qbsync.documents import htmlreport
    from qbsync.reports.source import default_period

    def refuse(*args: Any, **kw: Any) -> Any:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(multiprocessing.context.SpawnContext, "Pool", refuse)
    url, _ = made
    engine = open_cache(url)
    col = htmlreport.collect(engine, resolve_realm(engine, None), htmlreport.Options(
        AS_OF, default_period(AS_OF), top=10, today=AS_OF, processes=2))
    engine.dispose()
    assert col.processes == 1 and col.duplicates is not None and col.duplicates.clusters and col.campaigns
