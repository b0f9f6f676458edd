"""Files in places an instance can write: never followed as symlinks, read with a cap.

An instance's home (its ``CLAUDE_CONFIG_DIR``, settings and launch files) and its
transcripts are writable by the instance, which the ``sandbox`` and ``container`` runtimes
treat as hostile. A planted symlink must not redirect a write (a secret written to a
world-readable file elsewhere) or a read (``/dev/zero``), and a planted FIFO must not block
the loop. So:

- :func:`write_private` writes a new 0600 file beside the target (``O_EXCL|O_NOFOLLOW``)
  and renames it over the target: a symlink there is replaced, never followed; the folder
  itself is opened with ``O_NOFOLLOW``.
- :func:`read_capped` opens with ``O_NOFOLLOW|O_NONBLOCK``, accepts regular files only and
  reads at most a given number of bytes. Every refusal is an :class:`UnsafeFileError`, an
  ``OSError``, so callers that skip unreadable files skip these too.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import stat
from pathlib import Path
from typing import final


@final
class UnsafeFileError(OSError):
    """A file that is not a regular file, is a symlink, or is larger than allowed."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(errno.EINVAL, reason, str(path))
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def _open_folder(folder: Path) -> int:
    try:
        return os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafeFileError(folder, "is a symlink or not a folder") from exc
        raise


def reclaim_folder(path: Path) -> None:
    """Make ``path`` a real folder (0700) in a place an instance can write: a symlink, file
    or FIFO planted there is removed first (never followed)."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISDIR(mode):
        path.unlink()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)


def reclaim_file(path: Path) -> None:
    """Remove a folder planted where a file of ours goes (a symlink or file there is
    replaced by :func:`write_private` anyway; a folder would make it fail)."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        shutil.rmtree(path)


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``, mode 0600, without following any symlink at ``path``
    or at its folder (the folder is made, 0700, when missing).

    Raises:
        UnsafeFileError: the folder is a symlink, or ``path`` is a folder.
        OSError: the file could not be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder = _open_folder(path.parent)
    try:
        temp = f".{path.name}.{secrets.token_hex(6)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(temp, flags, 0o600, dir_fd=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.rename(temp, path.name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=folder)
            raise
    except IsADirectoryError as exc:
        raise UnsafeFileError(path, "is a folder") from exc
    finally:
        os.close(folder)


def read_capped(path: Path, limit: int, *, follow_symlinks: bool = False) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    Never blocks on a FIFO or device, and never follows a symlink at ``path`` unless
    ``follow_symlinks`` (for the user's own files: the target must still be a regular file).

    Raises:
        UnsafeFileError: ``path`` is a symlink, not a regular file, or larger than ``limit``.
        OSError: it cannot be opened or read (``FileNotFoundError`` when missing).
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeFileError(path, "is a symlink") from exc
        raise
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafeFileError(path, "is not a regular file")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise UnsafeFileError(path, f"is larger than {limit} bytes")
    return data


def read_text_capped(path: Path, limit: int) -> str:
    """:func:`read_capped` decoded as UTF-8 (undecodable bytes replaced)."""
    return read_capped(path, limit).decode("utf-8", errors="replace")
