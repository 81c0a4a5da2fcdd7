"""Language and locale of a document: the words in the customer's language, the formats the company's.

- **Words**: the customer's language (``qbsync customer language ID pt``), else ``--language``, else
  the company's. The built-in templates are translated into English, Portuguese, Chinese
  (simplified), French and Spanish (``locale/<lang>/LC_MESSAGES/qbsync.po``); another language is
  written in English and said so.
- **Dates, numbers and money** (Babel, CLDR data): the company's locale, since the amounts are its
  books': a US company writes "$1,234.50" to every customer, a Brazilian one "R$ 1.234,50". Dates
  are written out ("March 3, 2025") when the customer reads the company's language, and otherwise
  as the company's numeric date with the full year ("3/3/2025" in the US, "03/03/2025" in Brazil),
  so no month name in one language sits in a letter written in another. Money is in the company's
  home currency.
- **Paper**: Letter where it is the norm (US, Canada, Mexico, the Philippines, Chile, Colombia),
  A4 elsewhere; ``--paper`` overrides.
"""

from __future__ import annotations

import functools
import io
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from qbsync.documents.company import Company
from qbsync.errors import InputError

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
#: languages the built-in templates are written in (English is the source)
TRANSLATED = ("en", "pt", "zh", "fr", "es")
LETTER_COUNTRIES = frozenset({"US", "CA", "MX", "PH", "CL", "CO", "VE", "GT", "CR", "PR"})


@dataclass(frozen=True)
class Style:
    """How one document is written: the catalogue for the words, the locale for the formats."""

    language: str  # as asked ("pt_BR", "zh", "de")
    catalogue: str  # the built-in translation used ("pt", "zh", "en")
    locale: Any  # babel.Locale of the company: dates, numbers, currency
    currency: str
    paper: str  # "A4" or "Letter"
    same_language: bool = True  # the customer reads the company's language

    @property
    def fallback(self) -> bool:
        """The language asked for has no built-in translation (English words were used)."""
        return self.catalogue == "en" and not self.language.startswith("en")

    @property
    def html_lang(self) -> str:
        return self.language.replace("_", "-") if not self.fallback else "en"

    def date(self, day: date | None, fmt: str = "long") -> str:
        """``day`` in the company's locale: written out in the company's language, else numeric."""
        from babel.dates import format_date, get_date_format

        if day is None:
            return ""
        if self.same_language:
            return format_date(day, format=fmt, locale=self.locale)
        pattern = get_date_format("short", locale=self.locale).pattern
        return format_date(day, format=re.sub(r"(?<!y)yy(?!y)", "y", pattern), locale=self.locale)

    def money(self, amount: Decimal | None) -> str:
        from babel.numbers import format_currency

        return "" if amount is None else format_currency(amount, self.currency, locale=self.locale)

    def number(self, value: Decimal | int | float | None) -> str:
        from babel.numbers import format_decimal

        return "" if value is None else format_decimal(value, locale=self.locale)


def _babel() -> Any:
    try:
        import babel
    except ModuleNotFoundError as exc:  # pragma: no cover - the extra is installed in tests
        from qbsync.documents.templating import needs_extra

        raise needs_extra("documents") from exc
    return babel


def _known(tag: str) -> bool:
    from babel import localedata

    return bool(localedata.exists(tag))


def format_locale(company: Company) -> Any:
    """The company's Babel locale (its language alone when CLDR does not know the pair)."""
    from babel import Locale, UnknownLocaleError

    for tag in (company.locale, company.language, "en_US"):
        if _known(tag):
            try:
                return Locale.parse(tag)
            except (UnknownLocaleError, ValueError):
                continue
    raise InputError(f"unknown locale {company.locale!r}", hint="pass --locale, e.g. en_US, pt_BR, fr_FR")


def style(company: Company, language: str | None, *, paper: str | None = None) -> Style:
    """The style of a document to a customer writing ``language`` (None: the company's)."""
    _babel()
    lang = language or company.language
    base = lang.split("_")[0].lower()
    catalogue = base if base in TRANSLATED else "en"
    size = paper or ("Letter" if (company.country or "") in LETTER_COUNTRIES else "A4")
    return Style(lang, catalogue, format_locale(company), company.currency, size,
                 catalogue == company.language)


@functools.lru_cache(maxsize=16)
def translations(catalogue: str, template_dir: Path | None = None) -> Any:
    """The gettext translations into ``catalogue`` (None for English): the user's copy next to their
    templates (``<templates>/locale/<lang>/LC_MESSAGES/qbsync.po``) when there is one, falling back to
    the built-in catalogue for what it lacks; else the built-in."""
    if catalogue == "en":
        return None
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    def load(po: Path) -> Any:
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=catalogue)
        buf = io.BytesIO()
        write_mo(buf, catalog)
        buf.seek(0)
        return Translations(fp=buf)

    builtin = load(LOCALE_DIR / catalogue / "LC_MESSAGES" / "qbsync.po")
    own = template_dir / "locale" / catalogue / "LC_MESSAGES" / "qbsync.po" if template_dir else None
    if own is None or not own.is_file():
        return builtin
    mine = load(own)
    mine.add_fallback(builtin)  # a copy made before a sentence was added still translates it
    return mine
