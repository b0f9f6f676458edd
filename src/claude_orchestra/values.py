"""The values plugins are handed and return: assignments, merge plans, merges, incidents,
and the frozen :class:`RunView` of the run.

Pure: no IO. The hookspecs (:mod:`claude_orchestra.hookspecs`) import them from here; the
run's mutable record that they are taken from is :class:`~claude_orchestra.progress.RunProgress`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import final

import attrs

from claude_orchestra.instance import InstanceView, Role
from claude_orchestra.taskfile import TASK_FILE, TaskFile
from claude_orchestra.tasklists import TaskList


class AssignmentKind(enum.Enum):
    """What a prompt asks for; the core checks the matching evidence after the Stop."""

    PLAN = "plan"
    """Manager: write the task lists (evidence: task lists on the run branch)."""
    WORK = "work"
    """Worker: do the next task (evidence: new commits on its branch)."""
    MERGE = "merge"
    """Manager: merge these branches (evidence: they are no longer ahead of the run branch)."""
    REPLAN = "replan"
    """Manager: rework tasks workers handed back (evidence: the task lists on the run branch)."""
    OTHER = "other"
    """Anything else (no evidence checked)."""


@final
@attrs.frozen(kw_only=True)
class Assignment:
    """A prompt for one idle instance, as a scheduler plugin answers it."""

    instance: str
    prompt: str
    kind: AssignmentKind
    branches: tuple[str, ...] = ()
    """For MERGE: the branches to merge."""
    task: str | None = None
    """For WORK: the task the worker is expected to do (for the report)."""
    task_key: str | None = None
    """For WORK from the task file (``queue`` scheduler): the task's key. The task counts
    as taken while the assignment is in flight or kept to be sent again."""


@final
@attrs.frozen(kw_only=True)
class StrategyNeeds:
    """What a scheduler or merger needs the core to set up before the run starts (answer of
    ``orchestra_strategy_needs``); the core knows no strategy by its name.

    A scheduler that reads no task file needs the manager throughout; one that reads it
    needs the manager only to write it when the run branch has none. A merger needs the
    manager only when the manager merges.
    """

    task_file: bool = False
    """A scheduler: it hands out the tasks of the task file (config ``taskFile``) on the run
    branch, which the run reads and checks before it starts."""
    merge_queue: bool = False
    """A merger: it answers :class:`MergeByQueue`, so the run sets up the merge queue."""
    manager: bool = False
    """A merger: it answers :class:`MergeByManager`, so the run starts the manager."""


@attrs.frozen
class MergePlan:
    """How a finished branch reaches the run branch (answer of ``orchestra_merge``)."""


@final
@attrs.frozen
class MergeByManager(MergePlan):
    """The manager merges it: the branch waits until the scheduler sends a merge prompt."""


@final
@attrs.frozen
class MergeByQueue(MergePlan):
    """The orchestrator merges it: in order, in its own worktree, tested, then pushed."""


@final
@attrs.frozen
class MergeDelivered(MergePlan):
    """A plugin delivered the work somewhere else (a pull request, a review tool): it is
    not merged into the run branch, and the run does not wait for it there. Its tasks
    count as done; the worker goes on from its branch as it is."""

    where: str
    """Where the work went, for the report (``"pull request #12"``)."""


@final
@attrs.frozen(kw_only=True)
class WorkerFinished:
    """A worker stopped with commits that the run branch lacks."""

    instance: str
    worker: int
    branch: str
    commits: tuple[str, ...]


@final
@attrs.frozen(kw_only=True)
class MergeRecord:
    """A worker branch that reached the run branch on origin."""

    branch: str
    commits: tuple[str, ...]
    at: float
    merged_by: str
    tasks: tuple[str, ...] = ()
    """Keys of the task-file tasks whose work this merge brought in (now done)."""


@final
@attrs.frozen(kw_only=True)
class TaskFinished:
    """Journal entry: a worker's turn on a task-file task ended with these commits (the
    task is done once they are merged). Lets ``run --resume`` tell a task whose merge the
    killed run never recorded from one that was never done."""

    branch: str
    task: str
    commits: tuple[str, ...]


@final
@attrs.frozen(kw_only=True)
class Delivery:
    """A worker branch's finished work that a merger plugin delivered elsewhere."""

    branch: str
    commits: tuple[str, ...]
    at: float
    where: str
    tasks: tuple[str, ...] = ()
    """Keys of the task-file tasks whose work it holds (now done)."""


