"""Jinja2 for every document: the user's template folder first, then the built-in templates, autoescaped.

A user copies the built-in templates (`qbsync documents templates --copy DIR`), edits them and
passes ``--templates DIR`` (or sets ``[documents] templates``): a template found there wins over the
built-in one of the same name, so one letter can be changed and the rest left as shipped. The
built-in templates say every sentence through gettext (``{% trans %}``, ``_()``), translated by the
catalogues in ``qbsync/documents/locale``; a user's own template may do the same or just write its
text in one language.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qbsync.errors import InputError

BUILTIN = Path(__file__).resolve().parent / "templates"


def needs_extra(what: str) -> InputError:
    return InputError(f"{what} needs the documents extra (Jinja2, WeasyPrint, Babel)",
                      hint="pip install 'qbsync[documents]' (see README, 'Documents')")


def environment(template_dir: Path | None, translations: Any = None) -> Any:
    """A Jinja2 environment over ``template_dir`` (when given) and the built-in templates."""
    try:
        import jinja2
    except ModuleNotFoundError as exc:  # pragma: no cover - the extra is installed in tests
        raise needs_extra("this command") from exc
    loaders: list[jinja2.BaseLoader] = []
    if template_dir is not None:
        if not template_dir.is_dir():
            raise InputError(f"template folder {template_dir} does not exist",
                             hint="copy the built-in ones there first: qbsync documents templates --copy DIR")
        loaders.append(jinja2.FileSystemLoader(str(template_dir)))
    loaders.append(jinja2.FileSystemLoader(str(BUILTIN)))
    env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), autoescape=True, trim_blocks=True,
                             lstrip_blocks=True, undefined=jinja2.StrictUndefined,
                             extensions=["jinja2.ext.i18n"])
    env.filters["count"] = lambda n: f"{n:,}"  # 12,345 customers, as the terminal tables write it
    if translations is None:
        env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    else:
        env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    return env
