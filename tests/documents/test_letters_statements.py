"""Letters and statements as a customer receives them: PDFs read back as text and pictures, in five
languages, Chinese drawn with real glyphs, the figures those of the reports, every letter recorded."""

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
from tests.documents.conftest import pdf_fonts, pdf_pages, pdf_png, pdf_text

pytest.importorskip("weasyprint")
ASOF = AS_OF.isoformat()


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("docs")
    url = f"sqlite:///{tmp / 'cache.sqlite3'}"
    build(url).engine.dispose()
    for cid, lang in (("2", "fr"), ("7", "es"), ("8", "pt")):
        run("customer", "language", cid, lang, "--cache-url", url)
    yield url


def test_letters_in_five_languages_as_pdf(company: str, tmp_path: Path, system_tools: dict[str, str]) -> None:
    out = tmp_path / "letters.pdf"
    said = run("documents", "letters", "-o", str(out), "--as-of", ASOF, "--cache-url", company)
    plan = json.loads(run("campaign", "dunning", "--format", "json", "--as-of", ASOF, "--cache-url", company))
    due = {r["customer_id"]: r for r in plan["rows"]}
    assert pdf_pages(out) == len(due)  # one page each
    text = pdf_text(out)
    assert "Derniers" not in text and "Factures en retard : premier avis" in text  # fr, customer 2
    assert "逾期发票：第一次通知" in text and "尊敬的王小明：" in text  # zh, customer 3
    assert "Facturas vencidas: primer aviso" in text and "Estimado/a Ana García:" in text  # es
    assert "Faturas em atraso: primeiro aviso" in text and "Prezado(a) João Simões," in text  # pt
    assert "Overdue invoices: first notice" in text and "Dear <script>" in text  # English, as text
    for cid in due:
        total = sum(float(r["balance"]) for r in plan["rows"] if r["customer_id"] == cid)
        assert f"${total:,.2f}" in text, cid  # the company's currency format, whatever the language
    assert "batch " in said and "recorded" in said
    fonts = pdf_fonts(out)
    assert re.search(r"\+Qbsync-CJK-Sans\s+CID Type 0C.*Identity-H\s+yes\s+yes", fonts), fonts


def test_chinese_is_drawn_not_boxed(company: str, tmp_path: Path, system_tools: dict[str, str]) -> None:
    out = tmp_path / "zh.pdf"
    run("documents", "letters", "--dir", str(tmp_path), "--letter", "first", "--format", "pdf",
        "--as-of", ASOF, "--cache-url", company)
    (zh,) = tmp_path.glob("first-3-*.pdf")
    zh.rename(out)
    assert "逾期发票" in pdf_text(out)
    png = pdf_png(out, tmp_path / "zh", dpi=100)
    from PIL import Image

    with Image.open(png) as im:
        gray = im.convert("L")
        box = gray.crop((0, int(gray.height * 0.25), gray.width, int(gray.height * 0.45)))
        dark = sum(box.histogram()[:128])
    # a line of drawn hanzi inks far more than the outlines of empty boxes, and far less than solid blocks
    assert dark > 1500, dark
    # and the font the PDF carries draws every character it was asked for: no .notdef glyph (gid 0)
    from fontTools.ttLib import TTFont

    from qbsync.documents.compose import CJK_FONT

    cmap = TTFont(str(CJK_FONT), lazy=True).getBestCmap()
    assert all(ord(c) in cmap for c in "逾期发票第一次通知尊敬的王小明")


def test_a_character_no_font_has_stops_the_pdf(company: str, tmp_path: Path) -> None:
    run("customer", "note", "3", "x", "--cache-url", company)
    from qbsync.documents.compose import check_fonts, uncovered

    assert uncovered("王小明 Fall River") == []
    assert uncovered("\ua000") == ["\ua000"]  # a Yi syllable: no font here has it
    with pytest.raises(Exception, match=r"no font can draw 'ꀀ' \(U\+A000\)"):
        check_fonts("<p>\ua000</p>", "letter to 3")


def test_one_file_per_customer_then_the_next_stage(company: str, tmp_path: Path,
                                                   system_tools: dict[str, str]) -> None:
    first = tmp_path / "first"
    said = run("documents", "letters", "--dir", str(first), "--letter", "first", "--as-of", ASOF,
               "--cache-url", company)
    files = sorted(first.glob("*.pdf"))
    assert files and all(pdf_pages(f) == 1 for f in files)
    batch = said.split("batch ")[1].split()[0]
    run("sent", batch, "--on", ASOF, "--cache-url", company)
    later = tmp_path / "second"
    run("documents", "letters", "--dir", str(later), "--as-of", "2025-07-20", "--cache-url", company)
    seconds = sorted(p.name.split("-")[1] for p in later.glob("second-*.pdf"))
    assert seconds == sorted(p.name.split("-")[1] for p in files)
    assert "Factures en retard : deuxième avis" in pdf_text(next(later.glob("second-2-*.pdf")))
    shown = json.loads(run("customer", "show", "2", "--format", "json", "--no-rules", "--cache-url", company))
    assert [c["stage"] for c in shown["contacts"]] == ["first"]


