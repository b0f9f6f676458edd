"""One record per instance: everything the loop knows of an instance beyond its process.

The process itself — its state, launch number, credential, pane — is the
:class:`~claude_orchestra.instance.Instance`'s. What the loop's decisions add lives in one
frozen :class:`InstanceRecord` per instance, kept by the run's record
(:class:`~claude_orchestra.progress.RunProgress`, its only owner): the assignment it works
on, the turn being judged, the prompt kept to send again, the task it handed back, the
follow-ups sent, what recovery and the budgets know of it, and its last event. There is no
other map keyed by instance in the loop; the decisions take the part they need and the
executors write the new one back.
"""

from __future__ import annotations

from typing import final

import attrs

from claude_orchestra.auth.rotator import CredentialFailure
from claude_orchestra.costs.budget import BudgetCrossing
from claude_orchestra.events import Event
from claude_orchestra.loop.recovery import RecoveryRecord
from claude_orchestra.values import Assignment


@final
@attrs.frozen
class Judging:
    """Its ``Stop`` arrived and origin's facts are being read: until its turn is judged it
    gets no new work."""

    assignment: Assignment | None
    """The assignment that turn ended (``None``: a turn nobody asked for)."""


@final
@attrs.frozen
class LastEvent:
    """The latest event the instance sent: its freshest evidence of life."""

    kind: type[Event]
    at: float
    """When it was applied (wall clock, seconds)."""


@final
@attrs.frozen(kw_only=True)
class InstanceRecord:
    """What the loop knows of one instance (all of it: see the module's docstring)."""

    assignment: Assignment | None = None
    """The assignment it works on, from the prompt sent to its ``Stop``."""
    judging: Judging | None = None
    """Its finished turn waiting for origin's facts."""
    kept: Assignment | None = None
    """An assignment to send again once it can take a prompt (it was starting, its
    credential was resting, or its turn failed)."""
    handed_back: str | None = None
    """The task it could not finish, handed back to the manager (until the next replan)."""
    follow_ups: int = 0
    """Follow-ups sent for its task since it last committed."""
    retired: bool = False
    """Stopped for good: it reached its budget."""
    moving: BudgetCrossing | None = None
    """Its credential was spent mid-turn: it moves on when the turn ends."""
    failure: CredentialFailure | None = None
    """The credential failure it was last moved (or paused) for, until a request succeeds."""
    recovery: RecoveryRecord = attrs.field(factory=RecoveryRecord)
    """What recovery knows of it (failures, restarts, quiet, a replacement under way)."""
    last_event: LastEvent | None = None

    @property
    def busy(self) -> bool:
        """It has work the loop waits on: an assignment running or a turn being judged."""
        return self.assignment is not None or self.judging is not None
