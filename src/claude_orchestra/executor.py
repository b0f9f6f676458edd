"""The loop's one executor: every action the decisions return is carried out here.

The decisions are pure (:mod:`claude_orchestra.loop`): recovery's, the budgets' and
review's each return a new record and a list of typed actions. :class:`Executor` is the
only part of the loop that touches the world for them — tmux (type a prompt, launch,
terminate, press a key, read the screen), git (reads of origin through the
:class:`~claude_orchestra.git.origin_watch.OriginWatch`, the merge queue, pushes), the
plugins (the failover's and the merger's answers, the scheduler, the observers), the
journal and the run's record (:class:`~claude_orchestra.progress.RunProgress`). An action
that learns something returns a :data:`~claude_orchestra.loop.actions.Result` (or review's
:class:`~claude_orchestra.loop.review_actions.MergePlanned`); whoever asked for the action
hands it back to the decisions (:class:`~claude_orchestra.recovery.Recovery`,
:class:`~claude_orchestra.review.WorkReview`), which keep the records and hold no I/O.
Every kind of action is matched, and ``mypy`` checks it: an action added to the unions
without a case here is a type error, never an action silently dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping, Sequence
from typing import assert_never, final

import anyio
import attrs

from claude_orchestra.auth.failover import Failover
from claude_orchestra.auth.moves import StayOn
from claude_orchestra.auth.rotator import CredentialFailure
from claude_orchestra.context import RunContext
from claude_orchestra.costs.budget import BudgetCrossing
from claude_orchestra.costs.ledger import ServedCharge
from claude_orchestra.costs.transcripts import transcript_size
from claude_orchestra.errors import GitError, TmuxError
from claude_orchestra.events import Event
from claude_orchestra.git.evidence import OriginFacts
from claude_orchestra.git.merge_queue import MergeQueue, MergeRequest
from claude_orchestra.git.origin_watch import OriginWatch, PushResult, ReadRequest
from claude_orchestra.git.worktree import Worktree
from claude_orchestra.instance import Instance, StateChange
from claude_orchestra.keyboard import Keyboard
from claude_orchestra.launcher import Launcher
from claude_orchestra.loop.actions import (
    Action,
    EndAssignment,
    FailOver,
    FailoverAnswered,
    ForgetKept,
    KeepPrompt,
    Launch,
    Launched,
    MarkSpent,
    Note,
    ObserveFailure,
    Press,
    Probe,
    Quiet,
    ReadScreen,
    RecordIncident,
    Recovered,
    ResendPrompt,
    Result,
    Schedule,
    ScreenRead,
    StopInstance,
    Terminate,
)
from claude_orchestra.loop.review_actions import (
    AwaitMerge,
    Bookkeeping,
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
from claude_orchestra.timers import DeliveryDeadline
from claude_orchestra.values import Assignment, Incident, IncidentKind, TaskFinished

logger = logging.getLogger(__name__)

Learned = Result | MergePlanned
"""What an action can learn, handed back to the decisions that asked for it."""


async def transcript_bytes(instance: Instance) -> int:
    """The size of every transcript the instance has written (grows with each response);
    counted in a thread, since the instance decides how many files there are."""
    return await anyio.to_thread.run_sync(transcript_size, instance.home.projects_dir)


@final
@attrs.define(eq=False)
class Executor:
    """Carries out the loop's actions: tmux, git, plugins, journal and the run's record."""

    ctx: RunContext
    failover: Failover
    """Where an instance goes when its credential cannot serve it (asks the plugins)."""
    watch: OriginWatch
    """Pushes, fetches and reads origin off the loop."""
    worktrees: Mapping[str, Worktree]
    """Instance name -> its worktree (workers only)."""
    merge_queue: MergeQueue | None = None
    """The ``queue`` merger's queue, when the config selects it."""
    keyboard: Keyboard = attrs.field(
        default=attrs.Factory(lambda self: Keyboard(self.ctx.clock), takes_self=True)
    )
    """Types prompts beside the loop; every other use of a pane waits for its typing."""
    launcher: Launcher = attrs.field(
        default=attrs.Factory(lambda self: Launcher(self.ctx.clock), takes_self=True)
    )
    """Starts the run's instances beside the loop; every use of a pane waits for it."""

    async def perform(self, action: Action | ReviewAction) -> Learned | None:  # noqa: PLR0912
        """Carry out one action; return what it learned, if anything."""
        ctx = self.ctx
        progress = ctx.progress
        match action:
            case MarkSpent(credential=credential):
                self.failover.rotator.mark_spent(credential)
            case Schedule(at=at, timer=timer):
                ctx.timers.add(at, timer)
            case RecordIncident():
                self._incident(action)
            case Launch(instance=name, credential=credential, resume=resume):
                instance = ctx.instances[name]
                await self._pane(instance, instance.restart(credential, resume=resume))
                return Launched(name)
            case Terminate(instance=name):
                await self._pane(ctx.instances[name], ctx.instances[name].terminate())
            case StopInstance(instance=name):
                await self._pane(ctx.instances[name], ctx.instances[name].stop())
            case Press(instance=name, key=key):
                await self._pane(ctx.instances[name], ctx.instances[name].press(key))
            case KeepPrompt(instance=name):
                assignment = progress.finish_assignment(name)
                if assignment is not None:
                    progress.keep(assignment)
            case EndAssignment(instance=name):
                progress.finish_assignment(name)
            case ForgetKept(instance=name):
                progress.take_kept(name)
            case ResendPrompt(instance=name):
                await self.send_kept(ctx.instances[name])
            case ReadScreen():
                return await self._read_screen(ctx.instances[action.instance], action)
            case FailOver():
                return self._fail_over(ctx.instances[action.instance], action)
            case ObserveFailure(event=event):
                ctx.instances[event.instance].observe(event)
                ctx.journal.record(event)
                return event
            case Recovered(instance=name):
                self.failover.progressed(name)
                progress.put(name, attrs.evolve(progress.record(name), failure=None))
            case Note(instance=name, message=message):
                logger.info("%s: %s", name, message)
            case SendAssignment(assignment=assignment):
                await self.send(assignment)
            case _:
                return self._book(action)
        return None

    # -- prompts -------------------------------------------------------------------------

    async def send(self, assignment: Assignment) -> None:
        """Type the assignment's prompt, or keep it until the instance can take one."""
        ctx = self.ctx
        instance = ctx.instances[assignment.instance]
        if not instance.state.accepts_prompt or not ctx.can_prompt(instance):
            # kept: sent once it is up again, or once it has moved to a usable credential
            ctx.progress.keep(assignment)
            return
        ctx.progress.record_assignment(assignment)
        ctx.journal.record(assignment)
        text = instance.prompt(assignment.prompt)
        await self._guard(instance, self.keyboard.type(instance, text))
        ctx.timers.add(
            ctx.clock.now() + ctx.rules.delivery_nudges[0],
            DeliveryDeadline(
                instance=instance.name, prompt_number=instance.snapshot().prompts_sent
            ),
        )

    async def send_kept(self, instance: Instance) -> None:
        """Send the instance's kept assignment, if any."""
        pending = self.ctx.progress.take_kept(instance.name)
        if pending is not None:
            await self.send(pending)

    def ask_scheduler(self) -> Sequence[Assignment]:
        """The scheduling plugins' answer: what could start now."""
        return self.ctx.plugins.schedule(self.ctx.view())

    # -- what observers are told ---------------------------------------------------------

    def observed(self, instance: Instance, event: Event, changes: Sequence[StateChange]) -> None:
        """An event was applied to ``instance``: journal it and its state changes, and tell
        the observer plugins."""
        ctx = self.ctx
        ctx.journal.record(event)
        for change in changes:
            ctx.journal.record(change)
            ctx.plugins.state_changed(instance.snapshot(), change)
        ctx.plugins.hook_event(event)

    def budget_crossed(self, crossing: BudgetCrossing) -> None:
        """A budget threshold was crossed: log it, journal it, keep it, tell the plugins."""
        log = logger.warning if crossing.reached else logger.info
        log("budget: %s", crossing.describe())
        self.ctx.journal.record(crossing)
        self.ctx.plugins.budget(crossing)

    def charged(self, charge: ServedCharge) -> None:
        """A response the broker served was charged: journal it (a remote worker's spend
        has no other record here)."""
        self.ctx.journal.record(charge)

    # -- git -----------------------------------------------------------------------------

    async def push(self, name: str) -> PushResult:
        """Push a worker's branch now; a rejected push pins its tip as a preserved ref on
        origin, named in the report, so no commit is left only in the workspace."""
        worktree = self.worktrees[name]
        try:
            preserved = await worktree.push_or_preserve()
        except GitError as exc:
            return PushResult(branch=worktree.branch, error=str(exc))
        return PushResult(branch=worktree.branch, preserved=preserved)

    async def read_origin(self) -> OriginFacts:
        """Read origin now (not through the watch's rounds: a resumed run's first look)."""
        return await self.watch.reader.read()

    # -- the rest ------------------------------------------------------------------------

    def _book(self, action: Bookkeeping) -> MergePlanned | None:  # noqa: PLR0912
        """Review's own actions: reads of origin, the merger, and the run's bookkeeping."""
        ctx = self.ctx
        progress = ctx.progress
        match action:
            case RequestRead(instance=name, push=push, uncommitted=uncommitted):
                worktree = self.worktrees.get(name) if push else None
                self.watch.request(
                    ReadRequest(instance=name, worktree=worktree, uncommitted=uncommitted)
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
            case EnqueueMerge(instance=name, branch=branch, commits=commits):
                if self.merge_queue is not None:  # review asks for it only with the queue
                    self.merge_queue.enqueue(
                        MergeRequest(instance=name, branch=branch, commits=commits)
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
            case _:
                assert_never(action)
        return None

    def _incident(self, action: RecordIncident) -> None:
        """Record what went wrong and what is done about it: log, journal, report, plugins."""
        ctx = self.ctx
        incident = Incident(
            at=ctx.clock.wall(),
            kind=action.kind,
            instance=action.instance,
            evidence=action.evidence,
            action=action.action,
            resumes_at=action.resumes_at,
        )
        logger.warning(
            "%s: %s: %s -> %s", action.instance, action.kind.value, action.evidence, action.action
        )
        ctx.progress.incidents.append(incident)
        ctx.journal.record(incident)
        ctx.plugins.incident(incident)

    async def pane_ready(self, name: str) -> None:
        """Return once instance ``name``'s pane is launched and what is being typed there
        is typed (so nothing lands in a process it was not meant for)."""
        await self.launcher.launched(name)
        await self.keyboard.typed(name)

    async def _pane(self, instance: Instance, action: Awaitable[None]) -> None:
        """Run a tmux action on the instance's pane once it is ready (:meth:`pane_ready`)."""
        await self.pane_ready(instance.name)
        await self._guard(instance, action)

    async def _guard(self, instance: Instance, action: Awaitable[None]) -> None:
        """Run a tmux action; its failure is an incident, not a crash of the loop."""
        try:
            await action
        except TmuxError as exc:
            self.pane_failed(instance.name, str(exc))

    def pane_failed(self, name: str, evidence: str) -> None:
        """tmux failed on instance ``name``'s pane (here, or typing beside the loop): an
        incident; the instance's deadlines see to it."""
        self._incident(
            RecordIncident(
                instance=name,
                kind=IncidentKind.INSTANCE_DIED,
                evidence=evidence,
                action="none possible",
            )
        )

    async def _read_screen(self, instance: Instance, action: ReadScreen) -> ScreenRead:
        await self.pane_ready(instance.name)  # the screen after the prompt, not during
        try:
            text, error = await instance.screen(), None
        except TmuxError as exc:
            text, error = "", str(exc)
        size = 0
        if isinstance(action.purpose, Quiet | Probe):
            size = await transcript_bytes(instance)
        return ScreenRead(
            instance=instance.name,
            purpose=action.purpose,
            text=text,
            error=error,
            transcript_bytes=size,
        )

    def _fail_over(self, instance: Instance, action: FailOver) -> FailoverAnswered:
        progress = self.ctx.progress
        view = instance.snapshot()
        failure: CredentialFailure | None
        match action.cause:
            case CredentialFailure():
                failure = action.cause
            case None:  # a pause ended: the same failure is decided on again
                failure = progress.record(instance.name).failure
            case event:
                # journaled: a resumed run keeps the cooldown (and sends nothing on it)
                failure = self.failover.failure_of(view, event)
                self.ctx.journal.record(failure)
        progress.put(instance.name, attrs.evolve(progress.record(instance.name), failure=failure))
        decision = StayOn() if failure is None else self.failover.decide(view, failure)
        return FailoverAnswered(
            instance=instance.name, decision=decision, evidence=action.evidence, moved=action.moved
        )

    def _finish_task(self, action: FinishTask) -> None:
        progress = self.ctx.progress
        if action.task is not None:
            progress.completed_tasks.append((action.instance, action.task))
        if action.task_key is not None:
            progress.task_finished(action.branch, action.task_key)
            self.ctx.journal.record(
                TaskFinished(branch=action.branch, task=action.task_key, commits=action.commits)
            )
