"""``claude-orchestra run --config DIR``: one orchestration, to the end.

``run --resume --workspace DIR`` takes up a run whose process was killed, with the config
folder it was started with (``--config`` to give another).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from claude_orchestra.cli import _logging
from claude_orchestra.config import RunConfig, load_config
from claude_orchestra.errors import UsageError
from claude_orchestra.orchestrator import Orchestrator
from claude_orchestra.report import summary_text
from claude_orchestra.workspace import Workspace


def register(commands: Any) -> None:
    """Add the ``run`` sub-command."""
    parser = commands.add_parser("run", help="run an orchestration to the end")
    parser.add_argument("--config", type=Path, help="the config folder")
    parser.add_argument("--workspace", type=Path, help="override workspaceDir")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="take up the killed run in --workspace (its config folder unless --config)",
    )
    parser.add_argument(
        "--disable-plugin", action="append", default=[], metavar="NAME", help="do not load NAME"
    )
    parser.set_defaults(handler=handle)


def _config(args: argparse.Namespace) -> RunConfig:
    if args.resume and args.workspace is None:
        raise UsageError("--resume", "needs --workspace DIR (the killed run's workspace)")
    folder = args.config
    if folder is None and args.resume:
        facts = Workspace(args.workspace).read_run_file() or {}
        if not isinstance(facts.get("configDir"), str):
            raise UsageError("--resume", f"{args.workspace} names no config folder; give --config")
        folder = Path(facts["configDir"])
    if folder is None:
        raise UsageError("--config", "required (the config folder)")
    config = load_config(folder)
    return config if args.workspace is None else config.with_workspace(args.workspace)


def handle(args: argparse.Namespace) -> int:
    """Load the config, run, print the summary; the exit code is the outcome's."""
    orchestrator = Orchestrator(_config(args), blocked_plugins=args.disable_plugin)
    _logging.configure(args.verbose, args.quiet)
    try:
        _logging.add_file_log(orchestrator.workspace.logs, orchestrator.secrets)
        summary = orchestrator.run_sync(resume=args.resume)
    finally:
        _logging.remove_handlers()
    print(summary_text(summary))
    return summary.exit_code
