"""Installing the pinned Claude Code into the per-user cache (``doctor --fix``, ``demo``).

``npm install --prefix <cache>/claude-orchestra/claude-code-<version>
@anthropic-ai/claude-code@<version>``: the native binary (~370 MB) arrives through the
package's optional dependency for this platform and its ``postinstall``. Nothing is
installed globally, and nothing outside the cache folder is touched.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from claude_orchestra.errors import PrerequisiteError
from claude_orchestra.machine import Machine, install_line
from claude_orchestra.pins import CLAUDE_CODE_VERSION
from claude_orchestra.prerequisites import (
    CLAUDE_CODE_PACKAGE,
    cache_dir,
    claude_version,
)

Runner = Callable[[Sequence[str]], int]
"""Runs a command, its output on our stderr (stdout stays for ``--json``); returns its exit
code."""


def _run(command: Sequence[str]) -> int:
    return subprocess.run(list(command), stdout=sys.stderr, check=False).returncode


def npm_command(npm: str, prefix: Path, version: str = CLAUDE_CODE_VERSION) -> list[str]:
    """The npm command line that installs Claude Code ``version`` under ``prefix``."""
    return [
        npm,
        "install",
        "--prefix",
        str(prefix),
        "--no-audit",
        "--no-fund",
        "--no-save",
        "--loglevel=error",
        f"{CLAUDE_CODE_PACKAGE}@{version}",
    ]


def install_claude(machine: Machine, *, run: Runner = _run) -> Path:
    """Install the pinned Claude Code into the cache; returns its ``claude``.

    Raises:
        PrerequisiteError: npm is missing, fails, or leaves no working binary.
    """
    npm = machine.which("npm")
    if npm is None:
        raise PrerequisiteError(
            "npm",
            "not found on PATH (it installs Claude Code); "
            f"fix: {install_line('npm', machine.platform)}",
        )
    prefix = cache_dir(machine)
    prefix.mkdir(parents=True, exist_ok=True)
    code = run(npm_command(npm, prefix))
    if code != 0:
        raise PrerequisiteError(
            "claude", f"npm install into {prefix} failed (exit {code}); see npm's output above"
        )
    claude = prefix / "node_modules" / ".bin" / "claude"
    version = claude_version(str(claude), machine)
    if version != CLAUDE_CODE_VERSION:
        raise PrerequisiteError(
            "claude",
            f"{claude} answers {version or 'nothing'} to --version after npm install "
            "(was it installed with --ignore-scripts?); remove "
            f"{prefix} and try again",
        )
    return claude
