"""Putting documents together: one article per customer in its language, pages around them, HTML or PDF.

Each customer's article (a letter, a statement) is rendered with the translation of its language
(``localise.style``); the articles then go into one page skeleton (``document.html``: paper size,
fonts, the shared style sheet). A batch is one file (every article starts a new page), or one file
per customer. PDF is WeasyPrint's rendering of the same HTML.

Fonts: PDFs declare the shipped Qbsync CJK Sans (``fonts/``) when the text holds CJK characters,
after the system's Latin fonts. Before a PDF is made, every character of it must be covered by
that font or one the system has (fontconfig); otherwise the render stops naming the character, so
a PDF never shows empty boxes.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import subprocess
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from markupsafe import Markup

from qbsync.cache.models import Customer
from qbsync.customers.file import languages
from qbsync.documents import localise
from qbsync.documents.company import Company, address_lines
from qbsync.documents.templating import environment
from qbsync.errors import InputError

FONTS = Path(__file__).resolve().parent / "fonts"
CJK_FONT = FONTS / "QbsyncCJKSans-Regular.otf"
_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")


@dataclass(frozen=True)
class Recipient:
    id: str
    name: str
    address: tuple[str, ...]
    email: str | None
    language: str | None


def recipients(engine: sa.Engine, realm_id: str, ids: Iterable[str]) -> dict[str, Recipient]:
    """Name, billing address, email and language of the customers ``ids``."""
    wanted = list(dict.fromkeys(ids))
    out: dict[str, Recipient] = {}
    with engine.connect() as conn:
        langs = languages(conn, realm_id)
        for start in range(0, len(wanted), 5000):
            rows = conn.execute(sa.select(Customer.id, Customer.display_name, Customer.raw, Customer.email,
                                          Customer.bill_line1, Customer.bill_city, Customer.bill_postal_code)
                                .where(Customer.realm_id == realm_id,
                                       Customer.id.in_(wanted[start:start + 5000])))
            for cid, name, raw, email, line1, city, postal in rows:
                addr = address_lines((raw or {}).get("BillAddr")) or tuple(
                    x for x in (line1, " ".join(p for p in (postal, city) if p)) if x)
                clean = name[: -len(" (deleted)")] if name.endswith(" (deleted)") else name
                out[cid] = Recipient(cid, clean, addr, email, langs.get(cid))
    return out


@dataclass
class Article:
    customer_id: str
    name: str
    html: Markup
    style: localise.Style


@dataclass
class Composer:
    """Renders articles in each customer's language from the user's templates or the built-in ones."""

    company: Company
    template_dir: Path | None = None
    language: str | None = None  # for every customer, over their own
    paper: str | None = None
    warnings: list[str] = field(default_factory=list)

    def style(self, recipient_language: str | None) -> localise.Style:
        return localise.style(self.company, self.language or recipient_language, paper=self.paper)

    @functools.cached_property
    def _envs(self) -> dict[str, Any]:
        return {}

    def env(self, catalogue: str) -> Any:
        if catalogue not in self._envs:
            self._envs[catalogue] = environment(self.template_dir,
                                                localise.translations(catalogue, self.template_dir))
        return self._envs[catalogue]

    def article(self, template: str, recipient: Recipient, **context: Any) -> Article:
        st = self.style(recipient.language)
        if st.fallback:
            note = (f"no built-in translation into {st.language}: English used (copy the templates to "
                    "translate them)")
            if note not in self.warnings:
                self.warnings.append(note)
        html = self.env(st.catalogue).get_template(template).render(
            company=self.company, customer=recipient, style=st, **context)
        return Article(recipient.id, recipient.name, Markup(html), st)

    def page(self, articles: Sequence[Article], *, title: str, pdf: bool) -> str:
        """The HTML page around ``articles`` (the first one's language and paper size)."""
        if not articles:
            raise InputError("nothing to put in the document", hint="check the customers and options")
        first = articles[0].style
        body = "".join(str(a.html) for a in articles)
        cjk = pdf and bool(_CJK.search(body))
        return str(self.env("en").get_template("document.html").render(
            articles=[a.html for a in articles], lang=first.html_lang, title=title, paper=first.paper,
            cjk_font=CJK_FONT.as_uri() if cjk else None))


# --- PDF ------------------------------------------------------------------------------------------------


def _text_of(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", re.sub(r"<style.*?</style>", " ", html, flags=re.S))


@functools.lru_cache(maxsize=1)
def _shipped_cmap() -> frozenset[int]:
    from fontTools.ttLib import TTFont

    return frozenset(TTFont(str(CJK_FONT), lazy=True).getBestCmap())


@functools.lru_cache(maxsize=4096)
def _system_has(codepoint: int) -> bool:
    if not shutil.which("fc-list"):
        return False
    done = subprocess.run(["fc-list", f":charset={codepoint:x}", "family"], capture_output=True, text=True)
    return bool(done.stdout.strip())


def uncovered(text: str) -> list[str]:
    """Characters of ``text`` that neither the shipped CJK font nor any system font can draw."""
    import html as html_mod

    chars = {c for c in html_mod.unescape(text) if ord(c) > 0x24F and not c.isspace()}
    missing = []
    for c in sorted(chars):
        if unicodedata.category(c).startswith("C"):  # controls, format marks: not drawn
            continue
        if ord(c) in _shipped_cmap() or _system_has(ord(c)):
            continue
        missing.append(c)
    return missing


def check_fonts(html: str, where: str) -> None:
    missing = uncovered(_text_of(html))
    if missing:
        shown = ", ".join(f"'{c}' (U+{ord(c):04X})" for c in missing[:5])
        more = " and more" if len(missing) > 5 else ""
        raise InputError(f"{where}: no font can draw {shown}{more}; the PDF would show empty boxes",
                         hint="install a font that has them (Debian: fonts-noto-core, fonts-noto-cjk), or "
                              "write the document as HTML (--format html)")


# What needs the rules the lean style sheet leaves out: footnotes and notes (a user's template may
# float a footnote), and list markers on elements other than <li> and <summary>.
_FULL_UA = re.compile(r"footnote|note-|list-item")


@functools.lru_cache(maxsize=1)
def _lean_html() -> Any:
    """WeasyPrint's ``HTML`` with its own user-agent style sheet minus six universal pseudo-element
    rules (``::marker``, ``::footnote-call``, ``::footnote-marker``, ``::note-call``,
    ``::note-marker``, ``::note-callback``): they match every element, so WeasyPrint computes six
    extra styles per element of the document whether or not it has a marker or a footnote. Without
    them a statement's line lays out ~25 % faster and the PDF is the same. ``::marker`` stays for
    <li> and <summary>, the elements the sheet makes list items. The sheet is WeasyPrint's file,
    edited as text, and goes in through ``_ua_stylesheets``, the method WeasyPrint's own tests
    override for their style sheet; where either is not as expected, plain ``HTML`` is used."""
    from importlib.resources import files

    import weasyprint.css
    from weasyprint import CSS, HTML
    from weasyprint.css.counters import CounterStyle

    try:
        full = (files(weasyprint.css) / "html5_ua.css").read_text("utf-8")
    except OSError:
        return HTML
    lean = full.replace("\n::marker {", "\nli::marker, summary::marker {")
    lean, dropped = re.subn(r"^::(?:footnote|note)-[a-z]+ \{[^}]*\}\n", "", lean, flags=re.M)
    if full.count("\n::marker {") != 1 or dropped != 5 or not hasattr(HTML, "_ua_stylesheets"):
        return HTML
    # Its @counter-style rules are in every document's counters already (``_ua_counter_style``).
    sheet = CSS(string=lean, counter_style=CounterStyle())

    class LeanHTML(HTML):
        def _ua_stylesheets(self, forms: bool = False) -> list[Any]:
            return [sheet] if not forms else list(super()._ua_stylesheets(forms))

    return LeanHTML


def write_pdf(html: str, fonts: Any) -> bytes:
    """WeasyPrint's PDF of ``html`` (fonts and images found beside the shipped fonts)."""
    from weasyprint import HTML

    cls = HTML if _FULL_UA.search(html) else _lean_html()
    data = cls(string=html, base_url=str(FONTS)).write_pdf(font_config=fonts)
    assert data is not None
    return bytes(data)


_WORKER_FONTS: Any = None


def _render_chunk(html: str) -> bytes:
    """A worker process's PDF of one chunk (its own font configuration, made once per process)."""
    global _WORKER_FONTS
    from weasyprint.text.fonts import FontConfiguration

    if _WORKER_FONTS is None:
        _WORKER_FONTS = FontConfiguration()
    return write_pdf(html, _WORKER_FONTS)


def chunked(articles: Sequence[Article], parts: int, most: int) -> list[list[Article]]:
    """``articles`` in runs of consecutive ones holding about ``1 / parts`` of their HTML each and at
    most ``most`` articles (a larger article is a run of its own): the HTML's length is what
    WeasyPrint's time follows."""
    target = sum(len(a.html) for a in articles) / max(parts, 1)
    chunks: list[list[Article]] = []
    run: list[Article] = []
    size = 0
    for a in articles:
        if run and (size + len(a.html) > target or len(a.html) >= target or len(run) >= most):
            chunks.append(run)
            run, size = [], 0
        run.append(a)
        size += len(a.html)
    if run:
        chunks.append(run)
    return chunks


def _largest_first(pages: Sequence[str]) -> list[int]:
    """The pages' positions, longest HTML first (longest processing time first: the last to finish on
    the pool are short ones, so no core lays out a long document alone at the end)."""
    return sorted(range(len(pages)), key=lambda i: -len(pages[i]))


def workers() -> int:
    """Processes for a large batch: the machine's cores, at most four."""
    return max(1, min(4, os.cpu_count() or 1))


class PdfMaker:
    """WeasyPrint with one font configuration for a whole run (fonts are loaded once).

    A large batch is laid out on every core (WeasyPrint is pure Python, so one process uses one
    core) in chunks of consecutive documents, and the chunks' pages joined into one PDF with pypdf.
    Layout time follows the text to lay out, not the number of documents (a one-page statement
    and a 75-page one differ a hundredfold), so a chunk holds about ``1 / (SHARE * processes)`` of
    the batch's HTML, a document larger than that is a chunk of its own, and the largest chunks go
    first: both cores stay busy to the end instead of one finishing a long statement alone.
    """

    SHARE = 8  # chunks per process: enough to even out the cores, few enough that each has a real share
    MOST = 100  # documents in a chunk at most (a chunk's layout is held in memory until it is written)

    def __init__(self) -> None:
        try:
            from weasyprint.text.fonts import FontConfiguration
        except (ModuleNotFoundError, OSError) as exc:  # the extra, or the system's Pango, is missing
            raise InputError(f"PDF needs WeasyPrint and the system's Pango: {exc}",
                             hint="pip install 'qbsync[documents]'; on Debian/Ubuntu also apt-get install "
                                  "libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 (or write "
                                  "--format html)") from exc
        self.fonts = FontConfiguration()
        for name in ("weasyprint", "fontTools"):  # their progress lines are not the user's business
            logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))

    def pdf(self, html: str, *, where: str = "document") -> bytes:
        check_fonts(html, where)
        return write_pdf(html, self.fonts)

    def pdfs(self, composer: Composer, articles: Sequence[Article], *, title: str,
             processes: int | None = None) -> bytes:
        """One PDF of every article, each starting a new page: chunks laid out in parallel, then joined."""
        procs = processes or workers()
        chunks = chunked(articles, procs * self.SHARE, self.MOST)
        pages = [composer.page(chunk, title=title, pdf=True) for chunk in chunks]
        for page, chunk in zip(pages, chunks, strict=True):
            check_fonts(page, f"{title} ({', '.join(a.customer_id for a in chunk[:3])}...)")
        if procs <= 1 or len(pages) <= 1:
            return self.join([self.pdf(page, where=title) for page in pages])
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(min(procs, len(pages))) as pool:
            futures = {i: pool.submit(_render_chunk, pages[i]) for i in _largest_first(pages)}
            return self.join([futures[i].result() for i in range(len(pages))])

    def files(self, composer: Composer, articles: Sequence[Article], paths: Sequence[Path], *, title: str,
              processes: int | None = None) -> None:
        """One PDF per article at ``paths``, laid out on every core."""
        from qbsync.files import write_atomic_bytes

        pages = [composer.page([a], title=f"{title}: {a.name}", pdf=True) for a in articles]
        for page, a in zip(pages, articles, strict=True):
            check_fonts(page, f"{title}: {a.customer_id}")
        procs = min(processes or workers(), len(pages))
        if procs <= 1:
            for page, path in zip(pages, paths, strict=True):
                write_atomic_bytes(path, self.pdf(page, where=title))
            return
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(procs) as pool:
            futures = {pool.submit(_render_chunk, pages[i]): i for i in _largest_first(pages)}
            for done in as_completed(futures):
                write_atomic_bytes(paths[futures[done]], done.result())

    @staticmethod
    def join(parts: Sequence[bytes]) -> bytes:
        """The pages of several PDFs in one (pypdf)."""
        if len(parts) == 1:
            return parts[0]
        import io

        from pypdf import PdfWriter

        writer = PdfWriter()
        for part in parts:
            writer.append(io.BytesIO(part))
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()


def slug(text: str) -> str:
    ascii_only = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "-", ascii_only).strip("-").lower()[:40] or "customer"
