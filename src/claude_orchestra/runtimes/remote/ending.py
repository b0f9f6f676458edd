"""Ending a run's processes on a host, and knowing they have ended (stdlib only).

Run on the host by the ``remote`` runtime as ``python -I -S - SOCKET GRACE`` with this file
on standard input (never written there), before the run folder is removed:

1. the processes of the run's tmux server (``tmux -L SOCKET``) are listed: the server and
   all its descendants (the relays, Claude Code, whatever a tool of theirs started), and a
   pidfd is opened on each, so a pid the system hands out again later is never waited for
   or signalled;
2. ``tmux kill-server`` hangs up on the panes. It returns at once, while their processes
   go on exiting, and Claude Code writes its transcript and state into the run folder as it
   exits: an ``rm -rf`` of the folder run now would be undone (the folder made again, with
   a transcript in it);
3. each process is waited for (its pidfd becomes readable when it ends: an event, no
   polling), for at most GRACE seconds altogether;
4. those still running then are sent ``SIGKILL`` and waited for a little longer.

It prints ``killed PID`` for each process it had to kill and ``running PID`` for each that
did not end even then; nothing when all ended on the hang-up
(:func:`~claude_orchestra.runtimes.remote.ended.parse_ended` reads that). Without pidfds
(not Linux), whether a process still runs is asked every 50 ms instead: no event
announces another process's end there.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time

_KILL_GRACE = 5.0
"""How long processes sent SIGKILL are waited for (only one stuck in the kernel outlives it)."""
_FALLBACK_INTERVAL = 0.05


class _Process:
    """One process of the run, held by a pidfd where the system has them."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.fd: int | None = None
        if hasattr(os, "pidfd_open"):
            try:
                self.fd = os.pidfd_open(pid)
            except ProcessLookupError:
                raise
            except OSError:  # a kernel without pidfds (before Linux 5.3)
                self.fd = None

    def ended(self) -> bool:
        """It has ended (an unreaped zombie has: it runs no code)."""
        if self.fd is not None:
            return bool(select.select([self.fd], [], [], 0)[0])
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # the pid is another user's now: ours ended
            return True
        return _zombie(self.pid)

    def kill(self) -> None:
        """SIGKILL, to this process and no other that got its pid."""
        with contextlib.suppress(ProcessLookupError):
            if self.fd is not None:
                signal.pidfd_send_signal(self.fd, signal.SIGKILL)
            else:
                os.kill(self.pid, signal.SIGKILL)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)


def _zombie(pid: int) -> bool:
    """Process ``pid`` has exited and waits to be reaped (``ps`` says ``Z``)."""
    shown = subprocess.run(
        ["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True, check=False
    )
    return shown.stdout.strip().startswith("Z")


def _tmux(socket: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["tmux", "-L", socket, *args], capture_output=True, text=True, check=False
    )


def _descendants(root: int) -> list[int]:
    """``root`` and every process below it, from ``ps``."""
    listed = subprocess.run(
        ["ps", "-A", "-o", "pid=", "-o", "ppid="], capture_output=True, text=True, check=True
    ).stdout
    children: dict[int, list[int]] = {}
    for line in listed.splitlines():
        row = line.split()
        if len(row) == 2 and row[0].isdigit() and row[1].isdigit():
            children.setdefault(int(row[1]), []).append(int(row[0]))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _hold(pids: list[int]) -> list[_Process]:
    held = []
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):  # ended since it was listed
            held.append(_Process(pid))
    return held


def _wait(processes: list[_Process], seconds: float) -> list[_Process]:
    """Wait until every one of ``processes`` has ended or ``seconds`` have passed; returns
    those still running."""
    deadline = time.monotonic() + seconds
    running = [p for p in processes if not p.ended()]
    while running and (left := deadline - time.monotonic()) > 0:
        fds = [p.fd for p in running if p.fd is not None]
        if len(fds) == len(running):
            select.select(fds, [], [], left)  # a pidfd is readable once its process ended
        else:
            time.sleep(min(left, _FALLBACK_INTERVAL))  # no event for this without pidfds
        running = [p for p in running if not p.ended()]
    return running


def end(socket: str, grace: float) -> list[str]:
    """End the run's tmux server and its processes; the lines to print."""
    shown = _tmux(socket, "display-message", "-p", "#{pid}").stdout.strip()
    processes = _hold(_descendants(int(shown))) if shown.isdigit() else []
    _tmux(socket, "kill-server")
    try:
        stuck = _wait(processes, grace)
        for process in stuck:
            process.kill()
        running = {p.pid for p in _wait(stuck, _KILL_GRACE)}
    finally:
        for process in processes:
            process.close()
    return [f"{'running' if p.pid in running else 'killed'} {p.pid}" for p in stuck]


def main(argv: list[str]) -> int:
    """``SOCKET GRACE``: end the run's processes, print those killed or still running."""
    match argv:
        case [socket, grace]:
            print("\n".join(end(socket, float(grace))))
            return 0
        case _:
            print(f"claude-orchestra ending: bad arguments {argv!r}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
