"""What the document tests need on the machine, installed by the tests themselves when missing.

Debian's ``chromium`` (the browser the HTML is checked in, driven by playwright with
``executable_path``: playwright's own browser download does not work offline),
``poppler-utils`` (``pdftotext``, ``pdftoppm``, ``pdffonts``, ``pdfinfo``, to read PDFs back as
text and pictures), and what WeasyPrint and the font check need from the system: Pango with its
FreeType backend and fontconfig's ``fc-list`` (a slim image has neither; chromium brings only
``libpango-1.0-0``). A session fixture installs what is missing with apt-get when the tests run
as root, or through ``sudo -n`` when that needs no password (a fresh CI machine); otherwise the
tests that need them are skipped with the command to run, except under CI (``CI`` set), where a
missing tool is a failure.
"""

from __future__ import annotations

import ctypes.util
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

#: executable -> the Debian package that brings it
TOOLS = {"chromium": "chromium", "pdftotext": "poppler-utils", "pdftoppm": "poppler-utils",
         "pdffonts": "poppler-utils", "pdfinfo": "poppler-utils", "fc-list": "fontconfig"}
#: shared library -> the Debian package that brings it (WeasyPrint loads them with cffi)
LIBRARIES = {"pango-1.0": "libpango-1.0-0", "pangoft2-1.0": "libpangoft2-1.0-0"}
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-default-apps", "--disable-extensions"]


def _missing() -> list[str]:
    return sorted({pkg for exe, pkg in TOOLS.items() if shutil.which(exe) is None}
                  | {pkg for lib, pkg in LIBRARIES.items() if ctypes.util.find_library(lib) is None})


def _as_root() -> list[str] | None:
    """How to run apt-get as root here: directly, through password-less sudo, or not at all."""
    if not shutil.which("apt-get"):
        return None
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        return ["sudo", "-n", "env", "DEBIAN_FRONTEND=noninteractive"]
    return None


def _install(root: list[str], packages: list[str]) -> str:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    out = []
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                                                 *packages]):
        done = subprocess.run([*root, *cmd], env=env, capture_output=True, text=True, timeout=900)
        out.append(done.stdout[-2000:] + done.stderr[-2000:])
    return "\n".join(out)


@pytest.fixture(scope="session")
def system_tools() -> dict[str, str]:
    """Paths of chromium and the poppler tools, installed with apt-get when missing (root or sudo -n)."""
    missing = _missing()
    log = ""
    root = _as_root() if missing else None
    if missing and root is not None:
        log = _install(root, missing)
        missing = _missing()
    if missing:
        message = (f"missing {', '.join(missing)}: apt-get install {' '.join(missing)} (the tests install "
                   f"them themselves as root or with password-less sudo){chr(10) + log if log else ''}")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return {exe: str(shutil.which(exe)) for exe in TOOLS}


@pytest.fixture(scope="module")
def browser(system_tools: dict[str, str]) -> Iterator[Any]:
    """A headless Debian chromium driven by playwright, with a fresh profile; closed after the module.

    Not session-wide: while playwright's sync API is started, its event loop counts as running in the
    main thread, and every later test that calls asyncio.run (the fleet's worker) would fail."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' brings playwright")
    with tempfile.TemporaryDirectory(prefix="qbsync-chromium-") as profile:
        manager = sync_api.sync_playwright().start()
        try:
            context = manager.chromium.launch_persistent_context(
                profile, executable_path=system_tools["chromium"], headless=True, args=CHROMIUM_ARGS,
                viewport={"width": 1000, "height": 1400}, offline=True)
            yield context
            context.close()
        finally:
            manager.stop()


def pdf_text(path: Path, *, layout: bool = True) -> str:
    args = ["pdftotext", *(["-layout"] if layout else []), str(path), "-"]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def pdf_pages(path: Path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def pdf_fonts(path: Path) -> str:
    return subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout


def pdf_png(path: Path, out_prefix: Path, *, page: int = 1, dpi: int = 60) -> Path:
    subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-f", str(page), "-l", str(page), "-singlefile",
                    str(path), str(out_prefix)], check=True, capture_output=True)
    return out_prefix.with_suffix(".png")
