"""Which sessions the ``remote`` runtime carried into a resumed run's homes (pure).

:mod:`~claude_orchestra.runtimes.remote.carrying` runs on a host and prints
``carried NAME``, ``empty NAME`` or ``lost NAME REASON`` for each instance it was asked
about. Anything else in its output (or a name it was not asked about) is skipped; an
instance it printed nothing for is lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath
from typing import final

import attrs

from claude_orchestra.runtimes.base import CarriedSessions
from claude_orchestra.workers import worker_number
from claude_orchestra.workspace import Workspace


@final
@attrs.frozen(kw_only=True)
class Carry:
    """One instance's session to carry, with its home and worktree relative to the run
    folders (the same in the killed run's folder and the resumed run's)."""

    instance: str
    session: str
    config: PurePosixPath
    """Its ``CLAUDE_CONFIG_DIR``."""
    cwd: PurePosixPath
    """Its worktree (Claude Code's project folder is named after it)."""

    def argv(self) -> list[str]:
        """Its four arguments of the carrying script."""
        return [self.instance, self.session, str(self.config), str(self.cwd)]


def carries(layout: Workspace, sessions: Mapping[str, str]) -> list[Carry]:
    """The workers' sessions among ``sessions`` (instance -> session id), placed as in
    ``layout``'s workspace (a session of an instance that is no worker is skipped)."""
    found = []
    for name, session in sorted(sessions.items()):
        number = worker_number(name)
        if number is None:
            continue
        found.append(
            Carry(
                instance=name,
                session=session,
                config=PurePosixPath(layout.home(name).path.relative_to(layout.root)),
                cwd=PurePosixPath(layout.worktree(number).relative_to(layout.root)),
            )
        )
    return found


def parse_carried(printed: str, asked: Iterable[str]) -> CarriedSessions:
    """The carrying script's report about the instances ``asked``."""
    names = set(asked)
    carried: set[str] = set()
    lost: dict[str, str] = {}
    for line in printed.splitlines():
        match line.split(" ", 2):
            case ["carried", name] if name in names:
                carried.add(name)
            case ["empty", name] if name in names:
                pass
            case ["lost", name, reason] if name in names:
                lost[name] = reason.strip()[:200] or "not carried"
            case _:
                continue
        names.discard(name)
    lost.update({name: "the host did not say it was carried" for name in names})
    return CarriedSessions(carried=frozenset(carried), lost=lost)
