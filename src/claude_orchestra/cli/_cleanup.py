"""``claude-orchestra cleanup --workspace DIR``: remove what a run left, never unmerged work.

The work is :func:`claude_orchestra.cleanup_workspace`'s; a worktree it had to keep is
named on stderr (exit 1).
"""

from __future__ import annotations

import functools
from pathlib import Path

import anyio
import click

from claude_orchestra import UsageError, Workspace, cleanup_workspace
from claude_orchestra.cli._output import problem_lines, workspace_option


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
    kept = anyio.run(
        functools.partial(cleanup_workspace, warn=lambda line: problem_lines([line])),
        folder.root,
    )
    problem_lines(kept)
    if not kept:
        print(f"cleaned {folder.root}")
    return 1 if kept else 0
