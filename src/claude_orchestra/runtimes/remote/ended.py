"""What ending a run's processes on a host came to (pure).

:mod:`~claude_orchestra.runtimes.remote.ending` runs on the host and prints ``killed PID``
for each process that outlived the hang-up and its grace, and ``running PID`` for each
that outlived ``SIGKILL`` too. Anything else in its output is skipped.
"""

from __future__ import annotations

from typing import final

import attrs


@final
@attrs.frozen(kw_only=True)
class Ended:
    """The run's processes on a host after its tmux server was ended."""

    killed: tuple[int, ...] = ()
    """Still running after the grace: sent SIGKILL, and ended."""
    running: tuple[int, ...] = ()
    """Still running even after SIGKILL: the run folder must stay (they may write in it)."""


def parse_ended(printed: str) -> Ended:
    """The ending script's report."""
    killed: list[int] = []
    running: list[int] = []
    for line in printed.splitlines():
        match line.split():
            case ["killed", pid] if pid.isdigit():
                killed.append(int(pid))
            case ["running", pid] if pid.isdigit():
                running.append(int(pid))
    return Ended(killed=tuple(killed), running=tuple(running))
