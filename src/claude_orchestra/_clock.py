"""Clocks are injected: the real one reads ``time``; tests pass one they can move."""

from __future__ import annotations

import time
from typing import Protocol, final

import attrs


class Clock(Protocol):
    """Where ``now`` comes from."""

    def now(self) -> float:
        """Seconds on a monotonic scale (for deadlines and durations)."""
        ...

    def wall(self) -> float:
        """Seconds since the epoch (for reports and reset times)."""
        ...


@final
class SystemClock:
    """The machine's clocks."""

    def now(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def wall(self) -> float:
        """``time.time()``."""
        return time.time()


@final
@attrs.define
class ManualClock:
    """A clock that moves only when told to (for tests)."""

    monotonic: float = 1000.0
    epoch: float = 1_800_000_000.0

    def now(self) -> float:
        """The current monotonic reading."""
        return self.monotonic

    def wall(self) -> float:
        """The current wall reading."""
        return self.epoch

    def advance(self, seconds: float) -> None:
        """Move both readings forward."""
        self.monotonic += seconds
        self.epoch += seconds
