"""Fixtures shared by every test directory."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from claude_orchestra.testing.ssh_host import SshHost
from claude_orchestra.testing.tools import (
    require_bwrap,
    require_ccusage,
    require_chromium,
    require_claude,
    require_ssh_host,
    require_tmux,
)

# Hypothesis profiles. Both drop the per-example deadline: this suite runs on shared, noisy
# machines where one slow example says nothing about the code, and a flaky deadline error
# hides a real counterexample. ``ci`` (chosen when ``CI`` is set) also derandomizes, so a
# CI run is reproducible; ``--hypothesis-profile NAME`` picks one by hand.
settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio (uvicorn needs it)."""
    return "asyncio"


@pytest.fixture(scope="session")
def claude_binary() -> Path:
    """The pinned Claude Code CLI (skipped locally when missing, a failure under CI)."""
    return require_claude()


@pytest.fixture(scope="session")
def tmux_binary() -> str:
    """tmux (skipped locally when missing, a failure under CI)."""
    return require_tmux()


@pytest.fixture
def bwrap_binary() -> str:
    """bubblewrap (skipped off Linux and locally when missing, a failure under CI)."""
    return require_bwrap()


@pytest.fixture
def ccusage_binary() -> Path:
    """The pinned ccusage (skipped locally when missing, a failure under CI)."""
    return require_ccusage()


@pytest.fixture
def chromium_binary() -> str:
    """Chromium (skipped locally when missing, a failure under CI)."""
    return require_chromium()


@pytest.fixture(scope="session")
def ssh_host() -> Iterator[SshHost]:
    """A second host: sshd in a network namespace of its own, with its own user, home and
    working folder (skipped locally when it cannot be made, a failure under CI). One per
    session: making a namespace, a user and keys is the slow part; each test uses its own
    run folder on it."""
    require_ssh_host()
    with (
        tempfile.TemporaryDirectory(prefix="orchestra-sshd-") as folder,
        SshHost(Path(folder) / "keys") as host,
    ):
        yield host
