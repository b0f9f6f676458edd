"""What review's decisions (:mod:`~claude_orchestra.loop.review`) ask for, and what
comes back, as typed values.

A :data:`ReviewAction` is a read of origin, a hand-over to the merger plugins, a merge or
delivery booked, a task's bookkeeping or a prompt; :class:`HandOver` learns the merger's
plan and returns :class:`MergePlanned`. Bookings about the run rather than one instance
(a merge, a delivery, the task lists) name a branch, or nothing. Recovery's actions are in
:mod:`~claude_orchestra.loop.actions`; :class:`~claude_orchestra.loop.actions.RecordIncident`
serves both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import final

import attrs

from claude_orchestra.loop.actions import RecordIncident
from claude_orchestra.taskfile import TaskFile
from claude_orchestra.tasklists import TaskList
from claude_orchestra.values import (
    Assignment,
    Delivery,
    MergePlan,
    MergeRecord,
    WorkerFinished,
)

# -- actions ------------------------------------------------------------------------------


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
class CountFollowUps:
    """The follow-ups sent to a worker for its task since it last committed are now
    ``count`` (none again once it commits, or its task is settled)."""

    instance: str
    count: int


@final
@attrs.frozen
class SendAssignment:
    """Send the assignment's prompt (or keep it until its instance can take one)."""

    assignment: Assignment

    @property
    def instance(self) -> str:
        """The instance it is for."""
        return self.assignment.instance


Bookkeeping = (
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
    | CountFollowUps
)
"""Review's own actions: reads of origin, the merger, and the run's bookkeeping."""

ReviewAction = Bookkeeping | SendAssignment | RecordIncident

# -- results ------------------------------------------------------------------------------


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
