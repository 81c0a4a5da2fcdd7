"""Every sentence of the built-in letters and statements is translated into each shipped language: a
sentence added to a template without its translations would reach a French customer in English."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from qbsync.documents import localise, statements
from qbsync.documents.templating import BUILTIN
from qbsync.reports import aging, statement
from qbsync.reports.receivables import KIND_TITLES

pytest.importorskip("babel")


def template_msgids() -> set[str]:
    from jinja2.ext import babel_extract

    found: set[str] = set()
    for template in sorted(BUILTIN.glob("*.html")):
        if template.name == "report.html":  # the HTML report is written in English only
            continue
        with template.open("rb") as fh:
            for _, _, message, _ in babel_extract(fh, ("_", "gettext", "ngettext"), [],
                                                  {"extensions": "jinja2.ext.i18n"}):
                first = message[0] if isinstance(message, tuple) else message
                if first:
                    found.add(first)
    return found


def column_titles() -> set[str]:
    """The English titles of the statement columns (``statements.view``'s (key, title, kind) tuples)."""
    tree = ast.parse(Path(statements.__file__).read_text(encoding="utf-8"))
    titles = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple) and len(node.elts) == 3:
            values = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            if len(values) == 3:
                titles.add(values[1])
    return titles


@pytest.mark.parametrize("language", [lang for lang in localise.TRANSLATED if lang != "en"])
def test_every_sentence_is_translated(language: str) -> None:
    from babel.messages.pofile import read_po

    wanted = (template_msgids() | column_titles() | set(statement.KIND_NAMES.values())
              | set(aging.DEFAULT.titles) | set(KIND_TITLES.values()) | {"Balance forward", "Total"})
    assert len(wanted) > 40 and "Due date" in wanted
    with (localise.LOCALE_DIR / language / "LC_MESSAGES" / "qbsync.po").open("rb") as fh:
        catalog = read_po(fh, locale=language)
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    assert sorted(wanted - translated) == []