def test_statements_carry_the_statement_reports_figures(company: str, tmp_path: Path,
                                                       system_tools: dict[str, str]) -> None:
    out = tmp_path / "statements.pdf"
    said = run("documents", "statements", "--all", "-o", str(out), "--as-of", ASOF, "--cache-url", company)
    batch = json.loads(run("report", "statement", "--all", "--format", "json", "--as-of", ASOF,
                           "--cache-url", company))
    ids = sorted({r["statement_customer_id"] for r in batch["rows"]})
    assert f"statements: {len(ids)}" in said
    assert pdf_pages(out) >= len(ids)
    text = pdf_text(out)
    for cid in ids:
        st = json.loads(run("report", "statement", cid, "--format", "json", "--as-of", ASOF,
                            "--cache-url", company))
        assert f"${float(st['meta']['amount_due']):,.2f}" in text, cid
    assert "Relevé avec solde reporté" in text and "结余结转对账单" in text  # customer 2 French, 3 Chinese
    for kind, title in (("open-item", "Open item statement"), ("transaction", "Transaction statement")):
        one = tmp_path / f"{kind}.pdf"
        run("documents", "statements", "2", "--kind", kind, "--language", "en", "-o", str(one),
            "--as-of", ASOF, "--cache-url", company)
        assert title in pdf_text(one)


def test_statement_lines_read_as_quickbooks_prints_them(company: str, tmp_path: Path,
                                                       system_tools: dict[str, str]) -> None:
    """Four columns (Date, Description, Amount, Balance), the description "Invoice #A-120: Due Mar 2,
    2025", payments and credits as negative amounts: each line of `report statement` on one line of
    the PDF, with its running balance."""
    from datetime import date
    from decimal import Decimal

    out = tmp_path / "bf.pdf"
    run("documents", "statements", "2", "--from", "2025-01-01", "--language", "en", "-o", str(out),
        "--as-of", ASOF, "--cache-url", company)
    report = json.loads(run("report", "statement", "2", "--from", "2025-01-01", "--format", "json",
                            "--as-of", ASOF, "--cache-url", company))
    text = pdf_text(out)
    assert re.search(r"Date\s+Description\s+Amount\s+Balance\n", text), text

    def money(v: Decimal) -> str:
        return f"{'-' if v < 0 else ''}${abs(v):,.2f}"

    def day(iso: str) -> str:
        d = date.fromisoformat(iso)
        return f"{d:%b} {d.day}, {d.year}"

    rows = report["rows"][1:]  # after the balance forward
    assert len(rows) >= 3 and any(r["received"] not in (None, "0.00") for r in rows)
    for r in rows:
        amount = Decimal(r["charge"] or "0") - Decimal(r["received"] or "0")
        due = f": Due {day(r['due_date'])}" if r["due_date"] else ""
        number = f" #{r['number']}" if r["number"] else ""  # never the internal Id
        line = (rf"{day(r['txn_date'])}\s+{re.escape(r['kind'] + number + due)}"
                rf"\s+{re.escape(money(amount))}\s+{re.escape(money(Decimal(r['balance'])))}\n")
        assert re.search(line, text), (line, text)
    unnumbered = [r for r in rows if not r["number"]]
    assert unnumbered and all(f"#{r['txn_id']}" not in text for r in unnumbered)


def test_templates_copied_before_the_description_still_read(company: str, tmp_path: Path,
                                                            system_tools: dict[str, str]) -> None:
    """A user's folder copied before statements had a description: its statement.html prints the
    description as plain words (not a Python object), and its catalogue, which lacks the new
    sentences, falls back to the built-in one for them."""
    mine = tmp_path / "mine"
    run("documents", "templates", "--copy", str(mine))
    before = Path(__file__).with_name("statement-before-description.html")
    (mine / "statement.html").write_text(before.read_text(encoding="utf-8"), encoding="utf-8")
    po = mine / "locale" / "pt" / "LC_MESSAGES" / "qbsync.po"
    text = po.read_text(encoding="utf-8")
    for msgid in ("Description", "Due %(due)s"):
        text = re.sub(rf'\nmsgid "{re.escape(msgid)}"\nmsgstr "[^"]*"\n', "\n", text)
    assert "Descrição" not in text
    po.write_text(text, encoding="utf-8")
    old, new = tmp_path / "old.pdf", tmp_path / "new.pdf"
    run("documents", "statements", "2", "--from", "2025-01-01", "--language", "en", "--templates", str(mine),
        "-o", str(old), "--as-of", ASOF, "--cache-url", company)
    printed = pdf_text(old)
    assert "Activity(" not in printed and "Invoice #A-120: Due 2025-03-02" in printed
    (mine / "statement.html").unlink()  # the built-in statement with the user's Portuguese catalogue
    run("documents", "statements", "8", "--templates", str(mine), "-o", str(new), "--as-of", ASOF,
        "--cache-url", company)
    assert re.search(r"Data\s+Descrição\s+Valor", pdf_text(new)), pdf_text(new)


