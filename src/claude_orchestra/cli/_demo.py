"""``claude-orchestra demo``: a complete orchestration, offline, on the built-in fake API.

Installs the pinned Claude Code into the per-user cache when it is missing (npm), makes a
throwaway bare ``origin`` with a small ``PROJECT_DIRECTION.md``, starts the fake Anthropic
API (the scripted model plays the manager and the workers), writes a config folder for it,
runs the real Claude Code CLI in tmux with two workers, and prints what happened: the
tasks, the commits merged on origin, tokens and cost per instance, and where the report
is. When it fails before the run could finish, it removes what it created.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

import click

from claude_orchestra import (
    CLAUDE_CODE_VERSION,
    Orchestrator,
    PrerequisiteError,
    RunSummary,
    load_config,
    summary_text,
)
from claude_orchestra.claude_install import install_claude
from claude_orchestra.cli import _logging
from claude_orchestra.cli._doctor import wants_install
from claude_orchestra.cli._output import Folder, show_dashboard
from claude_orchestra.machine import Machine
from claude_orchestra.prerequisites import (
    cache_dir,
    check_all,
    problems,
)
from claude_orchestra.testing.fake_api import FakeAnthropicAPI
from claude_orchestra.testing.sample import create_origin, write_config_folder


def ready(machine: Machine) -> None:
    """Install the pinned Claude Code when missing; then claude, tmux and git must be there.

    Raises:
        PrerequisiteError: something the demo needs is missing (one line per problem).
    """
    checks = check_all(machine, login=False, installers=False)
    if wants_install(checks, machine, None):
        click.echo(
            f"Installing Claude Code {CLAUDE_CODE_VERSION} into {cache_dir(machine)} "
            "(once; ~370 MB)",
            err=True,
        )
        install_claude(machine)
        checks = check_all(machine, login=False, installers=False)
    lines = problems(checks)
    if lines:
        name, _, reason = "\n".join(lines).partition(": ")
        raise PrerequisiteError(name, reason)


def _run(folder: Path, workers: int, verbose: int, quiet: bool, *, dashboard: bool) -> RunSummary:
    origin = create_origin(folder)
    key = f"sk-ant-demo-{secrets.token_hex(16)}"
    _logging.configure(verbose, quiet)
    try:
        with FakeAnthropicAPI() as fake:
            fake.register("fake-api", key)
            config = load_config(
                write_config_folder(
                    folder / "config",
                    origin=origin,
                    workers=workers,
                    base_url=fake.base_url,
                    key=key,
                    workspace=folder / "workspace",
                    extra={"dashboard": True} if dashboard else None,
                )
            )
            orchestrator = Orchestrator(
                config, load_entry_points=False, on_dashboard=show_dashboard
            )
            _logging.add_file_log(orchestrator.workspace.logs, orchestrator.secrets)
            summary = orchestrator.run_sync()
            served = fake.served_usage().total
    finally:
        _logging.remove_handlers()
    _print(folder, origin, summary, served)
    return summary


def _print(folder: Path, origin: Path, summary: RunSummary, served: int) -> None:
    log = subprocess.run(
        ["git", "--git-dir", str(origin), "log", "--oneline", "--graph", "main"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    report = json.loads(summary.report_path.read_text())
    print()
    print(summary_text(summary))
    print("\nTasks:")
    for task in report["tasks"]:
        print(f"  [{'x' if task['done'] else ' '}] worker {task['worker']}: {task['task']}")
    print(f"\nOrigin's main after the run ({origin}):")
    print("\n".join(f"  {line}" for line in log.splitlines()))
    match = "equal to" if served == summary.total_usage.total else "DIFFERENT from"
    print(f"\nTokens in the transcripts are {match} what the fake API served ({served}).")
    print(f"Everything is in {folder}")


def _remove_created(folder: Path, existed: bool) -> None:
    if not existed:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


@click.command(
    "demo",
    short_help="A full orchestration offline, on a fake API.",
    epilog="""\b
Examples:
  claude-orchestra demo
  claude-orchestra demo --workers 3 --dir ./demo
  claude-orchestra demo --dashboard
  uvx claude-orchestra demo
""",
)
@click.option(
    "--dir",
    "folder",
    type=Folder(),
    help="An empty folder for the demo (default: a new temporary one).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 20),
    default=2,
    show_default=True,
    help="How many workers.",
)
@click.option(
    "--dashboard",
    is_flag=True,
    help="Serve the web dashboard while the demo runs and print its URL.",
)
@click.pass_obj
def command(obj: dict[str, int], folder: Path | None, workers: int, dashboard: bool) -> int:
    """Run a full orchestration offline: the real Claude Code, a fake API, no account.

    Installs the pinned Claude Code into the per-user cache first when it is missing
    (npm; about 370 MB, once). The exit code is the run's; when the demo fails before its
    run ends, the folder it made is removed.
    """
    if folder is not None and folder.exists() and any(folder.iterdir()):
        raise click.BadParameter(f"{folder} is not empty", param_hint="--dir")
    ready(Machine.current())
    existed = folder is not None and folder.exists()
    folder = folder or Path(tempfile.mkdtemp(prefix="claude-orchestra-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        summary = _run(folder, workers, obj["verbose"], bool(obj["quiet"]), dashboard=dashboard)
    except BaseException:
        _remove_created(folder, existed)
        raise
    return summary.exit_code
