"""``claude-orchestra run --config DIR``: one orchestration, to the end.

``run --resume --workspace DIR`` takes up a run whose process was killed, with the config
folder it was started with (``--config`` to give another).
"""

from __future__ import annotations

from pathlib import Path

import attrs
import click

from claude_orchestra import (
    Orchestrator,
    RunConfig,
    UsageError,
    Workspace,
    load_config,
    summary_text,
)
from claude_orchestra.cli import _logging
from claude_orchestra.cli._output import Folder, show_dashboard
from claude_orchestra.cli._preflight import preflight

_DIR = Folder()


def _config(config: Path | None, workspace: Path | None, resume: bool) -> RunConfig:
    if resume and workspace is None:
        raise UsageError("--resume", "needs --workspace DIR (the killed run's workspace)")
    folder = config
    if folder is None and resume and workspace is not None:
        facts = Workspace(workspace).read_run_file() or {}
        if not isinstance(facts.get("configDir"), str):
            raise UsageError("--resume", f"{workspace} names no config folder; give --config")
        folder = Path(facts["configDir"])
    if folder is None:
        raise UsageError("--config", "required (the config folder)")
    loaded = load_config(folder)
    return loaded if workspace is None else loaded.with_workspace(workspace)


@click.command(
    "run",
    short_help="Run an orchestration to the end.",
    epilog="""\b
Examples:
  claude-orchestra run --config ./config
  claude-orchestra run --config ./config --dashboard
  claude-orchestra run --resume --workspace ./config/workspace
""",
)
@click.option("--config", type=_DIR, help="The config folder (orchestrator.json, api-keys.json).")
@click.option("--workspace", type=_DIR, help="Override workspaceDir.")
@click.option(
    "--resume",
    is_flag=True,
    help="Take up the killed run in --workspace (its config folder unless --config).",
)
@click.option(
    "--dashboard",
    is_flag=True,
    help="Serve the web dashboard on 127.0.0.1 and print its URL (config key `dashboard`).",
)
@click.option(
    "--disable-plugin", "disabled", multiple=True, metavar="NAME", help="Do not load NAME."
)
@click.pass_obj
def command(
    obj: dict[str, int],
    *,
    config: Path | None,
    workspace: Path | None,
    resume: bool,
    dashboard: bool,
    disabled: tuple[str, ...],
) -> int:
    """Run an orchestration to the end and print its summary.

    The manager plans from the repository's PROJECT_DIRECTION.md, the workers build in
    their own worktrees, and merges are pushed to origin. The exit code is the outcome's.
    Refuses to start (exit 2) while a prerequisite is missing: see `claude-orchestra doctor`.
    With --dashboard (or "dashboard": true) it prints the web dashboard's URL, which carries
    a token of this run's: open it in a browser on this machine.
    """
    loaded = _config(config, workspace, resume)
    if dashboard:
        loaded = attrs.evolve(
            loaded, orchestrator=attrs.evolve(loaded.orchestrator, dashboard=True)
        )
    preflight(loaded)
    orchestrator = Orchestrator(loaded, blocked_plugins=disabled, on_dashboard=show_dashboard)
    _logging.configure(obj["verbose"], bool(obj["quiet"]))
    try:
        _logging.add_file_log(orchestrator.workspace.logs, orchestrator.secrets)
        summary = orchestrator.run_sync(resume=resume)
    finally:
        _logging.remove_handlers()
    print(summary_text(summary))
    return summary.exit_code