def test_html_letters_open_offline_in_the_browser(company: str, tmp_path: Path, browser: Any) -> None:
    out = tmp_path / "letters.html"
    day = "2025-07-25"  # letters are due that day whether or not an earlier test sent some
    run("documents", "letters", "--format", "html", "-o", str(out), "--as-of", day, "--cache-url", company)
    html = out.read_text(encoding="utf-8")
    assert "@font-face" not in html  # an emailed page uses the reader's fonts
    page = browser.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(out.as_uri())
    letters = page.evaluate("() => Array.from(document.querySelectorAll('article.letter')).map(a => "
                            "[a.dataset.customer, a.dataset.stage, "
                            "a.querySelector('[data-total]').dataset.total])")
    page.close()
    plan = json.loads(run("campaign", "dunning", "--format", "json", "--as-of", day, "--cache-url", company))
    totals: dict[str, float] = {}
    for r in plan["rows"]:
        totals[r["customer_id"]] = totals.get(r["customer_id"], 0.0) + float(r["balance"])
    assert {cid: float(total) for cid, _, total in letters} == pytest.approx(totals)
    assert requests == [out.as_uri()] and errors == []


def test_own_templates_win_and_bad_options_are_clear(company: str, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    assert "copied" in run("documents", "templates", "--copy", str(mine))
    for stage in ("first", "second"):  # which one is due depends on what earlier tests marked sent
        (mine / f"letter-{stage}.html").write_text(
            '{% extends "letter.html" %}{% block subject %}Please pay, {{ customer.name }}{% endblock %}'
            "{% block body %}<p>Our own words.</p>{% endblock %}", encoding="utf-8")
    out = tmp_path / "own.html"
    run("documents", "letters", "--format", "html", "-o", str(out), "--templates", str(mine),
        "--letter", "first", "--letter", "second", "--language", "en", "--as-of", "2025-07-25",
        "--cache-url", company)
    assert "Our own words." in out.read_text(encoding="utf-8")
    assert "either -o FILE" in run("documents", "letters", "--as-of", ASOF, "--cache-url", company, code=2)
    said = run("documents", "statements", "--cache-url", company, code=2)
    assert "name the customers or pass --all" in said
    assert "already has" in run("documents", "templates", "--copy", str(mine), code=2)


def test_every_page_carries_the_company_as_its_company_info_has_it(tmp_path: Path,
                                                                    system_tools: dict[str, str]) -> None:
    url = f"sqlite:///{tmp_path / 'cache.sqlite3'}"  # its own: other tests mark letters sent
    build(url).engine.dispose()
    out = tmp_path / "letters.pdf"
    run("documents", "letters", "-o", str(out), "--as-of", ASOF, "--cache-url", url)
    pages = [p for p in pdf_text(out).split("\f") if p.strip()]
    assert len(pages) == pdf_pages(out) > 1
    for page in pages:  # the letterhead: name, address, phone and email from CompanyInfo
        for words in ("Padaria Estrela Lda", "12 Harbor Way", "Fall River MA 02720", "(508) 555-0142",
                      "contas@estrela.example"):
            assert words in page, (words, page[:300])


def test_a_brazilian_company_writes_from_its_communication_address_in_its_locale(tmp_path: Path) -> None:
    """The customer communication address wins over the company and legal ones; a company in Brazil
    writes Portuguese to customers without a language of their own, with its money and dates."""
    import sqlalchemy as sa

    from qbsync.cache.models import Realm

    url = f"sqlite:///{tmp_path / 'br.sqlite3'}"
    c = build(url)
    info = {"CompanyName": "Padaria Estrela Ltda", "Country": "BR", "SupportedLanguages": "pt",
            "CustomerCommunicationAddr": {"Line1": "Rua das Flores, 120", "City": "Curitiba",
                                          "CountrySubDivisionCode": "PR", "PostalCode": "80010-000"},
            "CompanyAddr": {"Line1": "Avenida Central, 9", "City": "Curitiba"},
            "LegalAddr": {"Line1": "Caixa Postal 77", "City": "Curitiba"}}
    with c.engine.begin() as conn:
        conn.execute(sa.update(Realm).where(Realm.realm_id == c.realm_id).values(
            company_name=info["CompanyName"], country="BR", currency="BRL", raw_company_info=info))
    c.engine.dispose()
    out = tmp_path / "letters.html"
    run("documents", "letters", "--format", "html", "-o", str(out), "--letter", "first", "--as-of", ASOF,
        "--cache-url", url)
    page = out.read_text(encoding="utf-8")
    assert "Rua das Flores, 120" in page and "Curitiba PR 80010-000" in page
    assert "Avenida Central" not in page and "Caixa Postal" not in page
    assert "Faturas em atraso: primeiro aviso" in page  # customers without a language: the company's
    assert re.search(r"R\$\s\d{1,3}(\.\d{3})*,\d{2}", page)  # R$ 1.234,50
    assert "30 de junho de 2025" in page and "30/06/2025" not in page.split("<table")[0]  # pt_BR's date
