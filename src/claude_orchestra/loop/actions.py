"""What the decision core asks for, and what comes back, as typed values.

An :data:`Action` is carried out by an executor; the ones that learn something (a launch,
a look at the screen, the failover's choice) return a :data:`Result` that is handed back
to the decisions. Every value names the instance it is about.

Review's actions and results are in :mod:`~claude_orchestra.loop.review_actions`.
"""

from __future__ import annotations

from typing import final

import attrs

from claude_orchestra.auth.credentials import Credential
from claude_orchestra.auth.moves import Decision
from claude_orchestra.auth.rotator import CredentialFailure
from claude_orchestra.events import TurnFailed
from claude_orchestra.timers import ProgressProbe, Timer
from claude_orchestra.values import (
    IncidentKind,
)

# -- actions ------------------------------------------------------------------------------


@final
@attrs.frozen
class Schedule:
    """Wake the loop at ``at`` (monotonic seconds) for ``timer``."""

    at: float
    timer: Timer

    @property
    def instance(self) -> str:
        """The instance the timer is about."""
        return self.timer.instance


@final
@attrs.frozen(kw_only=True)
class RecordIncident:
    """Something went wrong: log, journal, report and tell the plugins."""

    instance: str
    kind: IncidentKind
    evidence: str
    action: str
    resumes_at: float | None = None


@final
@attrs.frozen(kw_only=True)
class Launch:
    """Start the instance's next process now (the old one has gone), optionally on another
    credential, resuming its conversation or not."""

    instance: str
    credential: Credential | None
    resume: bool


@final
@attrs.frozen
class Terminate:
    """Ask the instance's process to exit (SIGTERM) so that it can be replaced."""

    instance: str


@final
@attrs.frozen
class StopInstance:
    """Ask the instance to exit for good (nothing more may run on it)."""

    instance: str


@final
@attrs.frozen
class Press:
    """Press a key in the instance's pane (a tmux key name)."""

    instance: str
    key: str


@final
@attrs.frozen
class KeepPrompt:
    """The instance's assignment in flight is over; keep it to send again."""

    instance: str


@final
@attrs.frozen
class EndAssignment:
    """The instance's assignment in flight is over; nothing is sent again for it."""

    instance: str


@final
@attrs.frozen
class ForgetKept:
    """Drop the assignment kept to send the instance again."""

    instance: str


@final
@attrs.frozen
class ResendPrompt:
    """Send the instance its kept assignment, if it has one."""

    instance: str


@final
@attrs.frozen
class NoSessionStart:
    """Why the screen is read: a launch said no ``SessionStart`` in time."""


@final
@attrs.frozen
class NotDelivered:
    """Why the screen is read: a prompt was not accepted after every nudge."""


@final
@attrs.frozen
class Quiet:
    """Why the screen is read: a working instance has been quiet for ``look_after``."""


@final
@attrs.frozen
class Probe:
    """Why the screen is read: a quiet instance's progress is checked again."""

    timer: ProgressProbe


ScreenPurpose = NoSessionStart | NotDelivered | Quiet | Probe


@final
@attrs.frozen(kw_only=True)
class ReadScreen:
    """Read the instance's screen (and, for a quiet turn, its transcripts' size)."""

    instance: str
    purpose: ScreenPurpose


@final
@attrs.frozen(kw_only=True)
class FailOver:
    """Ask the failover (and through it the ``orchestra_select_credential`` plugins) where
    the instance goes: after a failed turn (``cause`` is the ``StopFailure``), off a
    credential the core retired (``cause`` is that failure), or again when a pause has
    ended (``cause`` is ``None``)."""

    instance: str
    cause: TurnFailed | CredentialFailure | None
    evidence: str
    moved: IncidentKind = IncidentKind.RATE_LIMITED
    """The incident recorded when the instance moves to another credential."""


@final
@attrs.frozen
class ObserveFailure:
    """Apply a failure the screen showed to the instance, as if a ``StopFailure`` came."""

    event: TurnFailed

    @property
    def instance(self) -> str:
        """The instance that failed."""
        return self.event.instance


@final
@attrs.frozen
class Recovered:
    """A request of the instance succeeded: a move to another credential is complete."""

    instance: str


@final
@attrs.frozen
class MarkSpent:
    """A credential's budget for this run is spent: nothing more may run on it."""

    credential: str


@final
@attrs.frozen(kw_only=True)
class Note:
    """A line for the run's log (what was decided and why, when nothing else says it)."""

    instance: str
    message: str


Action = (
    Schedule
    | RecordIncident
    | Launch
    | Terminate
    | StopInstance
    | Press
    | KeepPrompt
    | EndAssignment
    | ForgetKept
    | ResendPrompt
    | ReadScreen
    | FailOver
    | ObserveFailure
    | Recovered
    | MarkSpent
    | Note
)

# -- results ------------------------------------------------------------------------------


@final
@attrs.frozen
class Launched:
    """The instance's next process was started (or its start failed: an incident says)."""

    instance: str


@final
@attrs.frozen(kw_only=True)
class ScreenRead:
    """What a :class:`ReadScreen` found."""

    instance: str
    purpose: ScreenPurpose
    text: str
    """The pane's text (empty when it could not be read)."""
    error: str | None = None
    """Why the pane could not be read."""
    transcript_bytes: int = 0
    """For :class:`Quiet` and :class:`Probe`: the size of every transcript it wrote."""


@final
@attrs.frozen(kw_only=True)
class FailoverAnswered:
    """The failover's answer to a :class:`FailOver`."""

    instance: str
    decision: Decision
    evidence: str
    moved: IncidentKind


Result = Launched | ScreenRead | FailoverAnswered | TurnFailed
"""What an executor hands back to the decisions (a failure from the screen comes back as
the ``TurnFailed`` it stands for)."""
