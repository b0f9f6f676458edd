"""Fixtures shared by every test directory."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio (uvicorn needs it)."""
    return "asyncio"
