"""Atomic file writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from qbsync.errors import InputError


@contextlib.contextmanager
def atomic_writer(path: Path | str, *, mode: int | None = None) -> Iterator[TextIO]:
    """A UTF-8 text handle on a temp file beside ``path`` that becomes ``path`` when the block ends.

    The temp file is fsynced and renamed over ``path``, then the directory is fsynced; if the block
    raises, the temp file goes and ``path`` is untouched. ``mode`` is set before any byte is
    written, so a secret is never readable by others, not even for a moment. Text is written as
    given (``newline=""``): CSV line ends stay CRLF on every platform.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise InputError(f"cannot write {path}: directory {directory} does not exist",
                         hint="create the directory first or choose another output path")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be opened
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def write_atomic(path: Path | str, text: str, *, mode: int | None = None) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically (see ``atomic_writer``)."""
    with atomic_writer(path, mode=mode) as fh:
        fh.write(text)


def write_atomic_bytes(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (a PDF, an image): temp file, fsync, rename."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise InputError(f"cannot write {path}: directory {directory} does not exist",
                         hint="create the directory first or choose another output path")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
