"""What the decision core asks for, and what comes back, as typed values.

An :data:`Action` is carried out by an executor; the ones that learn something (a launch,
a look at the screen, the failover's choice) return a :data:`Result` that is handed back
to the decisions. Every value names the instance it is about.

Review's decisions (:mod:`~claude_orchestra.loop.review`) ask for a :data:`ReviewAction`
(a read of origin, a hand-over to the merger plugins, a merge or delivery booked, a
prompt); :class:`HandOver` learns the merger's plan and returns :class:`MergePlanned`.
Bookings about the run rather than one instance (a merge, a delivery, the task lists)
name a branch, or nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import final

import attrs

from claude_orchestra.auth import CredentialFailure
from claude_orchestra.credentials import Credential
from claude_orchestra.events import TurnFailed
from claude_orchestra.moves import Decision
from claude_orchestra.taskfile import TaskFile
from claude_orchestra.tasklists import TaskList
from claude_orchestra.timers import ProgressProbe, Timer
from claude_orchestra.values import (
    Assignment,
    Delivery,
    IncidentKind,
    MergePlan,
    MergeRecord,
    WorkerFinished,
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

# -- review's actions -----------------------------------------------------------------------


@final
@attrs.frozen(kw_only=True)
class RequestRead:
    """Ask the origin watch for a round: push the instance's branch first (``push``), list
    what its worktree holds uncommitted (``uncommitted``), fetch, and read origin back."""

    instance: str
    push: bool = False
    uncommitted: bool = False


@final
@attrs.frozen(kw_only=True)
class KeepPreserved:
    """A rejected push's tip is kept on origin as ``ref``: the report names it."""

    instance: str
    ref: str


@final
@attrs.frozen(kw_only=True)
class TakeFacts:
    """Keep the task lists origin holds, and the task file when it parsed (``None``: keep
    the last good one)."""

    task_lists: Mapping[int, TaskList]
    branch_task_lists: Mapping[int, TaskList]
    task_file: TaskFile | None = None


@final
@attrs.frozen
class HandOver:
    """Ask the merger plugins (``orchestra_merge``) how a worker's finished commits reach
    the run branch; the answer comes back as :class:`MergePlanned`."""

    finished: WorkerFinished

    @property
    def instance(self) -> str:
        """The worker whose branch it is."""
        return self.finished.instance


@final
@attrs.frozen(kw_only=True)
class AwaitMerge:
    """``branch`` has finished ``commits`` waiting to be merged (the scheduler sees it)."""

    branch: str
    commits: tuple[str, ...]


@final
@attrs.frozen
class DropMerge:
    """``branch`` no longer waits to be merged (the merge queue refused it)."""

    branch: str


@final
@attrs.frozen(kw_only=True)
class EnqueueMerge:
    """Put ``branch`` in the merge queue."""

    instance: str
    branch: str
    commits: tuple[str, ...]


@final
@attrs.frozen(kw_only=True)
class RecordMerge:
    """A branch reached the run branch: book it, journal it, tell the plugins. With
    ``restored``, a merge a killed run made but never recorded, found on resuming: booked
    and journaled only."""

    record: MergeRecord
    restored: bool = False


@final
@attrs.frozen
class RecordDelivery:
    """A merger plugin delivered a branch's work elsewhere: book it and journal it."""

    delivery: Delivery


@final
@attrs.frozen(kw_only=True)
class FinishTask:
    """A worker's turn on ``task`` (for the report) or task-file task ``task_key`` ended
    with ``commits`` on ``branch``: the key is done once they are merged (journaled, so a
    resumed run knows)."""

    instance: str
    branch: str
    task: str | None
    task_key: str | None
    commits: tuple[str, ...]


@final
@attrs.frozen(kw_only=True)
class HoldTask:
    """Task-file task ``key``'s work is on ``branch``: done once it is merged."""

    branch: str
    key: str


@final
@attrs.frozen(kw_only=True)
class HandBackTask:
    """The worker's ``task`` goes back to the manager; the worker waits for a replan."""

    instance: str
    task: str


@final
@attrs.frozen(kw_only=True)
class GiveUpTask:
    """No worker is given task-file task ``key`` again in this run."""

    instance: str
    key: str


@final
@attrs.frozen
class ClearHandedBack:
    """The manager has replanned: no task is with it any more."""

    instance: str


@final
@attrs.frozen
class SendAssignment:
    """Send the assignment's prompt (or keep it until its instance can take one)."""

    assignment: Assignment

    @property
    def instance(self) -> str:
        """The instance it is for."""
        return self.assignment.instance


ReviewAction = (
    RequestRead
    | KeepPreserved
    | TakeFacts
    | HandOver
    | AwaitMerge
    | DropMerge
    | EnqueueMerge
    | RecordMerge
    | RecordDelivery
    | FinishTask
    | HoldTask
    | HandBackTask
    | GiveUpTask
    | ClearHandedBack
    | SendAssignment
    | RecordIncident
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


@final
@attrs.frozen
class MergePlanned:
    """The merger plugins' answer to a :class:`HandOver`."""

    finished: WorkerFinished
    plan: MergePlan | None
    """``None``: no plugin answered."""

    @property
    def instance(self) -> str:
        """The worker whose branch it is."""
        return self.finished.instance


Result = Launched | ScreenRead | FailoverAnswered | TurnFailed
"""What an executor hands back to the decisions (a failure from the screen comes back as
the ``TurnFailed`` it stands for)."""
