"""Judging a finished turn by what origin holds, not by what the instance says.

After every ``Stop`` the loop asks the :class:`~claude_orchestra.origin_watch.OriginWatch`
to push the worker's branch and read origin back, and goes on; the turn is judged when the
:class:`~claude_orchestra.origin_watch.OriginRead` arrives (until then the instance gets no
new work). A worker's turn that added commits hands its branch to the merger; one that
added none — and whose own list on its branch does not show the task ticked — gets one
follow-up prompt, then the task is left open. A manager's plan or merge that left no trace
on origin is an incident, and the scheduler asks again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import final

import attrs

from claude_orchestra.context import RunContext
from claude_orchestra.errors import GitError, PluginError, TaskFileError
from claude_orchestra.events import MergeFinished, MergeOutcome
from claude_orchestra.evidence import OriginFacts
from claude_orchestra.instance import Instance, Role
from claude_orchestra.loop.judging import (
    AskAgain,
    DoneBefore,
    Finished,
    GiveUp,
    HandBack,
    WorkerTurn,
    judge_worker_turn,
)
from claude_orchestra.loop.text import clip
from claude_orchestra.loop.worker_prompts import fix_prompt
from claude_orchestra.mergequeue import MergeQueue, MergeRequest
from claude_orchestra.origin_watch import OriginRead, OriginWatch, PushResult, ReadRequest
from claude_orchestra.progress import (
    Assignment,
    AssignmentKind,
    Delivery,
    IncidentKind,
    MergeByManager,
    MergeByQueue,
    MergeDelivered,
    MergeRecord,
    TaskFinished,
    WorkerFinished,
)
from claude_orchestra.taskfile import parse_task_file
from claude_orchestra.worktree import GitRepo, Worktree

STALL_CHECK = "(stall check)"
"""The name a read of origin asked for by no instance goes by."""


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
    _refused: dict[str, tuple[str, ...]] = attrs.field(init=False, factory=dict)
    """Branch -> the commits the merge queue last refused (sent back to the worker)."""
    _unmerged: dict[str, tuple[str, ...]] = attrs.field(init=False, factory=dict)
    _delivered: set[str] = attrs.field(init=False, factory=set)
    """Commits a merger plugin delivered elsewhere: not expected on the run branch."""
    _merger: dict[str, str] = attrs.field(init=False, factory=dict)
    """Branch -> who its plan says merges it (``manager``, ``queue``), for the record."""

    @property
    def branches_ahead(self) -> int:
        """Worker branches on origin holding commits the run branch lacks."""
        return sum(1 for commits in self._unmerged.values() if set(commits) - self._delivered)

    def stopped(self, instance: Instance, assignment: Assignment | None) -> None:
        """The instance stopped normally: ask for origin's facts; judge when they come."""
        worktree = self.worktrees.get(instance.name)
        self.ctx.progress.judging[instance.name] = assignment
        self.watch.request(
            ReadRequest(
                instance=instance.name,
                worktree=worktree,
                uncommitted=worktree is not None
                and assignment is not None
                and assignment.kind is AssignmentKind.WORK,
            )
        )

    def read_again(self) -> None:
        """Ask for a fresh read of origin that judges no turn (before a stall is declared)."""
        self.watch.request(ReadRequest(instance=STALL_CHECK))

    async def origin_read(self, read: OriginRead) -> None:
        """A round of git work came back: keep its facts, then judge the turns it answers."""
        ctx = self.ctx
        answered = [ctx.instances[n] for n in read.answers if n in ctx.instances]
        for name, push in read.pushes.items():
            self._pushed(ctx.instances[name], push)
        if read.facts is None:
            for instance in answered:  # judged on the facts the loop had
                ctx.incident(IncidentKind.GIT_FAILED, instance, read.error or "", "keep going")
        else:
            # a task file that no longer parses is an incident of whoever's turn it follows
            blamed = answered[0] if answered else next(iter(ctx.instances.values()))
            self._take_facts(read.facts, blamed)
            for branch in list(ctx.progress.awaiting_merge):
                if not self._unmerged.get(branch):  # seen at any read: credit the merger
                    self._record_merge(branch, self._merger.get(branch, ctx.rules.merger))
        for instance in answered:
            if instance.name not in ctx.progress.judging:
                continue
            assignment = ctx.progress.judging.pop(instance.name)
            if instance.role is Role.MANAGER:
                self._check_manager(instance, assignment)
            else:
                await self._check_worker(
                    instance, assignment, read.uncommitted.get(instance.name, ())
                )

    def _pushed(self, instance: Instance, push: PushResult) -> None:
        ctx = self.ctx
        if push.error is not None:
            ctx.incident(IncidentKind.PUSH_REJECTED, instance, push.error, "keep going")
        elif push.preserved is not None:
            ctx.progress.preserved.append(push.preserved)
            ctx.incident(
                IncidentKind.PUSH_REJECTED,
                instance,
                f"origin rejected the push of {push.branch}: {push.refused}",
                f"its tip is preserved as {push.preserved}",
            )

    async def push(self, instance: Instance, worktree: Worktree) -> None:
        """Push a worker's branch; a rejected push pins its tip as a preserved ref on origin,
        named in the report, so no commit is left only in the workspace."""
        ctx = self.ctx
        try:
            preserved = await worktree.push_or_preserve()
        except GitError as exc:
            ctx.incident(IncidentKind.PUSH_REJECTED, instance, str(exc), "keep going")
            return
        if preserved is not None:
            ctx.progress.preserved.append(preserved)
            ctx.incident(
                IncidentKind.PUSH_REJECTED,
                instance,
                f"origin rejected the push of {worktree.branch}",
                f"its tip is preserved as {preserved}",
            )

    async def reconcile(
        self,
        held_tasks: Mapping[str, Sequence[str]] | None = None,
        delivered: Iterable[str] = (),
        finished_tasks: Sequence[TaskFinished] = (),
    ) -> None:
        """After ``run --resume``: push every worker branch, read origin back, and hand every
        branch with unmerged commits to the merger again.

        Args:
            held_tasks: worker branch -> task-file tasks its worker was given since its last
                merge: on a branch with unmerged commits they count as finished (done once
                merged), elsewhere they are open again.
            delivered: commits a merger plugin already delivered elsewhere.
            finished_tasks: tasks whose turn ended with commits, since their branch's last
                recorded merge: done if those commits are on the run branch now (merged
                before the kill, unrecorded: the merge is recorded here), else finished.
        """
        ctx = self.ctx
        self._delivered.update(delivered)
        for name, worktree in self.worktrees.items():
            await self.push(ctx.instances[name], worktree)
        facts = await self.watch.reader.read()
        self._take_facts(facts, None)
        self._take_finished(finished_tasks)
        owners = {tree.branch: name for name, tree in self.worktrees.items()}
        for branch, commits in self._unmerged.items():
            if set(commits) - self._delivered and branch in owners:
                for key in (held_tasks or {}).get(branch, ()):
                    if key not in ctx.progress.tasks_done:
                        ctx.progress.task_finished(branch, key)
                self._hand_over(ctx.instances[owners[branch]], branch, commits)

    def _take_finished(self, finished_tasks: Sequence[TaskFinished]) -> None:
        progress = self.ctx.progress
        for finished in finished_tasks:
            if finished.task in progress.tasks_done:
                continue
            if set(finished.commits) & set(self._unmerged.get(finished.branch, ())):
                progress.task_finished(finished.branch, finished.task)
                continue
            record = MergeRecord(
                branch=finished.branch,
                commits=finished.commits,
                at=self.ctx.clock.wall(),
                merged_by="before the restart",
                tasks=(finished.task,),
            )
            progress.merges.append(record)
            progress.tasks_done.add(finished.task)
            self.ctx.journal.record(record)

    def _take_facts(self, facts: OriginFacts, instance: Instance | None) -> None:
        """Keep what origin says; a task file that no longer parses keeps the last good one."""
        ctx = self.ctx
        ctx.progress.task_lists.update(facts.task_lists)
        ctx.progress.branch_task_lists.update(facts.branch_task_lists)
        self._unmerged = dict(facts.unmerged)
        if facts.task_file is None or ctx.rules.task_file is None:
            return
        try:
            ctx.progress.task_file = parse_task_file(facts.task_file, path=ctx.rules.task_file)
        except TaskFileError as exc:
            if instance is None:
                raise
            ctx.incident(
                IncidentKind.TASK_FILE_INVALID, instance, str(exc), "keep the last good version"
            )

    def _check_manager(self, instance: Instance, assignment: Assignment | None) -> None:
        if assignment is None:
            return
        if assignment.kind is AssignmentKind.REPLAN:
            # The manager has had its say; the workers go on from the lists as they are now.
            self.ctx.progress.handed_back.clear()
        if assignment.kind is AssignmentKind.PLAN and not self.ctx.progress.planned:
            self.ctx.incident(
                IncidentKind.PLAN_MISSING,
                instance,
                "the manager stopped but origin's run branch has no task list",
                "ask again",
            )
        for branch in assignment.branches:
            if self._unmerged.get(branch):
                self.ctx.incident(
                    IncidentKind.MERGE_INCOMPLETE,
                    instance,
                    f"{branch} still has {len(self._unmerged[branch])} commit(s) to merge",
                    "ask again",
                )

    async def _check_worker(
        self, instance: Instance, assignment: Assignment | None, uncommitted: Sequence[str]
    ) -> None:
        """Judge a worker's turn on origin's facts (:func:`judge_worker_turn`) and carry
        out the verdict."""
        ctx = self.ctx
        branch = self.worktrees[instance.name].branch
        turn = WorkerTurn(
            instance=instance.name,
            branch=branch,
            assignment=assignment,
            commits=self._unmerged.get(branch, ()),
            refused=self._refused.get(branch),
            own_list=ctx.progress.branch_task_lists.get(instance.worker or 0),
            leftovers=tuple(uncommitted),
            tries=ctx.progress.idle_retries.get(instance.name, 0),
        )
        verdict = judge_worker_turn(turn, idle_retries=ctx.rules.idle_retries)
        match verdict:
            case Finished(commits=commits):
                self._finished(instance, assignment, branch, commits)
            case HandBack(task=task, evidence=evidence):
                ctx.progress.handed_back[instance.name] = task
                ctx.incident(
                    IncidentKind.GAVE_UP,
                    instance,
                    evidence,
                    "leave it unmerged; hand the task back to the manager",
                )
            case DoneBefore():
                # Its commits reached the run branch before this turn was judged: nothing
                # to ask, nothing went wrong.
                ctx.progress.idle_retries.pop(instance.name, None)
            case GiveUp(task=task, task_key=key, evidence=evidence, action=action):
                ctx.progress.idle_retries.pop(instance.name, None)
                if key is not None:
                    ctx.progress.task_given_up(key)
                else:
                    ctx.progress.handed_back[instance.name] = task
                ctx.incident(IncidentKind.GAVE_UP, instance, evidence, action)
            case AskAgain(prompt=prompt, evidence=evidence, action=action) if assignment:
                ctx.progress.idle_retries[instance.name] = turn.tries + 1
                ctx.incident(IncidentKind.IDLE_WITHOUT_WORK, instance, evidence, action)
                await ctx.send(attrs.evolve(assignment, prompt=prompt))
            case _:
                pass

    def _finished(
        self,
        instance: Instance,
        assignment: Assignment | None,
        branch: str,
        commits: tuple[str, ...],
    ) -> None:
        """The worker's turn left commits: hand its branch to the merger."""
        ctx = self.ctx
        ctx.progress.idle_retries.pop(instance.name, None)
        if assignment is not None and assignment.task is not None:
            ctx.progress.completed_tasks.append((instance.name, assignment.task))
        if assignment is not None and assignment.task_key is not None:
            ctx.progress.task_finished(branch, assignment.task_key)
            ctx.journal.record(
                TaskFinished(branch=branch, task=assignment.task_key, commits=commits)
            )
        self._hand_over(instance, branch, commits)

    def _hand_over(self, instance: Instance, branch: str, commits: tuple[str, ...]) -> None:
        """Ask the merger plugins how ``branch``'s finished ``commits`` reach the run branch,
        and set that going."""
        ctx = self.ctx
        finished = WorkerFinished(
            instance=instance.name, worker=instance.worker or 0, branch=branch, commits=commits
        )
        plan = ctx.plugins.merge_plan(ctx.view(), finished)
        match plan:
            case MergeByManager():
                ctx.progress.await_merge(branch, commits)
                self._merger[branch] = "manager"
            case MergeByQueue() if self.merge_queue is not None:
                ctx.progress.await_merge(branch, commits)
                self._merger[branch] = "queue"
                self.merge_queue.enqueue(
                    MergeRequest(instance=instance.name, branch=branch, commits=commits)
                )
            case MergeDelivered(where=where):
                self._delivered.update(commits)
                delivery = Delivery(
                    branch=branch,
                    commits=commits,
                    at=ctx.clock.wall(),
                    where=where,
                    tasks=tuple(ctx.progress.tasks_finished.get(branch, ())),
                )
                ctx.progress.delivered(delivery)
                ctx.journal.record(delivery)
            case _:
                raise PluginError("?", "orchestra_merge", f"no merger for plan {plan!r}")

    async def merge_finished(self, instance: Instance, event: MergeFinished) -> None:
        """The merge queue is done with a branch: record the merge, or send it back."""
        ctx = self.ctx
        if event.outcome is MergeOutcome.MERGED:
            if event.branch in ctx.progress.awaiting_merge:
                self._record_merge(event.branch, "queue")
            self.watch.request(ReadRequest(instance=instance.name))
            return
        ctx.progress.awaiting_merge.pop(event.branch, None)
        self._refused[event.branch] = event.commits
        why = {
            MergeOutcome.CONFLICT: f"conflicts in {', '.join(event.files)}",
            MergeOutcome.TEST_FAILED: f"the test command failed on the merged result: "
            f"{clip(event.detail, 600)}",
        }.get(event.outcome, clip(event.detail))
        ctx.incident(
            IncidentKind.MERGE_REFUSED,
            instance,
            f"{event.branch}: {event.outcome.value}: {why}",
            "not pushed; back to its worker",
        )
        await ctx.send(
            Assignment(
                instance=instance.name,
                kind=AssignmentKind.WORK,
                task=None,
                prompt=fix_prompt(ctx.rules.run_branch, event, why),
            )
        )

    def _record_merge(self, branch: str, by: str) -> None:
        ctx = self.ctx
        record = MergeRecord(
            branch=branch,
            commits=ctx.progress.awaiting_merge[branch],
            at=ctx.clock.wall(),
            merged_by=by,
            tasks=tuple(ctx.progress.tasks_finished.get(branch, ())),
        )
        ctx.progress.merged(record)
        ctx.journal.record(record)
        ctx.plugins.merged(record)
