"""What a plain `pip install qbsync` must be enough for: syncing a real company and the demo.

Faker (benchmarks, regenerating the sandbox's name pools) and psycopg (the `postgres` extra) are
installed in the test environment, so each run here hides them from the child process the way a
lean install would lack them: importing one fails exactly as it would when it is not installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from qbsync.sandbox.clock import SandboxClock
from qbsync.sandbox.server import SandboxServer
from qbsync.sandbox.store import Store
from tests.sync.sandbox_env import build_company, connect_settings

ROOT = Path(__file__).resolve().parents[1]
EXTRAS_ONLY = ("faker", "psycopg", "psycopg_binary", "procrastinate", "starlette", "uvicorn", "jinja2",
               "weasyprint", "babel", "playwright")

#: Run the qbsync command line with the extras' packages made impossible to import.
LEAN = f"""
import sys
from importlib.abc import MetaPathFinder

class NotInstalled(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {EXTRAS_ONLY!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
from qbsync.cli import main
sys.argv = ["qbsync", *sys.argv[1:]]
main()
"""


def _lean(env: dict[str, str] | None, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", LEAN, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    clock = SandboxClock()
    store = Store(clock=clock)
    build_company(store)
    with SandboxServer(store, clock=clock) as srv:
        yield srv


def test_the_blocker_really_hides_the_extras() -> None:
    out = subprocess.run([sys.executable, "-c", LEAN.replace("from qbsync.cli import main", "import faker")],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode != 0 and "No module named 'faker'" in out.stderr


def test_a_real_company_syncs_and_reports_without_the_extras(sandbox: SandboxServer, tmp_path: Path) -> None:
    conn = connect_settings(sandbox, tmp_path, f"sqlite:///{tmp_path / 'cache.sqlite3'}")
    synced = _lean(conn.env, "sync", "--json")
    assert synced.returncode == 0, synced.stderr
    assert json.loads(synced.stdout)
    for args in (["status"], ["rules", "inactive", "--format", "json"], ["report", "aging"],
                 ["rules", "duplicates", "--format", "json"]):
        out = _lean(conn.env, *args)
        assert out.returncode == 0, (args, out.stderr)
        assert "Traceback" not in out.stderr


def test_a_postgresql_cache_without_the_driver_names_the_extra(tmp_path: Path) -> None:
    out = _lean(None, "status", "--cache-url", "postgresql+psycopg://qbsync@127.0.0.1/test")
    assert out.returncode == 3, out.stderr
    assert "pip install 'qbsync[postgres]'" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.slow
def test_the_demo_runs_without_faker(tmp_path: Path) -> None:
    out = _lean(None, "demo", "--dir", str(tmp_path / "demo"), "--customers", "120")
    assert out.returncode == 0, out.stderr[-3000:]
    assert (tmp_path / "demo" / "outreach").is_dir()
