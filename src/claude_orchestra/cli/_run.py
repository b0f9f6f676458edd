"""``claude-orchestra run --config DIR``: one orchestration, to the end."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from claude_orchestra.cli import _logging
from claude_orchestra.config import load_config
from claude_orchestra.orchestrator import Orchestrator
from claude_orchestra.report import summary_text


def register(commands: Any) -> None:
    """Add the ``run`` sub-command."""
    parser = commands.add_parser("run", help="run an orchestration to the end")
    parser.add_argument("--config", type=Path, required=True, help="the config folder")
    parser.add_argument("--workspace", type=Path, help="override workspaceDir")
    parser.add_argument(
        "--disable-plugin", action="append", default=[], metavar="NAME", help="do not load NAME"
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Load the config, run, print the summary; the exit code is the outcome's."""
    config = load_config(args.config)
    if args.workspace is not None:
        config = config.with_workspace(args.workspace)
    orchestrator = Orchestrator(config, blocked_plugins=args.disable_plugin)
    _logging.configure(args.verbose, args.quiet)
    try:
        _logging.add_file_log(orchestrator.workspace.logs, orchestrator.secrets())
        summary = orchestrator.run_sync()
    finally:
        _logging.remove_handlers()
    print(summary_text(summary))
    return summary.exit_code
