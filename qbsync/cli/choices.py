"""Choices and defaults that live in library modules, read for --help without importing those modules.

A command's options are built when click builds the command, also for ``--help``; importing
``qbsync.campaigns.dunning`` for its ``STAGES`` would import SQLAlchemy and make every ``--help``
slow. ``constant`` reads the literal from the module's source instead (parsed, never run), or takes
it from the module when that is loaded already. The library stays the one place each list is
written; ``tests/test_cli_startup.py`` checks every constant read this way against the imported module.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from typing import Any

import click

#: Every (module, name) read so far: what the start-up test holds against the imported modules.
READ: set[tuple[str, str]] = set()


def constant(module: str, name: str) -> Any:
    """``module.name``: from the loaded module, else the literal assigned to it in the module's source."""
    READ.add((module, name))
    if module in sys.modules:
        return getattr(sys.modules[module], name)
    return literal(module, name)


def literal(module: str, name: str) -> Any:
    """The literal assigned to ``name`` at the top of ``module``'s source (the module is not run)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise LookupError(f"no module {module}")
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    for node in tree.body:
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, ast.AnnAssign) and node.value is not None else [])
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            assert isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                break
    raise LookupError(f"{module}.{name} is not a literal assigned at the top of the module")


def choice(module: str, name: str, **kw: Any) -> click.Choice:
    """A ``click.Choice`` of the tuple ``module.name``."""
    return click.Choice(list(constant(module, name)), **kw)
