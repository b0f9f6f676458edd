"""Where the CLI writes: rich consoles (colour in a terminal, plain text otherwise), JSON,
and one-line problems on stderr."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click
from rich.console import Console, RenderableType

PROG = "claude-orchestra"
_PLAIN_WIDTH = 200
"""Columns when the output is not a terminal: wide, so a pipe gets whole lines."""


def console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr): colour only in a terminal and without ``NO_COLOR``
    (rich reads ``NO_COLOR``, ``FORCE_COLOR`` and ``COLUMNS`` itself)."""
    probe = Console(stderr=stderr)
    return Console(
        stderr=stderr,
        highlight=False,
        soft_wrap=not probe.is_terminal,
        width=None if probe.is_terminal else _PLAIN_WIDTH,
    )


def show_dashboard(url: str) -> None:
    """Tell the person the web dashboard's URL: straight to the terminal, not through
    logging (the URL carries the dashboard's token, which the log's redaction would hide
    and a log file must not hold)."""
    click.echo(f"dashboard: {url}", err=True)


def print_json(document: Any) -> None:
    """``document`` as indented JSON on stdout, nothing else."""
    print(json.dumps(document, indent=2, default=str))


def problem_lines(lines: Iterable[str]) -> None:
    """Each line on stderr as ``claude-orchestra: LINE``."""
    err = console(stderr=True)
    for line in lines:
        err.print(f"{PROG}: {line}", markup=False, style="red", soft_wrap=True)


def warning_lines(lines: Iterable[str]) -> None:
    """Each line on stderr as ``claude-orchestra: warning: LINE``."""
    err = console(stderr=True)
    for line in lines:
        err.print(f"{PROG}: warning: {line}", markup=False, style="yellow", soft_wrap=True)


def show(renderable: RenderableType) -> None:
    """``renderable`` on stdout: styled in a terminal; plain lines, no trailing blanks,
    otherwise."""
    out = console()
    if out.is_terminal:
        out.print(renderable)
        return
    with out.capture() as captured:
        out.print(renderable)
    print("\n".join(line.rstrip() for line in captured.get().splitlines()))


class Folder(click.Path):
    """A folder argument: a ``Path``, never a file; a NUL byte is a usage error (exit 2),
    not the ``ValueError`` the file system raises on it."""

    def __init__(self, *, exists: bool = False) -> None:
        super().__init__(path_type=Path, file_okay=False, exists=exists)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and "\0" in value:
            self.fail("the path holds a NUL byte", param, ctx)
        return super().convert(value, param, ctx)


workspace_option = click.option(
    "--workspace", type=Folder(), required=True, help="The run's workspace."
)
"""``--workspace DIR``, as every command that reads a run takes it."""
