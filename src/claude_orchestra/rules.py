"""A run's fixed rules: its branch, strategies, deadline and the limits its decisions keep."""

from __future__ import annotations

from typing import final

import attrs


@final
@attrs.frozen(kw_only=True)
class RunRules:
    """The run's fixed facts and limits."""

    run_branch: str
    scheduler: str
    merger: str
    worker_count: int
    deadline: float
    task_file: str | None = None
    """The ``queue`` scheduler's task file on the run branch (``None``: not read)."""
    """Monotonic time at which the run stops (``maxRunDurationMinutes``)."""
    start_timeout: float = 30.0
    exit_timeout: float = 3.0
    """Seconds a process asked to exit for a restart gets before it is replaced anyway.

    After a ``StopFailure`` Claude Code 2.1.328 sometimes ends its session on SIGTERM
    (``SessionEnd``) but lingers for more than 10 s; replacing the pane kills it."""
    delivery_nudges: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
    """Seconds to wait for ``UserPromptSubmit`` before pressing Enter again, in turn.

    The TUI can drop an Enter that arrives while it is still taking in a paste (seen
    right after start-up); pressing it again on an empty input does nothing, so this is
    safe. After the last one the prompt is reported as not delivered."""
    retry_delays: tuple[float, ...] = (5.0, 20.0, 60.0)
    """Back-off before resending a failed turn's prompt; one retry per entry."""
    quiet_after: float = 30.0
    """Seconds a working instance may show no progress at all — no hook event, no growth of
    its transcript, no streamed token on its spinner, no tool running — before its turn is
    stuck and it is restarted on its conversation (``stuckThresholdMs``). Claude Code fires
    no hook while a reply streams, while it retries, or while a request hangs."""
    look_after: float = 8.0
    """Seconds of quiet before the screen is first read: a limit Claude Code is waiting out
    by itself is noticed this soon (the instance moves to a free credential)."""
    probe_after: float = 5.0
    """Seconds between two looks at a quiet instance (its screen and its progress). A hang
    is found within ``quiet_after + probe_after``."""
    max_restarts: int = 3
    restart_delays: tuple[float, ...] = (0.0, 5.0, 20.0)
    """Back-off before restarting an instance that died: the first death, the second..."""
    idle_retries: int = 1
    """Follow-up prompts for a worker that stopped without committing."""
