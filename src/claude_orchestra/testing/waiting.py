"""The one bounded poll tests may use: for facts no event announces.

Claude Code flushes its transcript a moment after a turn's ``Stop``; nothing signals it.
Everything with an event is awaited through the event instead.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio


async def wait_until(
    condition: Callable[[], bool], *, limit: float = 10.0, interval: float = 0.05
) -> None:
    """Return once ``condition()`` holds; ``TimeoutError`` after ``limit`` seconds."""
    with anyio.fail_after(limit):
        while not condition():  # noqa: ASYNC110 (no event exists for what this waits on)
            await anyio.sleep(interval)
