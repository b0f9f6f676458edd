"""What a run has done so far, as values: assignments, merges, incidents, the task board.

Pure: no IO. The orchestrator's loop owns one :class:`RunProgress`, changes it as facts
arrive (a Stop, a fetch of origin), and hands plugins a frozen :class:`RunView`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import final

import attrs

from claude_orchestra.instance import InstanceView, Role
from claude_orchestra.lifecycle import InstanceState
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


@final
@attrs.define(eq=False)
class RunProgress:
    """The run's mutable record (owned by the orchestrator's loop, its only writer)."""

    run_branch: str
    in_flight: dict[str, Assignment] = attrs.field(factory=dict)
    """Instance -> the assignment it is working on (from prompt sent to Stop)."""
    awaiting_merge: dict[str, tuple[str, ...]] = attrs.field(factory=dict)
    """Branch -> the finished commits it waits to have merged, in arrival order."""
    merge_requests: dict[str, int] = attrs.field(factory=dict)
    merges: list[MergeRecord] = attrs.field(factory=list)
    deliveries: list[Delivery] = attrs.field(factory=list)
    incidents: list[Incident] = attrs.field(factory=list)
    task_lists: dict[int, TaskList] = attrs.field(factory=dict)
    branch_task_lists: dict[int, TaskList] = attrs.field(factory=dict)
    """Worker number -> its task list on its own branch (see :attr:`RunView.branch_task_lists`)."""
    judging: dict[str, Assignment | None] = attrs.field(factory=dict)
    """Instance -> the assignment its ``Stop`` ended, while origin's facts are read: it gets
    no new work until its turn is judged."""
    plan_requests: int = 0
    handed_back: dict[str, str] = attrs.field(factory=dict)
    """Worker instance -> the task it could not finish (see :attr:`RunView.handed_back`)."""
    replan_requests: int = 0
    preserved: list[str] = attrs.field(factory=list)
    """Preserved refs on origin holding work a rejected push could not deliver."""
    completed_tasks: list[tuple[str, str]] = attrs.field(factory=list)
    """(instance, task) for every WORK assignment that ended with new commits."""
    task_file: TaskFile | None = None
    """The task file on the run branch (``queue`` scheduler)."""
    tasks_done: set[str] = attrs.field(factory=set)
    tasks_finished: dict[str, list[str]] = attrs.field(factory=dict)
    """Branch -> task-file keys whose work it holds, waiting to be merged."""
    tasks_given_up: set[str] = attrs.field(factory=set)

    @property
    def planned(self) -> bool:
        """Some task list, or the task file, exists on the run branch."""
        return bool(self.task_lists) or self.task_file is not None

    def task_finished(self, branch: str, key: str) -> None:
        """A worker committed the work of task ``key`` on ``branch``; done once merged."""
        keys = self.tasks_finished.setdefault(branch, [])
        if key not in keys:
            keys.append(key)

    def task_given_up(self, key: str) -> None:
        """No worker will be given task ``key`` again in this run."""
        self.tasks_given_up.add(key)

    def view(
        self,
        *,
        scheduler: str,
        merger: str,
        worker_count: int,
        instances: Sequence[InstanceView],
        pending: Iterable[Assignment] = (),
        task_file_name: str = TASK_FILE,
        unavailable: Iterable[str] = (),
    ) -> RunView:
        """The frozen view handed to plugins (``pending``: assignments kept to resend;
        ``unavailable``: instances whose credential cannot take a request now, which are
        not idle for the plugins)."""
        unavailable = frozenset(unavailable)
        idle = tuple(
            i
            for i in instances
            if i.state is InstanceState.IDLE
            and i.name not in self.in_flight
            and i.name not in self.judging
            and i.name not in unavailable
        )
        judged = (a for a in self.judging.values() if a is not None)
        held = (*self.in_flight.values(), *judged, *pending)
        taken = {a.task_key for a in held if a.task_key is not None} | self._finished_keys()
        return RunView(
            run_branch=self.run_branch,
            scheduler=scheduler,
            merger=merger,
            worker_count=worker_count,
            instances=tuple(instances),
            idle=idle,
            task_lists=MappingProxyType(dict(self.task_lists)),
            branch_task_lists=MappingProxyType(dict(self.branch_task_lists)),
            planned=self.planned,
            plan_requests=self.plan_requests,
            awaiting_merge=tuple(self.awaiting_merge),
            merge_requests=MappingProxyType(dict(self.merge_requests)),
            handed_back=MappingProxyType(dict(self.handed_back)),
            replan_requests=self.replan_requests,
            task_file_name=task_file_name,
            task_file=self.task_file,
            tasks_done=frozenset(self.tasks_done),
            tasks_taken=frozenset(taken),
            tasks_given_up=frozenset(self.tasks_given_up),
        )

    def record_assignment(self, assignment: Assignment) -> None:
        """A prompt was sent for ``assignment``."""
        self.in_flight[assignment.instance] = assignment
        if assignment.kind is AssignmentKind.PLAN:
            self.plan_requests += 1
        if assignment.kind is AssignmentKind.REPLAN:
            self.replan_requests += 1
        for branch in assignment.branches:
            self.merge_requests[branch] = self.merge_requests.get(branch, 0) + 1

    def finish_assignment(self, instance: str) -> Assignment | None:
        """The instance stopped: its assignment, if any, is over."""
        return self.in_flight.pop(instance, None)

    def await_merge(self, branch: str, commits: tuple[str, ...]) -> None:
        """``branch`` has finished ``commits`` to merge (kept in arrival order)."""
        self.awaiting_merge[branch] = commits

    def merged(self, record: MergeRecord) -> None:
        """``record.branch`` reached the run branch, and with it its finished tasks."""
        self.awaiting_merge.pop(record.branch, None)
        self.merge_requests.pop(record.branch, None)
        self.tasks_finished.pop(record.branch, None)
        self.tasks_done.update(record.tasks)
        self.merges.append(record)

    def task_file_states(self) -> list[tuple[str, str, str]]:
        """(key, text, state) for each task-file task: ``done``, ``awaiting_merge``,
        ``given_up`` or ``open``."""
        if self.task_file is None:
            return []
        done = self.tasks_done | self.task_file.done_in_file()
        finished = self._finished_keys()
        states = []
        for task in self.task_file.tasks:
            if task.key in done:
                state = "done"
            elif task.key in finished:
                state = "awaiting_merge"
            elif task.key in self.tasks_given_up:
                state = "given_up"
            else:
                state = "open"
            states.append((task.key, task.text, state))
        return states

    def _finished_keys(self) -> set[str]:
        """Task-file keys whose work waits on a branch to be merged."""
        return {key for keys in self.tasks_finished.values() for key in keys}

    def task_counts(self) -> tuple[int, int]:
        """(total, done) over the task lists and the task file."""
        items = [item for t in self.task_lists.values() for item in t.items]
        queued = self.task_file_states()
        return (
            len(items) + len(queued),
            sum(1 for i in items if i.done) + sum(1 for *_, state in queued if state == "done"),
        )

    def delivered(self, delivery: Delivery) -> None:
        """``delivery.branch``'s finished work went elsewhere: its tasks are done."""
        self.tasks_finished.pop(delivery.branch, None)
        self.tasks_done.update(delivery.tasks)
        self.deliveries.append(delivery)

    def open_tasks(self) -> int:
        """Unticked items over every task list on the run branch, and task-file tasks not
        done."""
        listed = sum(len(t.open_items) for t in self.task_lists.values())
        queued = len(self.task_file.open_keys(self.tasks_done)) if self.task_file else 0
        return listed + queued

    def is_complete(self, instances: Sequence[InstanceView], branches_ahead: int) -> bool:
        """Done: planned, nothing open, nothing to merge, nothing running.

        Args:
            instances: every instance's view.
            branches_ahead: how many worker branches on origin hold commits the run
                branch lacks.
        """
        return (
            self.planned
            and self.open_tasks() == 0
            and not self.awaiting_merge
            and not self.in_flight
            and not self.judging
            and branches_ahead == 0
            and all(i.state is InstanceState.IDLE for i in instances)
        )
