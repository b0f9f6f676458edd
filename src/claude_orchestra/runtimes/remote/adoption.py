"""Taking a host's instances back after a reconnection (pure).

While the connection was down, an instance's relay could not report its exit (the hook
app was out of reach), so the host's tmux is asked what it holds: each window's pane pid
and whether it is dead. A window that is gone, dead, or runs another process than the one
launched is a death the loop never heard of; every other instance is re-adopted as it is.
The hook events its instances spooled meanwhile are sent then (:mod:`.replay`), before
the incident and any such death.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath
from typing import final

import attrs

from claude_orchestra.auth.credentials import Secret


@final
@attrs.frozen(kw_only=True)
class Pane:
    """One window on the host as tmux lists it."""

    pid: int
    dead: bool


@final
@attrs.frozen(kw_only=True)
class Spool:
    """Where a launch's hook events wait on the host while the connection is down, and
    what sends them on: the hook URL through the forward and the launch's hook token."""

    folder: PurePosixPath
    url: str
    token: Secret


@final
@attrs.frozen(kw_only=True)
class Launched:
    """What the runtime started for an instance: the launch number, the pane's pid and
    its hooks' spool (``None``: its settings have no hook)."""

    launch: int
    pid: int
    spool: Spool | None = None


def parse_panes(listed: str) -> dict[str, Pane]:
    """``<name> <pid> <dead>`` lines (:func:`~claude_orchestra.runtimes.remote.commands.windows`);
    anything else, which a process on the host could have made, is skipped."""
    panes = {}
    for line in listed.splitlines():
        row = line.split()
        if len(row) == 3 and row[1].isdigit() and row[2] in {"0", "1"}:
            panes[row[0]] = Pane(pid=int(row[1]), dead=row[2] == "1")
    return panes


def unheard_deaths(
    panes: Mapping[str, Pane], launched: Mapping[str, Launched], names: Iterable[str]
) -> dict[str, Launched]:
    """The instances among ``names`` whose launched process is no longer running in its
    window (to report as a death), by name."""
    gone = {}
    for name in names:
        known = launched.get(name)
        if known is None:
            continue
        pane = panes.get(name)
        if pane is None or pane.dead or pane.pid != known.pid:
            gone[name] = known
    return gone


def describe(panes: Mapping[str, Pane], names: Iterable[str]) -> str:
    """The incident's action: which windows were found, with their pids."""
    found = [
        f"{name} (pid {pane.pid}{', exited' if pane.dead else ''})"
        for name in sorted(names)
        if (pane := panes.get(name)) is not None
    ]
    return ", ".join(found) or "no window left"
