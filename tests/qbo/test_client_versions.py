"""qbsync works with the lowest and the highest python-quickbooks its dependency range admits.

pyproject.toml names a range, not one release; this test installs each end of it (and the
intuit-oauth release that python-quickbooks pins) into its own virtual environment on top of this
one and runs the tests that drive the real clients against the sandbox there.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
#: The tests that exercise python-quickbooks and intuit-oauth end to end over HTTP.
SUBSET = ["tests/qbo/test_sandbox_integration.py", "tests/sandbox/test_oauth_flow.py"]

pytestmark = pytest.mark.slow


def _requirement(name: str) -> Requirement:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return next(r for r in map(Requirement, deps) if r.name == name)


def _published(name: str) -> list[Version]:
    out = subprocess.run([sys.executable, "-m", "pip", "index", "versions", name,
                          "--disable-pip-version-check"], capture_output=True, text=True, timeout=120)
    listed = next((line for line in out.stdout.splitlines() if line.startswith("Available versions:")), None)
    if out.returncode != 0 or listed is None:
        pytest.skip(f"cannot list {name} releases from the package index: {out.stderr.strip()[-200:]}")
    return sorted(Version(v.strip()) for v in listed.partition(":")[2].split(","))


def test_the_dependency_is_a_range_not_one_release() -> None:
    spec = _requirement("python-quickbooks").specifier
    assert not any(s.operator == "==" for s in spec), str(spec)
    assert any(s.operator == ">=" for s in spec) and any(s.operator == "<" for s in spec), str(spec)


@pytest.mark.parametrize("end", ["lowest", "highest"])
def test_the_clients_work_at_each_end_of_the_range(end: str, tmp_path: Path) -> None:
    spec = _requirement("python-quickbooks").specifier
    admitted = [v for v in _published("python-quickbooks") if spec.contains(v)]
    assert admitted, f"no published python-quickbooks satisfies {spec}"
    version = admitted[0] if end == "lowest" else admitted[-1]
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                              f"python-quickbooks=={version}"], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-2000:]
    shown = subprocess.run([str(python), "-c", "import importlib.metadata as m; "
                            "print(m.version('python-quickbooks'), m.version('intuit-oauth'))"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert shown[0] == str(version)
    assert Version(shown[1]) in _requirement("intuit-oauth").specifier, shown
    run = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *SUBSET], cwd=ROOT,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, f"python-quickbooks {version}, intuit-oauth {shown[1]}:\n{run.stdout[-3000:]}"