class IncidentKind(enum.Enum):
    """Things that went wrong."""

    TURN_FAILED = "turn_failed"
    RATE_LIMITED = "rate_limited"
    CREDENTIALS_EXHAUSTED = "credentials_exhausted"
    INSTANCE_DIED = "instance_died"
    INSTANCE_EXITED = "instance_exited"
    IDLE_WITHOUT_WORK = "idle_without_work"
    PLAN_MISSING = "plan_missing"
    MERGE_INCOMPLETE = "merge_incomplete"
    PUSH_REJECTED = "push_rejected"
    GIT_FAILED = "git_failed"
    PROMPT_NOT_DELIVERED = "prompt_not_delivered"
    MERGE_REFUSED = "merge_refused"
    WAITING_FOR_PERSON = "waiting_for_person"
    PLUGIN_FAILED = "plugin_failed"
    GAVE_UP = "gave_up"
    BUDGET_REACHED = "budget_reached"
    STUCK = "stuck"
    TASK_FILE_INVALID = "task_file_invalid"
    CREDENTIAL_UNAVAILABLE = "credential_unavailable"
    """An idle instance's credential cooled down, was found invalid or was spent (through
    another instance's request or the budget): it is moved before it is given a prompt."""
    RUNTIME_TROUBLE = "runtime_trouble"
    """The runtime lost (or regained) what an instance runs on, such as the SSH connection
    to its host; the instance itself was left running."""


@final
@attrs.frozen(kw_only=True)
class Incident:
    """Something that went wrong, its evidence, and what the core did about it."""

    at: float
    kind: IncidentKind
    instance: str | None
    evidence: str
    action: str
    resumes_at: float | None = None
    """For a credential limit: when the instance's work resumes (wall clock; now when it
    moved to another credential, the reset time when it waits for one)."""


@final
@attrs.frozen(kw_only=True)
class RunView:
    """A frozen picture of the run for plugins."""

    run_branch: str
    scheduler: str
    merger: str
    worker_count: int
    instances: tuple[InstanceView, ...]
    idle: tuple[InstanceView, ...]
    """Instances that can take a prompt now (idle, and nothing asked of them pending)."""
    task_lists: Mapping[int, TaskList]
    """Worker number -> its task list as origin's run branch holds it."""
    planned: bool
    """The task lists exist on the run branch."""
    plan_requests: int
    awaiting_merge: tuple[str, ...]
    """Branches with finished work that still have to be merged, oldest first."""
    merge_requests: Mapping[str, int]
    """Branch -> how many merge prompts were sent for it."""
    task_file_name: str = TASK_FILE
    """Where the ``queue`` scheduler's task file is, relative to the repository root."""
    task_file: TaskFile | None = None
    """The ``queue`` scheduler's task file as origin's run branch holds it (``None``: none
    yet, or another scheduler)."""
    tasks_done: frozenset[str] = frozenset()
    """Task-file keys whose work is on the run branch (plus those ticked in the file)."""
    tasks_taken: frozenset[str] = frozenset()
    """Task-file keys a worker holds: being worked on, kept to resend, or awaiting merge."""
    tasks_given_up: frozenset[str] = frozenset()
    """Task-file keys a worker stopped on again and again without committing."""
    handed_back: Mapping[str, str] = attrs.field(factory=dict)
    """Worker instance -> the task it stopped on without committing, follow-ups used up:
    back with the manager, and the worker gets no work until the manager has replanned."""
    replan_requests: int = 0
    branch_task_lists: Mapping[int, TaskList] = attrs.field(factory=dict)
    """Worker number -> its task list as its own branch on origin holds it: ahead of the
    run branch's copy (its ticks) until its work is merged."""

    def instance(self, name: str) -> InstanceView:
        """The view of one instance by name."""
        for view in self.instances:
            if view.name == name:
                return view
        raise KeyError(name)

    @property
    def manager(self) -> InstanceView | None:
        """The manager's view, if the run has one."""
        return next((i for i in self.instances if i.role is Role.MANAGER), None)
