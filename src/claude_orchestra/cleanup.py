"""Removing what a run left, never unmerged work: the library side of
``claude-orchestra cleanup``.

:func:`cleanup_workspace` ends the run's runtime (its private tmux server and every process
in it; a container runtime's containers; a remote runtime's hosts), then removes each
worker's worktree whose commits origin holds (merged, pushed or preserved). A worktree with
commits that exist nowhere else is left in place and named in the result. The main clone
and ``.orchestra/`` (report, journal, logs) stay.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from claude_orchestra.config_load import load_config
from claude_orchestra.errors import GitError, OrchestraError
from claude_orchestra.git.repo import GitRepo
from claude_orchestra.git.worktree import Worktree
from claude_orchestra.plugins import PluginHost
from claude_orchestra.run_wiring import runtime_of
from claude_orchestra.runtimes.base import Runtime
from claude_orchestra.runtimes.tmux import TmuxServer
from claude_orchestra.workspace import Workspace

logger = logging.getLogger(__name__)


async def cleanup_workspace(
    workspace: Path | str, *, warn: Callable[[str], None] | None = None
) -> list[str]:
    """Clean the run in ``workspace`` (its ``workspaceDir``).

    Args:
        workspace: the run's workspace folder.
        warn: told of a problem that does not stop the clean-up (the run's config can no
            longer be loaded: only its tmux server is ended); logged when ``None``.

    Returns:
        One line per worktree that had to stay, and why (empty: everything went).
    """
    folder = Workspace(Path(workspace))
    facts = folder.read_run_file() or {}
    socket = facts.get("tmuxSocket")
    if isinstance(socket, str):
        await _runtime(facts, socket, warn or logger.warning).close()
    if not folder.repo.exists():
        return []
    repo = GitRepo.open(folder.repo, credentials_file=folder.git_credentials)
    base = str(facts.get("branch", "main"))
    kept = []
    for info in await repo.worktrees():
        if info.is_main or info.branch is None:
            continue
        if not folder.made_checkout(info.path):
            # `git worktree list` reads each worktree's `gitdir` file, which its instance
            # can rewrite: only folders of the run's own layout are ever removed.
            kept.append(f"kept {info.path}: not a checkout of this workspace")
            continue
        try:
            await Worktree(repo=repo, path=info.path, branch=info.branch, base=base).remove()
        except GitError as exc:
            kept.append(f"kept {info.path}: {exc.reason}")
    return kept


def _runtime(facts: dict[str, Any], socket: str, warn: Callable[[str], None]) -> Runtime:
    """The run's own runtime (so a container runtime removes its containers too), else its
    tmux server alone when its config is gone or its runtime's tool is."""
    config_dir = facts.get("configDir")
    if isinstance(config_dir, str):
        try:
            return runtime_of(load_config(config_dir), PluginHost(), socket)
        except OrchestraError as exc:
            warn(f"ending its tmux server only: {exc}")
    return TmuxServer.attach(socket)
