"""The script that ends a run's processes on a host (``runtimes/remote/ending.py``), run
here on a private tmux server as the runtime runs it there: from standard input, with and
without pidfds."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from claude_orchestra.runtimes.remote import ending
from claude_orchestra.runtimes.remote.ended import Ended, parse_ended

WITHOUT_PIDFDS = "import os, sys; del os.pidfd_open; sys.argv[0] = '-'; exec(sys.stdin.read())"
"""The script as on a system without pidfds (it asks ``kill(pid, 0)`` and ``ps`` then)."""


@pytest.fixture
def socket(tmux_binary: str) -> Iterator[str]:
    """A private tmux server's socket name; the server is ended afterwards if still up."""
    name = f"orchestra-test-{secrets.token_hex(4)}"
    yield name
    subprocess.run([tmux_binary, "-L", name, "kill-server"], capture_output=True, check=False)


def window(socket: str, command: str, *, first: bool) -> int:
    """``command`` in a new window of the server; the pane's pid."""
    where = ["new-session", "-d", "-s", "orchestra"] if first else ["new-window", "-d"]
    shown = subprocess.run(
        ["tmux", "-L", socket, *where, "-P", "-F", "#{pane_pid}", command],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(shown.stdout.split()[-1])


def end(socket: str, *python_args: str) -> Ended:
    script = Path(ending.__file__).read_text(encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-I", "-S", *python_args, socket, "0.5"],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return parse_ended(done.stdout)


@pytest.mark.parametrize("python_args", [("-",), ("-c", WITHOUT_PIDFDS)], ids=["pidfd", "kill-0"])
def test_a_process_ignoring_the_hang_up_is_killed_after_the_grace(
    socket: str, python_args: tuple[str, ...]
) -> None:
    window(socket, "exec sleep 600", first=True)  # ends on the hang-up
    stubborn = window(socket, "trap '' HUP; exec sleep 600", first=False)
    assert end(socket, *python_args) == Ended(killed=(stubborn,))
    assert subprocess.run(["tmux", "-L", socket, "has-session"], check=False).returncode != 0


def test_with_no_server_there_is_nothing_to_end(socket: str) -> None:
    assert end(socket, "-") == Ended()
