"""Judging a finished turn by what origin holds: review's decisions, kept.

After every ``Stop`` the loop asks the :class:`~claude_orchestra.git.origin_watch.OriginWatch`
to push the worker's branch and read origin back, and goes on; the turn is judged when the
:class:`~claude_orchestra.git.origin_watch.OriginRead` arrives (until then the instance gets no
new work). The decisions themselves are pure (:mod:`claude_orchestra.loop.review`: a
worker's turn that added commits hands its branch to the merger; one that added none gets
a follow-up, then the task is left open; a manager's plan or merge that left no trace on
origin is an incident, and the scheduler asks again). :class:`WorkReview` keeps review's
one :class:`~claude_orchestra.loop.review.ReviewRecord`, asks the decisions with the time
and the run's record, and hands their actions to the loop's
:class:`~claude_orchestra.executor.Executor` (git, the merger plugins, the journal, the
run's record). The merger's plan comes back as
:class:`~claude_orchestra.loop.review_actions.MergePlanned` and is decided on in turn.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import final

import attrs

from claude_orchestra.context import RunContext
from claude_orchestra.events import MergeFinished
from claude_orchestra.executor import Executor
from claude_orchestra.git.origin_watch import OriginRead
from claude_orchestra.instance import Instance, Role
from claude_orchestra.loop import merges
from claude_orchestra.loop import review as decide
from claude_orchestra.loop.recovery import Now
from claude_orchestra.loop.review import STALL_CHECK, Reviewed, ReviewRecord
from claude_orchestra.loop.review_actions import MergePlanned, RequestRead, ReviewAction
from claude_orchestra.values import Assignment, TaskFinished

__all__ = ["STALL_CHECK", "WorkReview"]

Decide = Callable[[ReviewRecord, Now], Reviewed]


@final
@attrs.define(eq=False)
class WorkReview:
    """Reads the evidence after each turn and moves work along."""

    ctx: RunContext
    executor: Executor
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

    async def stopped(self, instance: Instance, assignment: Assignment | None) -> None:
        """The instance stopped normally: ask for origin's facts; judge when they come."""
        self.ctx.progress.start_judging(instance.name, assignment)
        has_worktree = instance.name in self.executor.worktrees
        await self.perform(
            (decide.read_after_stop(instance.name, assignment, has_worktree=has_worktree),)
        )

    async def read_again(self) -> None:
        """Ask for a fresh read of origin that judges no turn (before a stall is declared)."""
        await self.perform((RequestRead(instance=STALL_CHECK),))

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
        branch = self.executor.worktrees[name].branch
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

    async def push(self, name: str) -> None:
        """Push worker ``name``'s branch now (a rejected push is preserved on origin)."""
        await self.perform(decide.pushed(name, await self.executor.push(name)))

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
        worktrees = self.executor.worktrees
        for name in worktrees:
            await self.push(name)
        facts = await self.executor.read_origin()
        owners = {
            tree.branch: (name, ctx.instances[name].worker or 0) for name, tree in worktrees.items()
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

    # -- deciding, and handing the actions to the executor --------------------------------

    async def perform(self, actions: Sequence[ReviewAction]) -> None:
        """Have the executor carry out review's actions, deciding on what they learn before
        the next one."""
        for action in actions:
            learned = await self.executor.perform(action)
            if isinstance(learned, MergePlanned):
                await self._carry_out(self._on_result(learned))

    async def _carry_out(self, decision: Decide) -> None:
        """Ask ``decision`` now, keep review's new record, do its actions."""
        clock = self.ctx.clock
        decided = decision(self._record, Now(clock.now(), clock.wall()))
        self._record = decided.record
        await self.perform(decided.actions)

    def _on_result(self, result: MergePlanned) -> Decide:
        progress = self.ctx.progress
        tasks = tuple(progress.tasks_finished.get(result.finished.branch, ()))
        queue = self.executor.merge_queue is not None
        return lambda r, now: merges.merge_planned(
            r, result.finished, result.plan, queue=queue, tasks=tasks, now=now
        )
