"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Two kinds of file, and the caller says which:

- a file the user reads or shares (a report, a CSV, a PDF, a page) gets the mode any new file of
  theirs gets: ``0666`` less their umask (``0644`` under the usual ``022``), as ``open(path, "w")``
  would give it;
- a secret (tokens, settings holding a client secret): ``private=True``, mode ``0600`` from the
  moment the file exists, whatever the umask, so nobody else can read it even for an instant.

The temp file beside the target is created by us (``O_CREAT | O_EXCL``) with the mode asked for,
so the kernel applies the umask; ``tempfile.mkstemp`` would make every file ``0600``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

from qbsync.errors import InputError

#: the mode of a secret
PRIVATE_MODE = 0o600
_FLAGS = (os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
          | getattr(os, "O_CLOEXEC", 0))


def _directory(path: Path) -> Path:
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise InputError(f"cannot write {path}: directory {directory} does not exist",
                         hint="create the directory first or choose another output path")
    return directory


def _temp_beside(path: Path, directory: Path, private: bool) -> tuple[int, Path]:
    """A new, empty temp file next to ``path``: ``0600`` when private, else ``0666`` less the umask."""
    for _ in range(100):
        tmp = directory / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, _FLAGS, PRIVATE_MODE if private else 0o666)
        except FileExistsError:
            continue
        if private and hasattr(os, "fchmod"):
            os.fchmod(fd, PRIVATE_MODE)  # exactly 0600, even under an odd umask such as 0277
        return fd, tmp
    raise FileExistsError(f"no free temp file name beside {path}")  # pragma: no cover


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be opened
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@contextlib.contextmanager
def _atomic(path: Path | str, *, private: bool, binary: bool) -> Iterator[TextIO | BinaryIO]:
    path = Path(path)
    directory = _directory(path)
    fd, tmp = _temp_beside(path, directory, private)
    try:
        fh = (os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline=""))
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


@contextlib.contextmanager
def atomic_writer(path: Path | str, *, private: bool = False) -> Iterator[TextIO]:
    """A UTF-8 text handle on a temp file beside ``path`` that becomes ``path`` when the block ends.

    The temp file is fsynced and renamed over ``path``, then the directory is fsynced; if the block
    raises, the temp file goes and ``path`` is untouched. ``private`` makes it a secret (``0600``
    before any byte is written); otherwise it gets the user's usual mode (``0666`` less the umask).
    Text is written as given (``newline=""``): CSV line ends stay CRLF on every platform.
    """
    with _atomic(path, private=private, binary=False) as fh:
        yield fh  # type: ignore[misc]


def write_atomic(path: Path | str, text: str, *, private: bool = False) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically (see ``atomic_writer``)."""
    with atomic_writer(path, private=private) as fh:
        fh.write(text)


def write_atomic_bytes(path: Path | str, data: bytes, *, private: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (a PDF, an image): temp file, fsync, rename; the mode as
    ``atomic_writer`` gives it."""
    with _atomic(path, private=private, binary=True) as fh:
        fh.write(data)  # type: ignore[arg-type]
