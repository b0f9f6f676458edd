"""The run's mutable record: what it has done so far (assignments in flight, merges,
deliveries, incidents, the task board).

Pure: no IO. The orchestrator's loop owns one :class:`RunProgress`, changes it as facts
arrive (a Stop, a fetch of origin), and hands plugins a frozen
:class:`~claude_orchestra.values.RunView` of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import MappingProxyType
from typing import final

import attrs

from claude_orchestra.instance import InstanceView
from claude_orchestra.lifecycle import InstanceState
from claude_orchestra.taskfile import TASK_FILE, TaskFile
from claude_orchestra.tasklists import TaskList
from claude_orchestra.values import (
    Assignment,
    AssignmentKind,
    Delivery,
    Incident,
    MergeRecord,
    RunView,
)


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
