"""``claude-orchestra cleanup --workspace DIR``: remove what a run left, never unmerged work.

Ends the run's private tmux server (and every process in it), then removes each worker's
worktree whose commits origin holds (merged, pushed or preserved). A worktree with commits
that exist nowhere else is left in place, and the command says which and why (exit 1). The
main clone and ``.orchestra/`` (report, journal, logs) stay.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import anyio

from claude_orchestra.config import load_config
from claude_orchestra.errors import GitError, OrchestraError, UsageError
from claude_orchestra.orchestrator import runtime_of
from claude_orchestra.plugins import PluginHost
from claude_orchestra.runtime import Runtime
from claude_orchestra.tmux import TmuxServer
from claude_orchestra.workspace import Workspace
from claude_orchestra.worktree import GitRepo, Worktree


def register(commands: Any) -> None:
    """Add the ``cleanup`` sub-command."""
    parser = commands.add_parser("cleanup", help="remove a run's tmux server and worktrees")
    parser.add_argument("--workspace", type=Path, required=True, help="the run's workspace")
    parser.set_defaults(handler=handle)


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
            print(f"claude-orchestra: ending its tmux server only: {exc}", file=sys.stderr)
    return TmuxServer.attach(socket)


def handle(args: argparse.Namespace) -> int:
    """Exit 0 when everything went, 1 when some worktree had to stay."""
    workspace = Workspace(args.workspace)
    if not workspace.state.exists() and not workspace.repo.exists():
        raise UsageError("--workspace", f"{workspace.root} holds no claude-orchestra run")
    kept = anyio.run(cleanup, workspace)
    for line in kept:
        print(f"claude-orchestra: {line}", file=sys.stderr)
    if not kept:
        print(f"cleaned {workspace.root}")
    return 1 if kept else 0
