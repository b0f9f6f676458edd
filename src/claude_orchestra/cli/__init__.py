"""The ``claude-orchestra`` command: ``main(argv) -> exit code``.

Exit codes: 0 done; 1 something unexpected (traceback in the log); 2 bad usage, config or
missing prerequisite (one line on stderr, no traceback); 3 time limit reached (stopped
gracefully, work pushed); 4 budget spent (likewise); 5 stalled (nothing left that can run,
work pushed); 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import NoReturn

from claude_orchestra.errors import OrchestraError, UsageError

from . import _cleanup, _demo, _run, _status, _validate

logger = logging.getLogger("claude_orchestra.cli")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line and exits 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(self.prog, message)


def build_parser() -> argparse.ArgumentParser:
    """The command line, one sub-command per module."""
    parser = _Parser(prog="claude-orchestra", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more output")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module in (_run, _status, _validate, _cleanup, _demo):
        module.register(commands)
    return parser


def _terminate_as_interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM ends a run the way Ctrl-C does: instances stopped, work pushed, report written.
    signal.raise_signal(signal.SIGINT)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    try:
        args = build_parser().parse_args(argv)
        code: int = args.handler(args)
    except OrchestraError as exc:
        for line in str(exc).splitlines():
            print(f"claude-orchestra: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("claude-orchestra: interrupted", file=sys.stderr)
        return 130
    return code
