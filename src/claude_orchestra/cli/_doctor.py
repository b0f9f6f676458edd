"""``claude-orchestra doctor [--fix] [--config DIR] [--runtime NAME] [--json]``: what a run
needs on this machine, and the fix for each problem on this platform."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Group
from rich.table import Table
from rich.text import Text

from claude_orchestra import CLAUDE_CODE_VERSION, OrchestraError, RunConfig, load_config
from claude_orchestra.claude_install import install_claude
from claude_orchestra.cli._output import Folder, print_json, problem_lines, show
from claude_orchestra.machine import Machine
from claude_orchestra.prerequisites import (
    Check,
    Severity,
    cache_dir,
    check_all,
)

_STYLES = {Severity.OK: "green", Severity.WARNING: "yellow", Severity.PROBLEM: "bold red"}


def _config_check(folder: Path) -> tuple[Check, RunConfig | None]:
    try:
        config = load_config(folder)
    except OrchestraError as exc:
        return Check(
            name="config", severity=Severity.PROBLEM, found="; ".join(str(exc).splitlines())
        ), None
    settings = config.orchestrator
    found = f"{folder}: {settings.worker_count} worker(s), runtime {settings.runtime}"
    return Check(name="config", severity=Severity.OK, found=found), config


def diagnose(
    machine: Machine, *, config_dir: Path | None, runtime: str | None
) -> tuple[list[Check], RunConfig | None]:
    """Every check, the config folder's first when one is given; and the loaded config."""
    checks: list[Check] = []
    config = None
    if config_dir is not None:
        check, config = _config_check(config_dir)
        checks.append(check)
    return checks + check_all(machine, config=config, runtime=runtime), config


def _table(checks: list[Check]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("status", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("found", overflow="fold")
    table.add_column("fix", overflow="fold")
    for check in checks:
        table.add_row(
            Text(check.severity.value, style=_STYLES[check.severity]),
            check.name,
            check.found,
            check.fix or "",
        )
    return table


def wants_install(checks: list[Check], machine: Machine, config: RunConfig | None) -> bool:
    """True when the pinned Claude Code is missing and nobody chose another claude."""
    explicit = machine.environ.get("CLAUDE_ORCHESTRA_CLAUDE") or (
        config and config.orchestrator.claude_command
    )
    claude = next(c for c in checks if c.name == "claude")
    return claude.severity is Severity.PROBLEM and not explicit


@click.command(
    "doctor",
    short_help="Check (and --fix) what a run needs here.",
    epilog=f"""\b
Examples:
  claude-orchestra doctor
  claude-orchestra doctor --fix              # installs Claude Code {CLAUDE_CODE_VERSION}
  claude-orchestra doctor --config ./config --json
""",
)
@click.option(
    "--fix",
    is_flag=True,
    help="Install the pinned Claude Code into the per-user cache with npm when missing.",
)
@click.option(
    "--config",
    "config_dir",
    type=Folder(),
    help="Also check this config folder (its claudeCommand, runtime and keys).",
)
@click.option("--runtime", help="Check for this runtime (local, sandbox, container).")
@click.option("--json", "as_json", is_flag=True, help="The checks as JSON on stdout.")
def command(fix: bool, config_dir: Path | None, runtime: str | None, as_json: bool) -> int:
    """Check what a run needs on this machine, and say how to fix each problem.

    The pinned Claude Code (found via claudeCommand, CLAUDE_ORCHESTRA_CLAUDE, a source
    checkout's tools/, the per-user cache, then PATH, whose claude must be the pinned
    version), Node and npm, tmux, git, bubblewrap for the sandbox runtime, a usable login,
    and the config folder if given. Exit 0 when a run can start, 2 otherwise.
    """
    machine = Machine.current()
    checks, config = diagnose(machine, config_dir=config_dir, runtime=runtime)
    if fix and wants_install(checks, machine, config):
        target = cache_dir(machine)
        click.echo(
            f"Installing Claude Code {CLAUDE_CODE_VERSION} into {target} (~370 MB)", err=True
        )
        try:
            install_claude(machine)
        except OrchestraError as exc:
            problem_lines([str(exc)])
        checks, config = diagnose(machine, config_dir=config_dir, runtime=runtime)
    ok = all(check.ok for check in checks)
    if as_json:
        print_json(
            {
                "ok": ok,
                "platform": machine.platform,
                "claudeCodeVersion": CLAUDE_CODE_VERSION,
                "cache": str(cache_dir(machine)),
                "checks": [check.as_json() for check in checks],
            }
        )
    else:
        verdict = (
            Text("ready to run", style="green")
            if ok
            else Text("not ready: fix the problems above", style="bold red")
        )
        show(Group(_table(checks), verdict))
    return 0 if ok else 2
