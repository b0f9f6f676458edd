"""``claude-orchestra validate --config DIR [--json]``: check a config and this machine
without running anything."""

from __future__ import annotations

from pathlib import Path

import click

from claude_orchestra import OrchestraError, load_config
from claude_orchestra.cli._output import Folder, print_json
from claude_orchestra.cli._preflight import preflight


@click.command(
    "validate",
    short_help="Check a config folder and this machine; run nothing.",
    epilog="""\b
Examples:
  claude-orchestra validate --config ./config
  claude-orchestra validate --config ./config --json
""",
)
@click.option(
    "--config",
    type=Folder(),
    required=True,
    help="The config folder.",
)
@click.option("--json", "as_json", is_flag=True, help="The verdict as JSON on stdout.")
def command(config: Path, as_json: bool) -> int:
    """Check a config folder, and that this machine has what a run of it needs.

    Exit 0 and say what would run, or exit 2 with one line per problem (the same checks
    as `run`, which never starts half-ready).
    """
    try:
        loaded = load_config(config)
        checks = preflight(loaded)
    except OrchestraError as exc:
        if not as_json:
            raise
        print_json({"ok": False, "config": str(config), "problems": str(exc).splitlines()})
        return 2
    settings = loaded.orchestrator
    names = [c.name for c in loaded.credentials]
    url = loaded.printable_repository  # a token in an https URL blanked out
    if as_json:
        print_json(
            {
                "ok": True,
                "config": str(config),
                "repositoryUrl": url,
                "branch": settings.branch,
                "workerCount": settings.worker_count,
                "runtime": settings.runtime,
                "credentials": names,
                "workspace": str(loaded.workspace),
                "checks": [c.as_json() for c in checks],
            }
        )
        return 0
    print(
        f"{config}: ok: {settings.worker_count} worker(s) on {url} "
        f"branch {settings.branch}; credentials: {', '.join(names) or 'none'}; "
        f"workspace: {loaded.workspace}"
    )
    return 0
