"""Finding the real tools the integration tests drive: the pinned claude, tmux, bwrap,
ccusage, and Chromium (the dashboard's browser tests).

Each ``require_*`` skips the test when its tool is missing, and fails it when ``CI`` is set:
CI runs ``make setup``, which installs every one of them, so a missing tool there is a
broken set-up, never a reason to pass.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from claude_orchestra.testing import ssh_host

REPO_ROOT = Path(__file__).resolve().parents[3]
"""The source checkout (an editable install); its tools/ holds the pinned Claude Code."""


def pinned_claude() -> Path | None:
    """The project-local Claude Code binary, if ``make setup`` installed it."""
    for candidate in (
        os.environ.get("CLAUDE_ORCHESTRA_CLAUDE"),
        REPO_ROOT / "tools/node_modules/.bin/claude",
    ):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    return None


def require(name: str, path: Path | str | None) -> None:
    """Skip the test when a tool is missing, but fail it under CI (``CI`` is set)."""
    if path:
        return
    message = f"{name} is not installed (run `make setup`)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def require_claude() -> Path:
    """The pinned claude binary, or skip (fail under CI)."""
    found = pinned_claude()
    require("claude", found)
    assert found is not None
    return found


def require_tmux() -> str:
    """tmux on PATH, or skip (fail under CI)."""
    found = shutil.which("tmux")
    require("tmux", found)
    assert found is not None
    return found


def require_bwrap() -> str:
    """bubblewrap on PATH (the sandbox runtime), or skip (fail under CI); always a skip
    off Linux, where bubblewrap does not run."""
    if not sys.platform.startswith("linux"):
        pytest.skip(f"bubblewrap runs on Linux only, not {sys.platform}")
    found = shutil.which("bwrap")
    require("bwrap", found)
    assert found is not None
    return found


def pinned_ccusage() -> Path | None:
    """The project-local ccusage binary (the ledger's cross-check), if ``make setup``
    installed it."""
    found = REPO_ROOT / "tools/ccusage/node_modules/.bin/ccusage"
    return found if found.exists() else None


def require_ccusage() -> Path:
    """The pinned ccusage binary, or skip (fail under CI)."""
    found = pinned_ccusage()
    require("ccusage", found)
    assert found is not None
    return found


def require_chromium() -> str:
    """Debian's ``chromium`` on PATH (the web dashboard's browser tests drive it headless
    through Playwright, which downloads no browser of its own), or skip (fail under CI)."""
    found = shutil.which("chromium")
    require("chromium", found)
    assert found is not None
    return found


def require_ssh_host() -> None:
    """A second host can be made here (root, Linux, sshd, iproute2: see
    :mod:`claude_orchestra.testing.ssh_host`), or skip (fail under CI)."""
    problem = ssh_host.missing()
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"no second host: {problem}")
    pytest.skip(f"no second host: {problem}")
