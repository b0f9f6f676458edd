"""One long-lived ``git cat-file --batch`` for a checkout: objects by name, no fork per read.

The origin watch reads the same few objects every round (each worker's task list at the
run branch's tip and at its own, the task file). Forking ``git`` for each costs more than
the read itself, so :class:`CatFile` keeps one ``git cat-file --batch`` running and asks it
by name (``<commit>:<path>``, ``<sha>^{commit}``). It blocks: call it in a worker thread
(the reader does, through :meth:`~claude_orchestra.git.repo.GitRepo.in_thread`).

- **Same git as every other call**: the checkout's ``-c`` overrides and environment
  (:mod:`claude_orchestra.git.env`), and before each exchange the checks
  :func:`~claude_orchestra.git.session.session` makes (``commondir``, the config
  allowlist). Without ``--textconv`` or ``--filters``, cat-file runs no filter or driver.
- **Restarted if it dies**: a process found dead before an exchange, or that dies during
  one (a short read, a broken pipe), is reaped and started again, and the whole exchange is
  asked once more; a second death is a :class:`~claude_orchestra.errors.GitError`.
- **Closed by its owner**: :meth:`CatFile.close` ends the process (the origin watch closes
  its reader when it stops); one left running when the object is collected is killed with
  a :class:`ResourceWarning`.
- **Never read whole past a cap**: an object larger than the caller's cap is drained from
  the pipe in chunks and handed back without its bytes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import IO, Final, Self, final

import attrs

from claude_orchestra.errors import GitError
from claude_orchestra.git.env import Checkout
from claude_orchestra.git.session import session

Launch = Callable[[Checkout], "subprocess.Popen[bytes]"]
"""Starts the batch process for a checkout (:func:`launch_cat_file`; tests wrap it)."""

_CHUNK: Final = 4096
"""Request bytes written before their answers are read: below every pipe's capacity, so
neither side can block on a full pipe while the other waits."""
_DRAIN: Final = 64 * 1024


@final
@attrs.frozen(kw_only=True)
class BatchObject:
    """What cat-file answered for one name that names an object."""

    oid: str
    kind: str
    """``blob``, ``tree``, ``commit`` or ``tag``."""
    size: int
    data: bytes | None
    """The object's bytes; ``None`` when it is larger than the cap it was asked with."""


def cat_file_command(where: Checkout) -> list[str]:
    """``git cat-file --batch`` with the ``-c`` overrides every host-side git runs with."""
    return ["git", *where.options(), "cat-file", "--batch"]


