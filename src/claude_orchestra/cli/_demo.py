"""``claude-orchestra demo``: a complete orchestration, offline, on the built-in fake API.

Makes a throwaway bare ``origin`` with a small ``PROJECT_DIRECTION.md``, starts the fake
Anthropic API (the scripted model plays the manager and the workers), writes a config
folder for it, runs the real Claude Code CLI in tmux with two workers, and prints what
happened: the tasks, the commits merged on origin, tokens and cost per instance, and where
the report is.
"""

from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from claude_orchestra.cli import _logging
from claude_orchestra.config import load_config
from claude_orchestra.errors import UsageError
from claude_orchestra.orchestrator import Orchestrator
from claude_orchestra.report import summary_text
from claude_orchestra.testing.fake_api import FakeAnthropicAPI
from claude_orchestra.testing.sample import create_origin, write_config_folder


def register(commands: Any) -> None:
    """Add the ``demo`` sub-command."""
    parser = commands.add_parser("demo", help="run a full orchestration offline on a fake API")
    parser.add_argument(
        "--dir", type=Path, help="an empty folder for the demo (default: a new temporary one)"
    )
    parser.add_argument("--workers", type=int, default=2, help="how many workers (default 2)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run the demo; the exit code is the run's."""
    if not 1 <= args.workers <= 20:
        raise UsageError("--workers", f"must be between 1 and 20, got {args.workers}")
    folder = args.dir or Path(tempfile.mkdtemp(prefix="claude-orchestra-demo-"))
    if folder.exists() and any(folder.iterdir()):
        raise UsageError("--dir", f"{folder} is not empty")
    origin = create_origin(folder)
    key = f"sk-ant-demo-{secrets.token_hex(16)}"
    _logging.configure(args.verbose, args.quiet)
    try:
        with FakeAnthropicAPI() as fake:
            fake.register("fake-api", key)
            config = load_config(
                write_config_folder(
                    folder / "config",
                    origin=origin,
                    workers=args.workers,
                    base_url=fake.base_url,
                    key=key,
                    workspace=folder / "workspace",
                )
            )
            orchestrator = Orchestrator(config, load_entry_points=False)
            _logging.add_file_log(orchestrator.workspace.logs, orchestrator.secrets)
            summary = orchestrator.run_sync()
            served = fake.served_usage()
    finally:
        _logging.remove_handlers()
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
    match = "equal to" if served.total == summary.total_usage.total else "DIFFERENT from"
    print(f"\nTokens in the transcripts are {match} what the fake API served ({served.total}).")
    print(f"Everything is in {folder}")
    return summary.exit_code
