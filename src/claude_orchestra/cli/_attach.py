"""``claude-orchestra attach --workspace DIR [NAME]``: this terminal into an instance's
window (or the run's whole tmux session), without knowing the run's tmux socket."""

from __future__ import annotations

import os
from pathlib import Path

import click

from claude_orchestra import RunTmux
from claude_orchestra.cli._output import workspace_option


@click.command(
    "attach",
    short_help="Attach this terminal to an instance's tmux window.",
    epilog="""\b
Examples:
  claude-orchestra attach --workspace ./config/workspace worker-1
  claude-orchestra attach --workspace ./config/workspace           # the whole session
  claude-orchestra attach --workspace ./config/workspace --print manager
\b
Detach (the run goes on) with C-b d.
""",
)
@click.argument("name", required=False)
@workspace_option
@click.option(
    "--nested",
    is_flag=True,
    help="Inside another tmux: attach in a tmux within this one (detach with C-b C-b d).",
)
@click.option("--print", "print_only", is_flag=True, help="Print the tmux command, do not run it.")
def command(workspace: Path, name: str | None, nested: bool, print_only: bool) -> int:
    """Attach this terminal to NAME's window (manager, worker-1, ...) or, without NAME, to
    the run's tmux session, where C-b n and C-b p flip through the instances.

    Inside a client of the run's own tmux server it switches that client instead. Exit 2
    when the workspace holds no run, its tmux server is gone, or NAME is not one of its
    instances.
    """
    argv = RunTmux.of(workspace).attach_command(name, environ=os.environ, nested=nested)
    if print_only:
        print(" ".join(argv))
        return 0
    os.execvp(argv[0], list(argv))  # noqa: S606 (argv is ours: tmux and its arguments)
