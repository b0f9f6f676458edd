"""The run's mutable record: one record per instance, and what the run has done so far
(merges, deliveries, incidents, the task board).

Pure: no IO. The orchestrator's loop owns one :class:`RunProgress`, changes it as facts
arrive (a Stop, a fetch of origin), and hands plugins a frozen
:class:`~claude_orchestra.values.RunView` of it. Each instance's part is one frozen
:class:`~claude_orchestra.loop.record.InstanceRecord` (:meth:`RunProgress.record`,
:meth:`RunProgress.put`); the maps by instance below are read-only views of those records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import TypeVar, final

import attrs

from claude_orchestra.events import Event
from claude_orchestra.instance import InstanceView
from claude_orchestra.lifecycle import InstanceState
from claude_orchestra.loop.record import InstanceRecord, Judging, LastEvent
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

_EMPTY = InstanceRecord()
_T = TypeVar("_T")


@final
@attrs.define(eq=False)
class RunProgress:
    """The run's mutable record (owned by the orchestrator's loop, its only writer)."""

    run_branch: str
    records: dict[str, InstanceRecord] = attrs.field(factory=dict)
    """Instance -> what the loop knows of it (read with :meth:`record`)."""
    awaiting_merge: dict[str, tuple[str, ...]] = attrs.field(factory=dict)
    """Branch -> the finished commits it waits to have merged, in arrival order."""
    merge_requests: dict[str, int] = attrs.field(factory=dict)
    merges: list[MergeRecord] = attrs.field(factory=list)
    deliveries: list[Delivery] = attrs.field(factory=list)
    incidents: list[Incident] = attrs.field(factory=list)
    task_lists: dict[int, TaskList] = attrs.field(factory=dict)
    branch_task_lists: dict[int, TaskList] = attrs.field(factory=dict)
    """Worker number -> its task list on its own branch (see :attr:`RunView.branch_task_lists`)."""
    plan_requests: int = 0
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

    # -- one record per instance ---------------------------------------------------------

    def record(self, name: str) -> InstanceRecord:
        """What the loop knows of instance ``name`` (an empty record before anything)."""
        return self.records.get(name, _EMPTY)

    def put(self, name: str, record: InstanceRecord) -> None:
        """Replace instance ``name``'s record."""
        self.records[name] = record

    def _by_instance(self, part: Callable[[InstanceRecord], _T | None]) -> Mapping[str, _T]:
        found = {name: p for name, r in self.records.items() if (p := part(r)) is not None}
        return MappingProxyType(found)

    @property
    def in_flight(self) -> Mapping[str, Assignment]:
        """Instance -> the assignment it is working on (from prompt sent to Stop)."""
        return self._by_instance(lambda r: r.assignment)

    @property
    def judging(self) -> Mapping[str, Judging]:
        """Instance -> its finished turn, while origin's facts are read: it gets no new
        work until its turn is judged."""
        return self._by_instance(lambda r: r.judging)

    @property
    def kept(self) -> Mapping[str, Assignment]:
        """Instance -> the assignment to send again once it can take a prompt."""
        return self._by_instance(lambda r: r.kept)

    @property
    def handed_back(self) -> Mapping[str, str]:
        """Worker instance -> the task it could not finish (see :attr:`RunView.handed_back`)."""
        return self._by_instance(lambda r: r.handed_back)

    @property
    def retired(self) -> frozenset[str]:
        """Instances stopped for good because they reached their budget."""
        return frozenset(name for name, r in self.records.items() if r.retired)

    def saw(self, event: Event, at: float) -> None:
        """``event`` is its instance's latest evidence of life (``at``: wall clock)."""
        self.put(
            event.instance,
            attrs.evolve(self.record(event.instance), last_event=LastEvent(type(event), at)),
        )

    def start_judging(self, name: str, assignment: Assignment | None) -> None:
        """``name`` stopped: its turn (and ``assignment``, if any) waits to be judged.

        A second ``Stop`` before origin has answered (a duplicate, a turn that took no
        prompt) joins the judgement under way: the assignment that one judges is kept, or
        the task would be neither judged nor followed up, and handed out again as new."""
        pending = self.record(name).judging
        if assignment is None and pending is not None:
            assignment = pending.assignment
        self.put(name, attrs.evolve(self.record(name), judging=Judging(assignment)))

    def end_judging(self, name: str) -> Judging | None:
        """Origin's facts for ``name``'s turn came: the turn being judged, if any."""
        judging = self.record(name).judging
        if judging is not None:
            self.put(name, attrs.evolve(self.record(name), judging=None))
        return judging

    def keep(self, assignment: Assignment) -> None:
        """Keep ``assignment`` to send once its instance can take a prompt."""
        self.put(
            assignment.instance, attrs.evolve(self.record(assignment.instance), kept=assignment)
        )

    def take_kept(self, name: str) -> Assignment | None:
        """The assignment kept for ``name``, no longer kept."""
        kept = self.record(name).kept
        if kept is not None:
            self.put(name, attrs.evolve(self.record(name), kept=None))
        return kept

    def hand_back(self, name: str, task: str) -> None:
        """Worker ``name`` could not finish ``task``: the manager gets it back."""
        self.put(name, attrs.evolve(self.record(name), handed_back=task))

    def clear_handed_back(self) -> None:
        """A replan took every task handed back."""
        for name in self.handed_back:
            self.put(name, attrs.evolve(self.record(name), handed_back=None))

    # -- the run ---------------------------------------------------------------------------

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
        task_file_name: str = TASK_FILE,
        unavailable: Iterable[str] = (),
    ) -> RunView:
        """The frozen view handed to plugins (``unavailable``: instances whose credential
        cannot take a request now, which are not idle for the plugins)."""
        unavailable = frozenset(unavailable)
        idle = tuple(
            i
            for i in instances
            if i.state is InstanceState.IDLE
            and not self.record(i.name).busy
            and i.name not in unavailable
        )
        judged = (j.assignment for j in self.judging.values() if j.assignment is not None)
        held = (*self.in_flight.values(), *judged, *self.kept.values())
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
        self.put(
            assignment.instance,
            attrs.evolve(self.record(assignment.instance), assignment=assignment),
        )
        if assignment.kind is AssignmentKind.PLAN:
            self.plan_requests += 1
        if assignment.kind is AssignmentKind.REPLAN:
            self.replan_requests += 1
        for branch in assignment.branches:
            self.merge_requests[branch] = self.merge_requests.get(branch, 0) + 1

    def finish_assignment(self, instance: str) -> Assignment | None:
        """The instance stopped: its assignment, if any, is over."""
        assignment = self.record(instance).assignment
        if assignment is not None:
            self.put(instance, attrs.evolve(self.record(instance), assignment=None))
        return assignment

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
            and not any(r.busy for r in self.records.values())
            and branches_ahead == 0
            and all(i.state is InstanceState.IDLE for i in instances)
        )
