"""The layering holds: the layer order written in DEVELOPERS.md, the sandbox apart, pure rules, one
importer each for click and python-quickbooks, a docstring per module, ruff and mypy clean."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "qbsync"


def _modules(sub: str = "") -> list[Path]:
    return sorted((PKG / sub).rglob("*.py"))


def _layers() -> list[list[str]]:
    """The layer table of DEVELOPERS.md, lowest first: each row's comma-separated top-level names."""
    text = (ROOT / "DEVELOPERS.md").read_text(encoding="utf-8")
    block = re.search(r"## Layers.*?```\n(.*?)```", text, re.S)
    assert block, "DEVELOPERS.md has no layer table under '## Layers'"
    rows = [re.split(r"\s{2,}", line.strip(), maxsplit=1)[0] for line in block.group(1).splitlines()
            if line.strip()]
    return [[name.strip() for name in row.split(",")] for row in rows]


def _top(name: str) -> str | None:
    """The top-level part of qbsync a module name belongs to (None: not qbsync, or the package root)."""
    parts = name.split(".")
    if parts[0] != "qbsync" or len(parts) == 1:
        return None
    return parts[1]


def _imports(path: Path) -> set[str]:
    """The modules ``path`` imports (anywhere in it), relative ones made absolute, ``from qbsync
    import x`` as ``qbsync.x``."""
    module = list(path.relative_to(ROOT).with_suffix("").parts)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(module[:len(module) - node.level]) if node.level else ""
            target = ".".join(p for p in (base, node.module or "") if p)
            found.add(target)
            if target == "qbsync":
                found.update(f"qbsync.{alias.name}" for alias in node.names)
    return found


def _edges() -> dict[tuple[str, str], str]:
    """(importing top-level part, imported one) -> the first module found doing it."""
    out: dict[tuple[str, str], str] = {}
    for path in _modules():
        src = _top(".".join(path.relative_to(ROOT).with_suffix("").parts))
        for name in _imports(path):
            dst = _top(name)
            if src and dst and dst != src and ((PKG / dst).exists() or (PKG / f"{dst}.py").exists()):
                out.setdefault((src, dst), str(path.relative_to(ROOT)))
    return out


def test_every_part_of_qbsync_is_in_the_layer_table() -> None:
    listed = {name for row in _layers() for name in row}
    present = {p.stem if p.is_file() else p.name for p in PKG.iterdir()
               if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py")}
    missing = present - listed - {"__init__", "__main__"}
    assert not missing, f"add {sorted(missing)} to the layer table in DEVELOPERS.md"


def test_imports_follow_the_layer_order() -> None:
    """A part imports only lower layers, or parts of its own layer without a cycle between them; the
    sandbox is imported only from the top layer (its command and the demo); ``__main__`` is the top."""
    layers = _layers()
    rank = {name: i for i, row in enumerate(layers) for name in row}
    top = len(layers) - 2  # the row before "sandbox"
    rank["__main__"] = top
    assert layers[-1] == ["sandbox"], "the layer table ends with the sandbox, which stands apart"
    same: dict[str, set[str]] = {}
    problems: list[str] = []
    for (src, dst), where in sorted(_edges().items()):
        if src == "sandbox":
            continue  # test_sandbox_imports_nothing_from_qbsync
        if dst == "sandbox":
            if rank[src] != top:
                problems.append(f"{where} imports the sandbox: only {', '.join(layers[top])} may")
        elif rank[dst] > rank[src]:
            problems.append(f"{where} imports qbsync.{dst}, a higher layer than {src}'s")
        elif rank[dst] == rank[src]:
            same.setdefault(src, set()).add(dst)
    cycles: set[frozenset[str]] = set()
    for start in sorted(same):
        stack, seen = [(start, [start])], set()
        while stack:
            node, trail = stack.pop()
            for nxt in same.get(node, ()):
                if nxt == start and frozenset(trail) not in cycles:
                    cycles.add(frozenset(trail))
                    problems.append(f"import cycle within a layer: {' -> '.join([*trail, start])}")
                elif nxt != start and nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*trail, nxt]))
    assert not problems, "\n".join(problems)


def test_rules_are_pure() -> None:
    """Rules take rows and give findings: they never talk to QuickBooks (write-back does)."""
    for path in _modules("rules"):
        names = _imports(path)
        assert not any(_top(n) in ("qbo", "sync", "writeback") for n in names), (
            f"{path.relative_to(ROOT)} imports I/O beyond the cache")


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


def test_one_qbo_query_parser_and_one_stand_in_for_quickbooks() -> None:
    """QuickBooks without HTTP is the sandbox in-process (tests/fakeqbo.py, ``InProcessQbo``): a test that
    answers QBO queries itself derives from it, and nothing but the sandbox parses a query (issue 10:
    tests/sync/fakes.py and tests/writeback/fakes.py each had a parser of their own)."""
    gateway_methods = {"query", "count", "cdc", "batch", "sparse_update"}
    for path in sorted((ROOT / "tests").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef) or node.name == "InProcessQbo":
                continue
            methods = [f for f in node.body if isinstance(f, ast.FunctionDef)]
            answers = {f.name for f in methods} & gateway_methods
            if len(answers) < 2 and not any(f.returns is not None and ast.unparse(f.returns) in
                                            ("Page", "CdcResult", "QueryAnswers") for f in methods):
                answers = set()  # an HTTP client of the sandbox (tests/sandbox's Raw), not a stand-in
            bases = {b.id if isinstance(b, ast.Name) else ast.unparse(b) for b in node.bases}
            assert not answers or "InProcessQbo" in bases, (
                f"{path.relative_to(ROOT)}: {node.name} answers {sorted(answers)} itself; derive it from "
                "tests.fakeqbo.InProcessQbo (the sandbox in-process)")
    parsers = [str(p.relative_to(ROOT)) for p in [*_modules(), *(ROOT / "tests").rglob("*.py")]
               if re.search(r"^def (parse|tokeni[sz]e)\(", p.read_text(encoding="utf-8"), re.M)
               and "query" in p.name]
    assert parsers == ["qbsync/sandbox/query.py"], parsers


def test_the_readme_names_every_exit_code() -> None:
    """Exit codes mean what the README says: every code an error of qbsync ends with is in its list
    (`report reconcile`'s 7 was missing)."""
    import qbsync.errors as errors

    def tree(cls: type[errors.QbsyncError]) -> list[type[errors.QbsyncError]]:
        return [cls, *(c for sub in cls.__subclasses__() for c in tree(sub))]

    codes = {cls.exit_code for cls in tree(errors.QbsyncError)} | {0}
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = re.search(r"^Exit codes:(.*?)\n\n", text, re.S | re.M)
    assert listed, "README.md has no 'Exit codes:' paragraph"
    named = {int(n) for n in re.findall(r"(?:^|[:,] )(\d+) ", listed.group(1).replace("\n", " ").strip())}
    assert codes <= named, f"README.md does not explain exit code(s) {sorted(codes - named)}"


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
