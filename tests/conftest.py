"""Fixtures shared by every test directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from claude_orchestra.testing.tools import require_claude, require_tmux


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio (uvicorn needs it)."""
    return "asyncio"


@pytest.fixture
def claude_binary() -> Path:
    """The pinned Claude Code CLI (skipped locally when missing, a failure under CI)."""
    return require_claude()


@pytest.fixture
def tmux_binary() -> str:
    """tmux (skipped locally when missing, a failure under CI)."""
    return require_tmux()
