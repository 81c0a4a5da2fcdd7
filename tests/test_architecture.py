"""The layering rules hold: the sandbox stands apart, one importer each for click and python-quickbooks."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "qbsync"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.add("." * node.level + (node.module or ""))
            elif node.module:
                found.add(node.module)
    return found


def _modules(sub: str = "") -> list[Path]:
    return sorted((PKG / sub).rglob("*.py"))


def test_sandbox_imports_nothing_from_qbsync() -> None:
    for path in _modules("sandbox"):
        for name in _imports(path):
            assert not (name.startswith("qbsync") and not name.startswith("qbsync.sandbox")), (
                f"{path.relative_to(ROOT)} imports {name}: the sandbox must stay independent")


def test_only_cli_imports_click() -> None:
    for path in _modules():
        if path.is_relative_to(PKG / "cli"):
            continue
        assert "click" not in _imports(path), f"{path.relative_to(ROOT)} imports click"


def test_only_qbo_imports_python_quickbooks() -> None:
    for path in _modules():
        if path.is_relative_to(PKG / "qbo"):
            continue
        names = _imports(path)
        assert not any(n == "quickbooks" or n.startswith("quickbooks.") for n in names), (
            f"{path.relative_to(ROOT)} imports python-quickbooks")


def test_every_module_has_a_docstring() -> None:
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), f"{path.relative_to(ROOT)} lacks its one-line docstring"


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff not installed")
def test_ruff_clean() -> None:
    result = subprocess.run(["ruff", "check", "qbsync", "tests", "bench"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_clean() -> None:
    pytest.importorskip("mypy")
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
