"""``claude-orchestra validate --config DIR``: check a config without running anything."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from claude_orchestra.config import load_config
from claude_orchestra.gitops import redact


def register(commands: Any) -> None:
    """Add the ``validate`` sub-command."""
    parser = commands.add_parser("validate", help="check a config folder without running")
    parser.add_argument("--config", type=Path, required=True, help="the config folder")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Exit 0 and say what would run (nothing secret: a token in the repository URL is
    shown as ``***``), or exit 2 with one line per problem."""
    config = load_config(args.config)
    settings = config.orchestrator
    names = ", ".join(c.name for c in config.credentials) or "none"
    repository = redact(settings.repository_url)
    print(
        f"{args.config}: ok: {settings.worker_count} worker(s) on {repository} "
        f"branch {settings.branch}; credentials: {names}; workspace: {config.workspace}"
    )
    return 0
