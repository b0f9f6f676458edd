"""How a run can end, and the exit code the command gives for each ending."""

from __future__ import annotations

import enum


class Outcome(enum.Enum):
    """How a run ended, and the CLI's exit code for it."""

    COMPLETE = "complete"
    TIME_LIMIT = "time_limit"
    STALLED = "stalled"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    BUDGET = "budget"

    @property
    def exit_code(self) -> int:
        """0 complete, 3 time limit, 4 budget spent, 5 stalled, 130 interrupted, 1 failed."""
        codes = {"complete": 0, "time_limit": 3, "budget": 4, "stalled": 5, "interrupted": 130}
        return codes.get(self.value, 1)
