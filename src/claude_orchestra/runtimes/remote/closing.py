"""Closing a run's folder on a host (:func:`close_folder`): ending the run's processes
(:mod:`.ending`), pushing every worker branch, handing a killed run's checkouts and
sessions over to the run that resumes it (:mod:`.carrying`), and removing the folder when
nothing is left only there. Each script goes on the command's standard input, never to the
host's disk."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import PurePosixPath
from typing import final

import anyio
import attrs

from claude_orchestra.runtimes.base import CarriedSessions
from claude_orchestra.runtimes.remote import carrying as _carrying
from claude_orchestra.runtimes.remote import commands as sh
from claude_orchestra.runtimes.remote import ending as _ending
from claude_orchestra.runtimes.remote.carried import Carry, parse_carried
from claude_orchestra.runtimes.remote.ended import Ended, parse_ended
from claude_orchestra.runtimes.remote.link import HostLink

logger = logging.getLogger(__name__)

_STILL_RUNNING = "processes of the killed run on its host would not end"


@final
@attrs.frozen(kw_only=True)
class Closing:
    """A run folder to close on a host, and to whom it is handed over."""

    root: PurePosixPath
    """The run folder (``<workdir>/<run id>``)."""
    socket: str
    """The run's tmux server there (``tmux -L <socket>``)."""
    grace: float
    """How long its processes may take to end after the hang-up before they are killed."""
    successor: PurePosixPath | None = None
    """The run folder of the run resuming this one (``None``: the run ends here)."""
    sessions: tuple[Carry, ...] = ()
    """The workers' sessions to carry into :attr:`successor`."""


async def close_folder(
    link: HostLink, closing: Closing, *, push: Callable[[], Awaitable[str]]
) -> CarriedSessions:
    """End the run's processes on ``link``'s host, ``push`` every worker branch (it says
    what it kept), hand the folder's checkouts and sessions over to its successor, and
    remove it when nothing is left only there and none of its processes still runs."""
    host, root = link.host, closing.root
    # Its processes go on exiting after the hang-up, writing into the folder: removed
    # before they end, it would be made again (a transcript in it).
    ended = await end_processes(link, socket=closing.socket, grace=closing.grace)
    kept = await push()
    handed = CarriedSessions()
    if closing.successor is not None and ended.running:  # they may write in its checkouts
        handed = CarriedSessions(lost={c.instance: _STILL_RUNNING for c in closing.sessions})
    elif closing.successor is not None:  # what was kept for its commits goes on there
        handed = await hand_over(link, old=root, new=closing.successor, sessions=closing.sessions)
        kept = ""
    if ended.running:
        kept += f"\nprocesses {', '.join(map(str, ended.running))} would not end"
    if kept.strip():
        logger.warning("%s: run folder %s kept: %s", host.name, root, kept.strip())
        return handed
    await link.run(f"rm -rf {sh.q(root)}")
    return handed


async def end_processes(link: HostLink, *, socket: str, grace: float) -> Ended:
    """End the run's tmux server on ``link``'s host and wait for its processes (those
    still running ``grace`` seconds after the hang-up are killed, and logged)."""
    host = link.host
    script = await anyio.Path(_ending.__file__).read_text(encoding="utf-8")
    ended = parse_ended(await link.run(sh.end_processes(host.python, socket, grace), stdin=script))
    if ended.killed:
        logger.warning(
            "%s: killed %s: still running %g s after the hang-up",
            host.name,
            ", ".join(f"pid {p}" for p in ended.killed),
            grace,
        )
    return ended


async def hand_over(
    link: HostLink, *, old: PurePosixPath, new: PurePosixPath, sessions: Sequence[Carry]
) -> CarriedSessions:
    """Move run folder ``old``'s checkouts into run folder ``new`` on ``link``'s host, so
    the workers go on where they were (as a resumed run's local workers do), and copy
    ``sessions`` into ``new``'s homes; once the processes of ``old`` have ended (their
    transcripts are complete, their worktrees still)."""
    await link.run(sh.move_checkouts(old, new))
    if not sessions:
        return CarriedSessions()
    script = await anyio.Path(_carrying.__file__).read_text(encoding="utf-8")
    printed = await link.run(sh.carry_sessions(link.host.python, old, new, sessions), stdin=script)
    return parse_carried(printed, [c.instance for c in sessions])
