"""The loop: the only writer of run state.

Every event — a hook, a process exit — arrives on one memory stream; timers wake the loop
when something should have happened and did not. For each event the coordinator updates the
instance's state and hands the event to the part whose decisions own it: finished turns to
:class:`~claude_orchestra.review.WorkReview` (evidence on origin, merges), failures, exits
and deadlines to :class:`~claude_orchestra.recovery.Recovery`. Before each event the
instance's new transcript lines are charged, and after it the budgets are enforced
(:class:`~claude_orchestra.spending.Spending`). Then it asks the scheduling
plugins what can start now (:mod:`claude_orchestra.loop.scheduling` decides what to do with
their answer), and decides whether the run is over (:mod:`claude_orchestra.loop.ending`).
Every action those decisions return is carried out by the one
:class:`~claude_orchestra.executor.Executor`; git and tmux work happens in threads behind
the adapters, one step at a time, so no state is shared between tasks.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import final

import anyio
import attrs
from anyio.abc import ObjectReceiveStream, TaskGroup

from claude_orchestra.broker.meter import Metered
from claude_orchestra.context import RunContext
from claude_orchestra.events import (
    Event,
    MergeFinished,
    PaneDied,
    SessionEnded,
    SessionStarted,
    ToolStarted,
    ToolUsed,
    TurnFailed,
    TurnStopped,
)
from claude_orchestra.executor import Executor
from claude_orchestra.git.origin_watch import OriginRead
from claude_orchestra.instance import Instance
from claude_orchestra.keyboard import PromptNotTyped
from claude_orchestra.latency import LoopLatency
from claude_orchestra.launcher import LaunchFailed
from claude_orchestra.lifecycle import InstanceState
from claude_orchestra.loop.actions import RecordIncident
from claude_orchestra.loop.charging import reads_transcripts
from claude_orchestra.loop.ending import ReadAgain, RunFacts, run_outcome
from claude_orchestra.loop.review_actions import SendAssignment
from claude_orchestra.loop.scheduling import schedule
from claude_orchestra.outcomes import Outcome
from claude_orchestra.recovery import Recovery
from claude_orchestra.review import WorkReview
from claude_orchestra.runtimes.base import RuntimeNotice
from claude_orchestra.spending import Spending
from claude_orchestra.status import StatusBoard
from claude_orchestra.values import IncidentKind

logger = logging.getLogger(__name__)

_BUSY = frozenset({InstanceState.STARTING, InstanceState.PROMPTED, InstanceState.WORKING})


@final
@attrs.define(eq=False)
class Coordinator:
    """Applies events to the run and decides what happens next."""

    ctx: RunContext
    executor: Executor
    review: WorkReview
    recovery: Recovery
    spending: Spending
    board: StatusBoard
    latency: LoopLatency = attrs.field(factory=LoopLatency)
    """How long events wait for the loop (received -> applied)."""
    _stall_checked: bool = attrs.field(init=False, default=False)
    """Origin was read again after the last event, before a stall is declared."""

    async def run(self, events: ObjectReceiveStream[Event]) -> Outcome:
        """Consume events until the run is complete, stalls or reaches its deadline."""
        ctx = self.ctx
        while True:
            now = ctx.clock.now()
            if now >= ctx.rules.deadline:
                return Outcome.TIME_LIMIT
            due = [ctx.rules.deadline, ctx.timers.next_due(), self.board.next_due()]
            wake = min(t for t in due if t is not None)
            event: Event | None = None
            with anyio.move_on_after(max(0.0, wake - now)):
                event = await events.receive()
            if event is not None:
                await self._apply(event)
                await self.spending.enforce()
                self.latency.record(ctx.clock.now() - event.at)
            for timer in ctx.timers.pop_due(ctx.clock.now()):
                await self.recovery.on_timer(timer)
            outcome = await self._settle()
            self.board.changed()
            if outcome is not None:
                return outcome

    async def launch_all(self, trusted: Sequence[Path]) -> None:
        """The run's first act: every instance marked launching, with its start deadline,
        and its process started beside the loop (:mod:`~claude_orchestra.launcher`), an
        adopted session resumed (``run --resume``)."""
        for instance in self.ctx.instances.values():
            resume = instance.session_id is not None
            instance.launching()
            await self.recovery.launched(instance.name)
            await self.executor.launcher.launch(instance, trusted=trusted, resume=resume)

    def start_services(self, tg: TaskGroup, deliver: Callable[[Event], Awaitable[None]]) -> None:
        """Start what works beside the loop and reports back as events: the origin watch
        (git), the keyboard and the launcher (tmux), and the merge queue when the ``queue``
        merger is chosen."""
        tg.start_soon(self.executor.watch.run, deliver)
        self.executor.keyboard.run_in(tg, deliver)
        self.executor.launcher.run_in(tg, deliver)
        if self.executor.merge_queue is not None:
            tg.start_soon(self.executor.merge_queue.run, deliver)

    async def drain_until_stopped(self, events: ObjectReceiveStream[Event], grace: float) -> None:
        """After asking instances to stop, apply events until all have exited."""
        with anyio.move_on_after(grace):
            while any(i.state.alive for i in self.ctx.instances.values()):
                await self._observe(await events.receive())

    async def _observe(self, event: Event) -> Instance | None:
        """Apply an event to its instance's state; journal it and tell the observers."""
        ctx = self.ctx
        instance = ctx.instances.get(event.instance)
        if instance is None:
            return None
        if instance.is_stale(event):
            logger.debug("%s: ignored %s from a replaced process", instance.name, event)
            return None
        # Before the event moves its assignment or credential; the transcripts are read in
        # a thread (the instance writes them: they are no reason to stall the loop), and
        # only after the events that can follow a new response (loop.charging).
        if reads_transcripts(event):
            await anyio.to_thread.run_sync(self.spending.charge, instance)
        ctx.progress.saw(event, ctx.clock.wall())
        before = len(instance.history)
        instance.observe(event)
        self.executor.observed(instance, event, instance.history[before:])
        return instance

    async def _apply(self, event: Event) -> None:
        if isinstance(event, OriginRead | RuntimeNotice | Metered | PromptNotTyped | LaunchFailed):
            await self._report(event)
            return
        self._stall_checked = False
        known = self.ctx.instances.get(event.instance)
        if known is None:
            return
        before = known.state
        instance = await self._observe(event)
        if instance is None:
            return
        await self.recovery.active(instance)
        if isinstance(event, PaneDied) and self.recovery.replacing(instance):
            await self.recovery.replace(instance)
            return
        match event:
            case SessionStarted() if instance.state is InstanceState.IDLE:
                await self.executor.send_kept(instance)
            case TurnStopped() if instance.state is InstanceState.IDLE:
                await self.recovery.progressed(instance)
                assignment = self.ctx.progress.finish_assignment(instance.name)
                await self.review.stopped(instance, assignment)  # judged when origin answers
                await self.spending.turn_ended(instance)
            case TurnFailed():
                await self.recovery.turn_failed(instance, event)
            case PaneDied() | SessionEnded() if instance.state is not before and (
                instance.state in {InstanceState.DEAD, InstanceState.EXITING}
            ):  # a second report of the same death changes nothing
                await self.recovery.exited(instance, event, before=before)
            case ToolUsed():
                await self.recovery.progressed(instance)
            case ToolStarted():
                await self.recovery.tool_started(instance)
            case MergeFinished():
                await self.review.merge_finished(instance, event)
            case _:
                pass

    async def _report(
        self, event: OriginRead | RuntimeNotice | Metered | PromptNotTyped | LaunchFailed
    ) -> None:
        """Events that change no instance's state: origin's facts, a runtime's notice
        (recorded as an incident; the instance was left running), a response the broker
        served (charged now; not a sign of the instance's life), a prompt tmux could not
        type (an incident, as when it was typed on the loop; its delivery deadline sees to
        the instance), a launch that failed (its error raised, as when instances were
        started before the loop).

        Raises:
            Exception: what a failed launch raised.
        """
        if isinstance(event, LaunchFailed):
            raise event.error
        if isinstance(event, OriginRead):
            await self.review.origin_read(event)
        elif isinstance(event, Metered):
            self.spending.metered(event)
        elif isinstance(event, PromptNotTyped):
            self.executor.pane_failed(event.instance, event.evidence)
        elif event.instance in self.ctx.instances:
            await self.executor.perform(
                RecordIncident(
                    instance=event.instance,
                    kind=IncidentKind.RUNTIME_TROUBLE,
                    evidence=event.evidence,
                    action=event.action,
                )
            )

    async def _settle(self) -> Outcome | None:
        """Schedule what can start now; report the end when nothing more can happen."""
        ctx = self.ctx
        if self.spending.run_spent:
            return Outcome.BUDGET
        progress = ctx.progress
        scheduled = schedule(
            [i.snapshot() for i in ctx.instances.values()],
            progress.records,
            self.executor.ask_scheduler(),
            usable=ctx.rotator.usable,
        )
        for name in scheduled.move:
            await self.recovery.move_off_unusable(ctx.instances[name])
        for assignment in scheduled.send:
            await self.executor.perform(SendAssignment(assignment))
        for assignment in scheduled.set_aside:
            logger.debug("%s: not sent this round: %s", assignment.instance, assignment.kind)
        views = [i.snapshot() for i in ctx.instances.values()]
        facts = RunFacts(
            run_spent=self.spending.run_spent,
            complete=ctx.progress.is_complete(views, self.review.branches_ahead),
            busy=any(i.state in _BUSY for i in ctx.instances.values()),
            replacing=any(self.recovery.replacing(i) for i in ctx.instances.values()),
            merging=self.executor.merge_queue is not None and bool(progress.awaiting_merge),
            judging=bool(progress.judging) or self.executor.watch.busy,
            in_flight=bool(progress.in_flight),
            kept=bool(progress.kept),
            budget_reached=any(c.reached for c in self.spending.crossings),
            read_since_last_event=self._stall_checked,
        )
        match run_outcome(facts):
            case ReadAgain():
                self._stall_checked = True
                await self.review.read_again()
                return None
            case Outcome.BUDGET:
                logger.warning("nothing more can be done within the budget")
                return Outcome.BUDGET
            case Outcome.STALLED:
                logger.warning(
                    "nothing is running and nothing can be scheduled: the run stalled "
                    "(open tasks %d, awaiting merge %s, branches ahead %d, states %s)",
                    ctx.progress.open_tasks(),
                    sorted(ctx.progress.awaiting_merge),
                    self.review.branches_ahead,
                    sorted({i.state.value for i in ctx.instances.values()}),
                )
                return Outcome.STALLED
            case outcome:
                return outcome
