"""A batch PDF on several processes: chunks follow the HTML's size, pages keep the batch's order."""

from __future__ import annotations

from pathlib import Path

import pytest
from markupsafe import Markup

from qbsync.documents.company import Company
from qbsync.documents.compose import Article, Composer, PdfMaker, chunked
from tests.documents.conftest import pdf_pages, pdf_text


def articles(composer: Composer, sizes: list[int]) -> list[Article]:
    """One article per size: its name as a heading, then ``size`` lines of a table."""
    style = composer.style(None)
    out = []
    for i, size in enumerate(sizes):
        rows = "".join(f"<tr><td>{i}-{n}</td></tr>" for n in range(size))
        html = Markup(f'<article class="doc"><h1>Customer {i:03d}</h1><table>{rows}</table></article>')
        out.append(Article(str(i), f"Customer {i:03d}", html, style))
    return out


def test_chunks_hold_equal_shares_of_html_and_a_long_document_alone() -> None:
    composer = Composer(Company("r", "Co"))
    batch = articles(composer, [1] * 30 + [400] + [1] * 30)
    chunks = chunked(batch, 8, 100)
    assert [a for chunk in chunks for a in chunk] == batch  # consecutive runs, in the batch's order
    assert [len(c) for c in chunks if any(a.customer_id == "30" for a in c)] == [1]
    target = sum(len(a.html) for a in batch) / 8
    assert all(sum(len(a.html) for a in c) <= target for c in chunks if len(c) > 1)
    assert len(chunked(batch, 1, 100)) == 1
    assert max(len(c) for c in chunked(articles(composer, [1] * 250), 2, 100)) == 100


def test_the_largest_chunks_go_first_and_the_pages_keep_the_batch_order(
        tmp_path: Path, system_tools: dict[str, str]) -> None:
    pytest.importorskip("weasyprint")
    composer = Composer(Company("r", "Co"))
    sizes = [1, 2, 1, 150, 1, 1, 90, 1]  # the long ones in the middle are laid out first
    out = tmp_path / "batch.pdf"
    out.write_bytes(PdfMaker().pdfs(composer, articles(composer, sizes), title="T", processes=2))
    text = pdf_text(out, layout=False)
    heads = [line for line in text.splitlines() if line.startswith("Customer ")]
    assert heads == [f"Customer {i:03d}" for i in range(len(sizes))]
    assert pdf_pages(out) > len(sizes)  # the long ones run over several pages


def test_an_empty_cell_joins_the_neighbour_that_keeps_its_place() -> None:
    from datetime import date
    from decimal import Decimal

    from qbsync.documents.statements import StatementView

    cols = [("txn_date", "Date", "date"), ("kind", "Type", "type"), ("number", "No.", "text"),
            ("due_date", "Due date", "date"), ("charge", "Amount", "money"),
            ("received", "Payment/credit", "money"), ("balance", "Balance", "money")]
    st = StatementView("1", "balance-forward", "Balance forward statement", date(2025, 6, 30), None, None,
                       cols, [], Decimal("0"), {}, [])
    day, money = date(2025, 6, 3), Decimal("12.50")
    invoice = {"txn_date": day, "kind": "Invoice", "number": "7", "due_date": day, "charge": money,
               "received": None, "balance": money}
    payment = {**invoice, "kind": "Payment", "due_date": None, "charge": None, "received": money}
    # the amount stays in its column: the empty Payment/credit goes to the balance after it
    assert st.cells(invoice) == [("txn_date", "date", 1), ("kind", "type", 1), ("number", "text", 1),
                                 ("due_date", "date", 1), ("charge", "money", 1), ("balance", "money", 2)]
    # the number keeps its left edge, the payment its right edge
    assert st.cells(payment) == [("txn_date", "date", 1), ("kind", "type", 1), ("number", "text", 2),
                                 ("received", "money", 2), ("balance", "money", 1)]
    nothing = dict.fromkeys(invoice)
    assert st.cells(nothing) == [("txn_date", "date", 4), ("balance", "money", 3)]
    for line in (invoice, payment, nothing):
        assert sum(span for _, _, span in st.cells(line)) == len(cols)


def test_the_lean_style_sheet_draws_the_same_pages_and_keeps_footnotes(
        tmp_path: Path, system_tools: dict[str, str]) -> None:
    """The documents are laid out without WeasyPrint's six universal pseudo-element rules (a quarter
    of a statement's layout time): every page must come out as WeasyPrint's own style sheet draws it,
    and a template that uses footnotes or list markers still gets them."""
    pytest.importorskip("weasyprint")
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration

    from qbsync.documents import compose
    from qbsync.documents.statements import StatementView
    from tests.documents.conftest import pdf_png

    assert compose._lean_html() is not HTML  # the lean sheet is in use with this WeasyPrint
    composer = Composer(Company("r", "Padaria Estrela", address=("12 Harbor Way", "Fall River MA")))
    from datetime import date
    from decimal import Decimal

    from qbsync.documents.compose import Recipient
    from qbsync.documents.statements import Activity

    day = date(2025, 6, 3)
    cols = [("txn_date", "Date", "date"), ("activity", "Description", "activity"),
            ("amount", "Amount", "money"), ("balance", "Balance", "money")]  # as statements.view lays out
    lines = [{"txn_date": day,
              "activity": Activity("Invoice" if n % 3 else "Payment", str(n) if n % 5 else None, None,
                                   day if n % 3 else None),
              "amount": Decimal("12.50") if n % 3 else Decimal("-5"), "balance": Decimal(n)}
             for n in range(70)]
    st = StatementView("1", "balance-forward", "Balance forward statement", date(2025, 6, 30), day,
                       Decimal("3.00"), cols, lines, Decimal("70.00"), {},
                       [("Current", Decimal("70.00")), ("1-30", Decimal("0"))])
    who = Recipient("1", "Ana García", ("Rua 1", "Lisboa"), None, "pt")
    statement = composer.article("statement.html", who, st=st)
    listed = Article("2", "B", Markup('<article class="doc"><ul><li>one</li><li>two</li></ul>'
                                      '<ol><li>first</li></ol></article>'), composer.style(None))
    page = composer.page([statement, listed], title="T", pdf=True)
    fonts = FontConfiguration()
    ours, theirs = tmp_path / "ours.pdf", tmp_path / "theirs.pdf"
    ours.write_bytes(compose.write_pdf(page, fonts))
    theirs.write_bytes(HTML(string=page, base_url=str(compose.FONTS)).write_pdf(font_config=fonts))
    assert pdf_pages(ours) == pdf_pages(theirs) >= 3
    assert pdf_text(ours) == pdf_text(theirs)
    for n in range(1, pdf_pages(ours) + 1):
        assert (pdf_png(ours, tmp_path / f"o{n}", page=n).read_bytes()
                == pdf_png(theirs, tmp_path / f"t{n}", page=n).read_bytes()), f"page {n} differs"
    assert "• one" in pdf_text(ours) and "1. first" in pdf_text(ours)  # list markers drawn

    # footnotes need the full sheet's ::footnote-call and ::footnote-marker: chosen by the page
    noted = ('<html><body><p>Due in 30 days<span style="float: footnote">Late fees apply.</span>'
             '</p></body></html>')
    out = tmp_path / "noted.pdf"
    out.write_bytes(compose.write_pdf(noted, fonts))
    text = pdf_text(out, layout=False)
    assert "1. Late fees apply." in text and "days1" in text.replace(" ", ""), text
