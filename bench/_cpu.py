"""Where the CPU goes during a run: per kind of process, sampled from ``/proc``.

A sampler thread reads every process's CPU time (user + system) twice a second and keeps
the last value per pid; processes whose command line names the run's folder (Claude Code,
the relays, tmux's panes) or that are the orchestrator itself are counted. Processes that
live for less than a sample (most git commands) are missed, so "other" is a floor.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: str) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


def _kind(cmdline: str, orchestrator: int, pid: int) -> str:
    if pid == orchestrator:
        return "orchestrator"
    if "relay.py" in cmdline:
        return "relay"
    if "/.bin/claude" in cmdline or "claude-code" in cmdline:
        return "claude"
    return "other"


class CpuSampler:
    """Samples until stopped; :meth:`totals` gives CPU seconds per kind."""

    def __init__(self, folder: Path, orchestrator: int) -> None:
        self._folder = str(folder)
        self._orchestrator = orchestrator
        self._last: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
                except OSError:
                    continue
                text = cmdline.decode(errors="replace")
                pid = int(entry)
                if pid != self._orchestrator and self._folder not in text:
                    continue
                seconds = _cpu_seconds(entry)
                if seconds is not None:
                    self._last[pid] = (_kind(text, self._orchestrator, pid), seconds)

    def stop(self) -> dict[str, float]:
        """Stop sampling; CPU seconds per kind of process."""
        self._stop.set()
        self._thread.join()
        totals: dict[str, float] = defaultdict(float)
        for kind, seconds in self._last.values():
            totals[kind] += seconds
        return dict(totals)


class ProcessCpu:
    """One process's own CPU seconds (user + system, every thread; not its children),
    sampled from ``/proc/<pid>/stat`` every 0.1 s; the last sample before it exits is kept,
    so at most 0.1 s of its running is missed. ``children`` is the CPU of the children it
    has reaped (``cutime`` + ``cstime``: git commands, ssh), apart; ``trace`` the samples,
    ``(wall time, own CPU seconds)``, for the CPU spent between two moments."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self.own = 0.0
        self.children = 0.0
        self.trace: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                stat = Path(f"/proc/{self._pid}/stat").read_text()
            except OSError:
                return
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] == "Z":  # exited, not yet waited for: the counts are final
                return
            self.own = (int(fields[11]) + int(fields[12])) / _TICK
            self.children = (int(fields[13]) + int(fields[14])) / _TICK
            self.trace.append((time.time(), self.own))
            if self._stop.wait(0.1):
                return

    def stop(self) -> tuple[float, float]:
        """Stop sampling; (own, reaped children's) CPU seconds at the last sample."""
        self._stop.set()
        self._thread.join()
        return self.own, self.children


def cpu_between(trace: list[tuple[float, float]], start: float, end: float) -> float:
    """CPU seconds spent from wall time ``start`` to ``end``, from a :class:`ProcessCpu`
    trace (the last sample at or before each moment: within a sample's 0.1 s)."""

    def at(moment: float) -> float:
        return max((cpu for when, cpu in trace if when <= moment), default=0.0)

    return at(end) - at(start)
