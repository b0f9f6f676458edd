"""The ``claude-orchestra`` command: ``main(argv) -> exit code``.

Built with click (one sub-command per module) and rich (colour and aligned tables in a
terminal, plain text in a pipe, none with ``NO_COLOR``).

Exit codes: 0 done; 1 something unexpected (traceback in the log); 2 bad usage, config or
missing prerequisite (one line on stderr, no traceback); 3 time limit reached (stopped
gracefully, work pushed); 4 budget spent (likewise); 5 stalled (nothing left that can run,
work pushed); 130 interrupted.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

import click

import claude_orchestra
from claude_orchestra import CLAUDE_CODE_VERSION, OrchestraError

from . import _attach, _cleanup, _demo, _doctor, _init, _run, _status, _validate, _watch
from ._output import PROG, problem_lines

_EPILOG = """\b
Examples:
  claude-orchestra demo                      # a whole run, offline, on a fake API
  claude-orchestra doctor --fix              # check (and install) what a run needs
  claude-orchestra init --repo . ./config    # a config folder to edit
  claude-orchestra run --config ./config     # plan, build, merge, push

\b
Shell completion (bash; zsh and fish likewise):
  eval "$(_CLAUDE_ORCHESTRA_COMPLETE=bash_source claude-orchestra)"

\b
Exit codes: 0 done, 1 unexpected, 2 usage/config/prerequisite, 3 time limit,
4 budget spent, 5 stalled, 130 interrupted.
"""


def _version() -> str:
    return f"{claude_orchestra.__version__} (drives Claude Code {CLAUDE_CODE_VERSION})"


@click.group(
    name=PROG,
    epilog=_EPILOG,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(_version(), "-V", "--version", prog_name=PROG, message="%(prog)s %(version)s")
@click.option("-v", "--verbose", count=True, help="More output (debug with -v).")
@click.option("-q", "--quiet", is_flag=True, help="Warnings and errors only.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Run a team of real Claude Code instances on one git repository: a manager that
    plans and merges, workers in their own worktrees, all in tmux."""
    ctx.obj = {"verbose": verbose, "quiet": quiet}


for _module in (_run, _status, _watch, _attach, _validate, _cleanup, _demo, _doctor, _init):
    cli.add_command(_module.command)


def _terminate_as_interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM ends a run the way Ctrl-C does: instances stopped, work pushed, report written.
    signal.raise_signal(signal.SIGINT)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = cli.main(args=args, prog_name=PROG, standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.format_message(), err=True)
        return 2
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else PROG
        problem_lines([f"{exc.format_message()} (see `{where} --help`)"])
        return 2
    except click.ClickException as exc:
        problem_lines([exc.format_message()])
        return 2
    except OrchestraError as exc:
        problem_lines(str(exc).splitlines())
        return 2
    except (KeyboardInterrupt, click.Abort):
        problem_lines(["interrupted"])
        return 130
    return code if isinstance(code, int) else 0
