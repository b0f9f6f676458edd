"""How long events wait for the loop: from received (a hook POST, a pane's death, a git
round's result) to applied.

The loop is the run's only writer; everything it waits on delays every event behind it.
:class:`LoopLatency` keeps the most recent waits (a bounded window) and gives their
percentiles for ``status`` and the report.
"""

from __future__ import annotations

import collections
import math
from typing import Any, final

import attrs

WINDOW = 2_000
"""How many of the latest events the percentiles are taken over."""


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``sorted_values`` (``fraction`` in 0..1)."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


@final
@attrs.define(eq=False)
class LoopLatency:
    """The loop's event latency over the last :data:`WINDOW` events."""

    _waits: collections.deque[float] = attrs.field(
        init=False, factory=lambda: collections.deque(maxlen=WINDOW)
    )
    _count: int = attrs.field(init=False, default=0)
    _max: float = attrs.field(init=False, default=0.0)

    def record(self, seconds: float) -> None:
        """One event waited ``seconds`` between its arrival and the end of its applying."""
        seconds = max(0.0, seconds)
        self._waits.append(seconds)
        self._count += 1
        self._max = max(self._max, seconds)

    def as_json(self) -> dict[str, Any]:
        """``{"events", "p50Ms", "p99Ms", "maxMs"}`` (``None`` before the first event)."""
        if not self._waits:
            return {"events": 0, "p50Ms": None, "p99Ms": None, "maxMs": None}
        waits = sorted(self._waits)
        return {
            "events": self._count,
            "p50Ms": round(percentile(waits, 0.50) * 1000, 2),
            "p99Ms": round(percentile(waits, 0.99) * 1000, 2),
            "maxMs": round(self._max * 1000, 2),
        }
