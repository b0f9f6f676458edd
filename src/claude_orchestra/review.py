"""Judging a finished turn by what origin holds: the executor of review's decisions.

After every ``Stop`` the loop asks the :class:`~claude_orchestra.git.origin_watch.OriginWatch`
to push the worker's branch and read origin back, and goes on; the turn is judged when the
:class:`~claude_orchestra.git.origin_watch.OriginRead` arrives (until then the instance gets no
new work). The decisions themselves are pure (:mod:`claude_orchestra.loop.review`: a
worker's turn that added commits hands its branch to the merger; one that added none gets
a follow-up, then the task is left open; a manager's plan or merge that left no trace on
origin is an incident, and the scheduler asks again). :class:`WorkReview` keeps review's
one :class:`~claude_orchestra.loop.review.ReviewRecord`, asks the decisions with the time
and the run's record, and carries out their actions: git (pushes and reads through the
watch, the merge queue), the plugins (the merger's plan, ``merged``), the journal and the
run's record (:class:`~claude_orchestra.progress.RunProgress`). The merger's plan comes
back as :class:`~claude_orchestra.loop.review_actions.MergePlanned` and is decided on in turn.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import final

import attrs

from claude_orchestra.context import RunContext
from claude_orchestra.errors import GitError
from claude_orchestra.events import MergeFinished
from claude_orchestra.git.merge_queue import MergeQueue, MergeRequest
from claude_orchestra.git.origin_watch import OriginRead, OriginWatch, PushResult, ReadRequest
from claude_orchestra.git.repo import GitRepo
from claude_orchestra.git.worktree import Worktree
from claude_orchestra.instance import Instance, Role
from claude_orchestra.loop import merges
from claude_orchestra.loop import review as decide
from claude_orchestra.loop.actions import RecordIncident
from claude_orchestra.loop.recovery import Now
from claude_orchestra.loop.review import STALL_CHECK, Reviewed, ReviewRecord
from claude_orchestra.loop.review_actions import (
    AwaitMerge,
    ClearHandedBack,
    CountFollowUps,
    DropMerge,
    EnqueueMerge,
    FinishTask,
    GiveUpTask,
    HandBackTask,
    HandOver,
    HoldTask,
    KeepPreserved,
    MergePlanned,
    RecordDelivery,
    RecordMerge,
    RequestRead,
    ReviewAction,
    SendAssignment,
    TakeFacts,
)
from claude_orchestra.values import Assignment, TaskFinished

__all__ = ["STALL_CHECK", "WorkReview"]

Decide = Callable[[ReviewRecord, Now], Reviewed]


@final
@attrs.define(eq=False)
class WorkReview:
    """Reads the evidence after each turn and moves work along."""

    ctx: RunContext
    repo: GitRepo
    worktrees: Mapping[str, Worktree]
    """Instance name -> its worktree (workers only)."""
    watch: OriginWatch
    """Pushes, fetches and reads origin off the loop."""
    merge_queue: MergeQueue | None = None
    """The ``queue`` merger's queue, when the config selects it."""
    _record: ReviewRecord = attrs.field(init=False, factory=ReviewRecord)

    @property
    def record(self) -> ReviewRecord:
        """What review knows of the run's branches."""
        return self._record

    @property
    def branches_ahead(self) -> int:
        """Worker branches on origin holding commits the run branch lacks."""
        return self._record.branches_ahead

    # -- what the coordinator tells us ---------------------------------------------------

    def stopped(self, instance: Instance, assignment: Assignment | None) -> None:
        """The instance stopped normally: ask for origin's facts; judge when they come."""
        self.ctx.progress.start_judging(instance.name, assignment)
        has_worktree = instance.name in self.worktrees
        self._request(decide.read_after_stop(instance.name, assignment, has_worktree=has_worktree))

    def read_again(self) -> None:
        """Ask for a fresh read of origin that judges no turn (before a stall is declared)."""
        self._request(RequestRead(instance=STALL_CHECK))

    async def origin_read(self, read: OriginRead) -> None:
        """A round of git work came back: keep its facts, then judge the turns it answers."""
        ctx = self.ctx
        progress = ctx.progress
        answered = [n for n in read.answers if n in ctx.instances]
        # a task file that no longer parses is an incident of whoever's turn it follows
        blamed = answered[0] if answered else next(iter(ctx.instances))
        await self._carry_out(
            lambda r, now: decide.origin_read(
                r,
                read,
                answered=answered,
                blamed=blamed,
                awaiting=progress.awaiting_merge,
                tasks_finished=progress.tasks_finished,
                merger=ctx.rules.merger,
                task_file=ctx.rules.task_file,
                now=now,
            )
        )
        for name in answered:
            judging = progress.end_judging(name)
            if judging is None:
                continue
            await self._carry_out(
                self._judge(ctx.instances[name], judging.assignment, read.uncommitted.get(name, ()))
            )

    def _judge(
        self, instance: Instance, assignment: Assignment | None, uncommitted: Sequence[str]
    ) -> Decide:
        ctx = self.ctx
        name = instance.name
        if instance.role is Role.MANAGER:
            planned = ctx.progress.planned
            return lambda r, _: decide.manager_turn(r, name, assignment, planned=planned)
        worker = instance.worker or 0
        branch = self.worktrees[name].branch
        own_list = ctx.progress.branch_task_lists.get(worker)
        follow_ups = ctx.progress.record(name).follow_ups
        credited = ctx.progress.awaiting_merge.get(branch, ())
        return lambda r, _: decide.worker_turn(
            r,
            name,
            worker=worker,
            branch=branch,
            assignment=assignment,
            own_list=own_list,
            leftovers=uncommitted,
            credited=credited,
            follow_ups=follow_ups,
            idle_retries=ctx.rules.idle_retries,
        )

    async def push(self, instance: Instance, worktree: Worktree) -> None:
        """Push a worker's branch; a rejected push pins its tip as a preserved ref on origin,
        named in the report, so no commit is left only in the workspace."""
        try:
            preserved = await worktree.push_or_preserve()
        except GitError as exc:
            push = PushResult(branch=worktree.branch, error=str(exc))
        else:
            push = PushResult(branch=worktree.branch, preserved=preserved)
        await self.perform(decide.pushed(instance.name, push))

    async def reconcile(
        self,
        held_tasks: Mapping[str, Sequence[str]] | None = None,
        delivered: Iterable[str] = (),
        finished_tasks: Sequence[TaskFinished] = (),
    ) -> None:
        """After ``run --resume``: push every worker branch, read origin back, and hand every
        branch with unmerged commits to the merger again (see
        :func:`~claude_orchestra.loop.merges.reconcile` for the arguments)."""
        ctx = self.ctx
        for name, worktree in self.worktrees.items():
            await self.push(ctx.instances[name], worktree)
        facts = await self.watch.reader.read()
        owners = {
            tree.branch: (name, ctx.instances[name].worker or 0)
            for name, tree in self.worktrees.items()
        }
        tasks_done = frozenset(ctx.progress.tasks_done)
        await self._carry_out(
            lambda r, now: merges.reconcile(
                r,
                facts,
                owners=owners,
                delivered=delivered,
                held_tasks=held_tasks,
                finished_tasks=finished_tasks,
                tasks_done=tasks_done,
                task_file=ctx.rules.task_file,
                now=now,
            )
        )

    async def merge_finished(self, instance: Instance, event: MergeFinished) -> None:
        """The merge queue is done with a branch: record the merge, or send it back."""
        ctx = self.ctx
        await self._carry_out(
            lambda r, now: merges.merge_finished(
                r,
                attrs.evolve(event, instance=instance.name),
                awaiting=ctx.progress.awaiting_merge,
                tasks_finished=ctx.progress.tasks_finished,
                run_branch=ctx.rules.run_branch,
                now=now,
            )
        )

    # -- the executor --------------------------------------------------------------------

    async def perform(self, actions: Sequence[ReviewAction]) -> None:
        """Carry out review's actions, and decide on what they learn before the next one."""
        for action in actions:
            result = await self._perform(action)
            if result is not None:
                await self._carry_out(self._on_result(result))

    async def _carry_out(self, decision: Decide) -> None:
        """Ask ``decision`` now, keep review's new record, do its actions."""
        clock = self.ctx.clock
        decided = decision(self._record, Now(clock.now(), clock.wall()))
        self._record = decided.record
        await self.perform(decided.actions)

    def _on_result(self, result: MergePlanned) -> Decide:
        progress = self.ctx.progress
        tasks = tuple(progress.tasks_finished.get(result.finished.branch, ()))
        queue = self.merge_queue is not None
        return lambda r, now: merges.merge_planned(
            r, result.finished, result.plan, queue=queue, tasks=tasks, now=now
        )

    def _request(self, action: RequestRead) -> None:
        worktree = self.worktrees.get(action.instance) if action.push else None
        self.watch.request(
            ReadRequest(instance=action.instance, worktree=worktree, uncommitted=action.uncommitted)
        )

    async def _perform(self, action: ReviewAction) -> MergePlanned | None:  # noqa: PLR0912
        ctx = self.ctx
        progress = ctx.progress
        match action:
            case RequestRead():
                self._request(action)
            case RecordIncident():
                ctx.incident(
                    action.kind, ctx.instances[action.instance], action.evidence, action.action
                )
            case KeepPreserved(ref=ref):
                progress.preserved.append(ref)
            case TakeFacts():
                progress.task_lists.update(action.task_lists)
                progress.branch_task_lists.update(action.branch_task_lists)
                if action.task_file is not None:
                    progress.task_file = action.task_file
            case HandOver(finished=finished):
                return MergePlanned(finished, ctx.plugins.merge_plan(ctx.view(), finished))
            case AwaitMerge(branch=branch, commits=commits):
                progress.await_merge(branch, commits)
            case DropMerge(branch=branch):
                progress.awaiting_merge.pop(branch, None)
            case EnqueueMerge() if self.merge_queue is not None:
                self.merge_queue.enqueue(
                    MergeRequest(
                        instance=action.instance, branch=action.branch, commits=action.commits
                    )
                )
            case RecordMerge(record=record, restored=True):
                progress.merges.append(record)
                progress.tasks_done.update(record.tasks)
                ctx.journal.record(record)
            case RecordMerge(record=record):
                progress.merged(record)
                ctx.journal.record(record)
                ctx.plugins.merged(record)
            case RecordDelivery(delivery=delivery):
                progress.delivered(delivery)
                ctx.journal.record(delivery)
            case FinishTask():
                self._finish_task(action)
            case HoldTask(branch=branch, key=key):
                progress.task_finished(branch, key)
            case HandBackTask(instance=name, task=task):
                progress.hand_back(name, task)
            case GiveUpTask(key=key):
                progress.task_given_up(key)
            case ClearHandedBack():
                progress.clear_handed_back()
            case CountFollowUps(instance=name, count=count):
                progress.put(name, attrs.evolve(progress.record(name), follow_ups=count))
            case SendAssignment(assignment=assignment):
                await ctx.send(assignment)
        return None

    def _finish_task(self, action: FinishTask) -> None:
        progress = self.ctx.progress
        if action.task is not None:
            progress.completed_tasks.append((action.instance, action.task))
        if action.task_key is not None:
            progress.task_finished(action.branch, action.task_key)
            self.ctx.journal.record(
                TaskFinished(branch=action.branch, task=action.task_key, commits=action.commits)
            )
