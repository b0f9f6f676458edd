"""Deadlines the orchestrator's loop wakes up for, as typed values.

The loop waits for its next event no longer than until the earliest timer; a timer that
comes due is handled like an event. There is no ticking clock task and no polling.
"""

from __future__ import annotations

import heapq
import itertools
from typing import final

import attrs


@final
@attrs.frozen(kw_only=True)
class StartDeadline:
    """An instance should have sent ``SessionStart`` by now."""

    instance: str
    launch: int
    """Which launch of the instance this deadline watches."""


@final
@attrs.frozen(kw_only=True)
class DeliveryDeadline:
    """A prompt should have been accepted (``UserPromptSubmit``) by now."""

    instance: str
    prompt_number: int
    nudge: int = 0
    """How many times Enter was pressed again for this prompt before this deadline."""


@final
@attrs.frozen(kw_only=True)
class RetryDue:
    """Time to send a failed instance's prompt again."""

    instance: str


@final
@attrs.frozen(kw_only=True)
class ExitDeadline:
    """A process asked to exit for a restart should have died by now."""

    instance: str
    launch: int


@final
@attrs.frozen(kw_only=True)
class RestartDue:
    """An instance that died again is restarted after its back-off."""

    instance: str
    launch: int
    """The launch that died; a later launch makes this timer moot."""


@final
@attrs.frozen(kw_only=True)
class CredentialDue:
    """A paused instance's wait for a credential is over: decide again."""

    instance: str


@final
@attrs.frozen(kw_only=True)
class QuietDeadline:
    """A working instance has sent no hook event since its ``mark``-th one: look closer."""

    instance: str
    mark: int


@final
@attrs.frozen(kw_only=True)
class ProgressProbe:
    """A quiet instance's progress was noted ``mark`` events ago: has it moved since?"""

    instance: str
    mark: int
    progress: tuple[int, int | None]
    """What was seen: transcript bytes and the spinner's token count."""
    since: float
    """When the instance was last seen making progress (monotonic seconds)."""


Timer = (
    StartDeadline
    | DeliveryDeadline
    | RetryDue
    | ExitDeadline
    | RestartDue
    | CredentialDue
    | QuietDeadline
    | ProgressProbe
)


@final
@attrs.define
class Timers:
    """A heap of timers by due time (monotonic seconds)."""

    _heap: list[tuple[float, int, Timer]] = attrs.field(init=False, factory=list)
    _order: itertools.count[int] = attrs.field(init=False, factory=itertools.count)

    def add(self, due: float, timer: Timer) -> None:
        """Wake the loop at ``due`` for ``timer``."""
        heapq.heappush(self._heap, (due, next(self._order), timer))

    def next_due(self) -> float | None:
        """The earliest due time, or ``None``."""
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[Timer]:
        """Remove and return every timer due at ``now``."""
        due = []
        while self._heap and self._heap[0][0] <= now:
            due.append(heapq.heappop(self._heap)[2])
        return due

    def __len__(self) -> int:
        return len(self._heap)
