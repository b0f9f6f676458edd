"""``claude-orchestra cleanup --workspace DIR``: remove what a run left, never unmerged work.

Ends the run's private tmux server (and every process in it), then removes each worker's
worktree whose commits origin holds (merged, pushed or preserved). A worktree with commits
that exist nowhere else is left in place, and the command says which and why (exit 1). The
main clone and ``.orchestra/`` (report, journal, logs) stay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import click

from claude_orchestra import GitError, OrchestraError, Runtime, UsageError, load_config
from claude_orchestra.cli._output import problem_lines, workspace_option
from claude_orchestra.orchestrator import runtime_of
from claude_orchestra.plugins import PluginHost
from claude_orchestra.tmux import TmuxServer
from claude_orchestra.workspace import Workspace
from claude_orchestra.worktree import GitRepo, Worktree


async def cleanup(workspace: Workspace) -> list[str]:
    """Clean ``workspace``; returns one line per worktree that had to stay."""
    facts = workspace.read_run_file() or {}
    socket = facts.get("tmuxSocket")
    if isinstance(socket, str):
        await _runtime(facts, socket).close()
    if not workspace.repo.exists():
        return []
    repo = GitRepo.open(workspace.repo, credentials_file=workspace.git_credentials)
    base = str(facts.get("branch", "main"))
    kept = []
    for info in await repo.worktrees():
        if info.is_main or info.branch is None:
            continue
        if not workspace.made_checkout(info.path):
            # `git worktree list` reads each worktree's `gitdir` file, which its instance
            # can rewrite: only folders of the run's own layout are ever removed.
            kept.append(f"kept {info.path}: not a checkout of this workspace")
            continue
        try:
            await Worktree(repo=repo, path=info.path, branch=info.branch, base=base).remove()
        except GitError as exc:
            kept.append(f"kept {info.path}: {exc.reason}")
    return kept


def _runtime(facts: dict[str, Any], socket: str) -> Runtime:
    """The run's own runtime (so a container runtime removes its containers too), else its
    tmux server alone when its config is gone or its runtime's tool is."""
    config_dir = facts.get("configDir")
    if isinstance(config_dir, str):
        try:
            return runtime_of(load_config(config_dir), PluginHost(), socket)
        except OrchestraError as exc:
            problem_lines([f"ending its tmux server only: {exc}"])
    return TmuxServer.attach(socket)


@click.command(
    "cleanup",
    short_help="Remove a run's tmux server and merged worktrees.",
    epilog="""\b
Examples:
  claude-orchestra cleanup --workspace ./config/workspace
""",
)
@workspace_option
def command(workspace: Path) -> int:
    """Remove what a run left: its tmux server and the worktrees origin holds.

    A worktree with commits found nowhere else stays, named on stderr (exit 1). The main
    clone and .orchestra/ (report, journal, logs) stay.
    """
    folder = Workspace(workspace)
    if not folder.state.exists() and not folder.repo.exists():
        raise UsageError("--workspace", f"{folder.root} holds no claude-orchestra run")
    kept = anyio.run(cleanup, folder)
    problem_lines(kept)
    if not kept:
        print(f"cleaned {folder.root}")
    return 1 if kept else 0
