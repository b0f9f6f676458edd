"""When a run is over, pure: complete, out of budget, or stalled — and never waiting forever.

:func:`run_outcome` looks at what is still going on (:class:`RunFacts`) after the
scheduler has had its say:

- a run budget spent ends the run (``BUDGET``) whatever else goes on;
- every task done on the run branch, nothing to merge, everyone idle: ``COMPLETE``;
- anything still under way (an instance busy or being replaced, a merge, a turn being
  judged, a prompt in flight or kept to send again): not over;
- otherwise nothing can move: ``BUDGET`` when some budget limit was reached (that is why),
  else ``STALLED`` — but only on facts read after the last event: before that, origin is
  read once more (:class:`ReadAgain`), since a read begun before a merge's push can show a
  merged branch still ahead.
"""

from __future__ import annotations

from typing import final

import attrs

from claude_orchestra.outcomes import Outcome


@final
@attrs.frozen(kw_only=True)
class RunFacts:
    """What the run's end depends on, at one moment."""

    run_spent: bool = False
    """A run budget (or the manager's, or every worker's) is spent."""
    complete: bool = False
    """Planned, every task done on the run branch, nothing to merge, everyone idle."""
    busy: bool = False
    """An instance is starting, prompted or working."""
    replacing: bool = False
    """An instance was asked to exit so that a new process takes its place: the new one
    starts when the old one's exit is reported (or overdue)."""
    merging: bool = False
    """The merge queue holds a branch."""
    judging: bool = False
    """A turn waits for origin's facts, or a read of origin is under way."""
    in_flight: bool = False
    """A prompt was sent and its turn has not ended."""
    kept: bool = False
    """A prompt is kept to be sent again."""
    budget_reached: bool = False
    """Some budget limit was reached (an instance's or a credential's)."""
    read_since_last_event: bool = False
    """Origin was read again after the last event."""


@final
@attrs.frozen
class ReadAgain:
    """Read origin once more before declaring a stall."""


def run_outcome(facts: RunFacts) -> Outcome | ReadAgain | None:
    """The run's end, a fresh read first, or ``None``: not over."""
    if facts.run_spent:
        return Outcome.BUDGET
    if facts.complete:
        return Outcome.COMPLETE
    if (
        facts.busy
        or facts.replacing
        or facts.merging
        or facts.judging
        or facts.in_flight
        or facts.kept
    ):
        return None
    if facts.budget_reached:
        return Outcome.BUDGET
    if not facts.read_since_last_event:
        return ReadAgain()
    return Outcome.STALLED