def launch_cat_file(where: Checkout, command: Sequence[str] = ()) -> subprocess.Popen[bytes]:
    """Start ``command`` (by default :func:`cat_file_command`) as the batch process of
    ``where``: in the checkout, with its environment, in its own process group."""
    try:
        return subprocess.Popen(
            list(command or cat_file_command(where)),
            cwd=where.work_tree,
            env=where.environment(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        missing = "git executable not found" if exc.filename == "git" else "no such directory"
        raise GitError(where.work_tree, "cat-file --batch", missing) from None


class _Died(Exception):
    """The process ended (or answered out of protocol) during an exchange."""


@final
@attrs.define(eq=False, repr=False)
class CatFile:
    """A ``git cat-file --batch`` kept running for one checkout; thread-safe, blocking."""

    _where: Checkout = attrs.field(alias="where")
    _launch: Launch = attrs.field(alias="launch", default=launch_cat_file, kw_only=True)
    _process: subprocess.Popen[bytes] | None = attrs.field(init=False, default=None)
    _lock: threading.Lock = attrs.field(init=False, factory=threading.Lock)
    _closings: int = attrs.field(init=False, default=0)
    _starts: int = attrs.field(init=False, default=0)

    def __repr__(self) -> str:
        return f"<CatFile {self._where.work_tree} pid={self.pid}>"

    @property
    def pid(self) -> int | None:
        """The running process's id (``None``: none running)."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    @property
    def starts(self) -> int:
        """How many processes it has started (the first, and each restart)."""
        return self._starts

    def objects(self, names: Sequence[str], *, cap: int) -> list[BatchObject | None]:
        """What each of ``names`` names, in order (``None``: no such object).

        Args:
            names: Object names cat-file accepts on one line (no newline, no trailing
                carriage return: the caller checks).
            cap: Bytes of content kept per object; a larger object comes back without them.

        Raises:
            GitError: The checkout is unsafe or gone, or the process died twice.
        """
        with self._lock:
            closings = self._closings
            with session(self._where, "cat-file --batch") as s:
                for attempt in (1, 2):
                    process = self._running()
                    try:
                        return _exchange(process, names, cap)
                    except (_Died, OSError, ValueError):
                        stderr = self._reap()
                        if attempt == 2 or closings != self._closings:
                            raise s.error(stderr or "cat-file --batch ended") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """End the process (an exchange in another thread fails); safe to call twice. A
        later :meth:`objects` starts a new one."""
        self._closings += 1
        process = self._process
        if process is not None:
            _kill(process)  # before the lock: an exchange blocked on a read ends now
        with self._lock:
            self._reap()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            warnings.warn(f"{self!r} was never closed", ResourceWarning, stacklevel=1)
            _kill(process)
            with contextlib.suppress(Exception):
                self._reap()

    def _running(self) -> subprocess.Popen[bytes]:
        process = self._process
        if process is not None and process.poll() is None:
            return process
        self._reap()
        self._process = self._launch(self._where)
        self._starts += 1
        return self._process

    def _reap(self) -> str:
        """Stop and wait for the process, if any; what it printed on stderr."""
        process, self._process = self._process, None
        if process is None:
            return ""
        _kill(process)
        stderr: bytes | None = None
        with contextlib.suppress(OSError, ValueError):
            if process.stdin is not None:
                process.stdin.close()
            if process.stderr is not None:  # what it said before it ended; never wait for more
                os.set_blocking(process.stderr.fileno(), False)
                stderr = process.stderr.read(_CHUNK)
        process.wait()
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
        return (stderr or b"").decode("utf-8", "replace")


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Kill the process's group, unless the process was reaped (its id may be reused)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)


def _exchange(
    process: subprocess.Popen[bytes], names: Sequence[str], cap: int
) -> list[BatchObject | None]:
    """Ask ``names`` in chunks small enough that no pipe fills; read each chunk's answers."""
    if process.stdin is None or process.stdout is None:
        raise _Died
    lines = [os.fsencode(name) + b"\n" for name in names]
    answers: list[BatchObject | None] = []
    start = 0
    while start < len(lines):
        end, size = start + 1, len(lines[start])
        while end < len(lines) and size + len(lines[end]) <= _CHUNK:
            size += len(lines[end])
            end += 1
        process.stdin.write(b"".join(lines[start:end]))
        process.stdin.flush()
        answers += [_answer(process.stdout, line[:-1], cap) for line in lines[start:end]]
        start = end
    return answers


def _answer(out: IO[bytes], asked: bytes, cap: int) -> BatchObject | None:
    header = out.readline()
    if not header.endswith(b"\n"):
        raise _Died
    if header in (asked + b" missing\n", asked + b" ambiguous\n"):
        return None
    fields = header.split()
    if len(fields) != 3 or not fields[2].isdigit():
        raise _Died
    oid, kind, size = fields[0].decode(), fields[1].decode(), int(fields[2])
    if size <= cap:
        data = out.read(size + 1)
        if len(data) != size + 1:
            raise _Died
        return BatchObject(oid=oid, kind=kind, size=size, data=data[:-1])
    left = size + 1
    while left:
        got = out.read(min(left, _DRAIN))
        if not got:
            raise _Died
        left -= len(got)
    return BatchObject(oid=oid, kind=kind, size=size, data=None)
