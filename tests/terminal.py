"""A terminal a test can type into and read: one pane of a private tmux server.

The pane runs a shell without ``TMUX`` in its environment, so what runs in it behaves as in a
plain terminal (``claude-orchestra attach`` there attaches; it does not switch clients).
Screens have no event: :meth:`Terminal.wait_for` uses the one bounded poll.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import attrs

from claude_orchestra.testing.waiting import wait_until


@attrs.define
class Terminal:
    """A 200x50 terminal in a tmux server of the test's own."""

    socket: str

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``tmux -L SOCKET ARGS``."""
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=False
        )

    def type(self, line: str) -> None:
        """Type ``line`` and Enter."""
        self.tmux("send-keys", "-t", "term", "-l", line)
        self.tmux("send-keys", "-t", "term", "Enter")

    def keys(self, *keys: str) -> None:
        """``send-keys`` with tmux key names (``C-b``, ``Enter``, ``q``)."""
        self.tmux("send-keys", "-t", "term", *keys)

    def screen(self) -> str:
        """What the terminal shows now."""
        return self.tmux("capture-pane", "-p", "-t", "term").stdout

    async def wait_for(self, condition: Callable[[str], bool], limit: float = 30.0) -> str:
        """The screen, once ``condition(screen)`` holds (``TimeoutError`` after ``limit``)."""
        seen = [""]

        def shows() -> bool:
            seen[0] = self.screen()
            return condition(seen[0])

        try:
            await wait_until(shows, limit=limit, interval=0.1)
        except TimeoutError as exc:
            raise TimeoutError(f"the terminal never showed it; it shows:\n{seen[0]}") from exc
        return seen[0]


@contextmanager
def terminal(name: str, *, cwd: Path, env: Mapping[str, str] | None = None) -> Iterator[Terminal]:
    """A terminal running ``bash --norc`` in ``cwd``, with ``claude-orchestra`` on PATH and
    ``env`` over this process's environment."""
    socket = f"test-term-{name}-{os.getpid()}"
    term = Terminal(socket=socket)
    environ = {**os.environ, **(env or {}), "PS1": "$ ", "PATH": _path()}
    environ.pop("TMUX", None)
    subprocess.run(  # the server, and so the shell, starts with this environment
        [
            *("tmux", "-L", socket, "-f", "/dev/null", "new-session", "-d", "-s", "term"),
            *("-x", "200", "-y", "50", "-c", str(cwd), "env -u TMUX bash --norc --noprofile"),
        ],
        env=environ,
        check=True,
    )
    socket_path = term.tmux("display-message", "-p", "#{socket_path}").stdout.strip()
    try:
        yield term
    finally:
        term.tmux("kill-server")
        Path(socket_path).unlink(missing_ok=True)  # tmux leaves it behind


def _path() -> str:
    return f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
