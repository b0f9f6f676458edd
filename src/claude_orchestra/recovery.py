"""Keeping instances alive, delivered to and authenticated: the executor of recovery's
decisions.

The decisions themselves are pure (:mod:`claude_orchestra.loop.recovery`: failed turns,
exits, restarts, deadlines, quiet and stuck turns). :class:`Recovery` reads the
:class:`~claude_orchestra.loop.recovery.RecoveryRecord` part of the instance's record (it
keeps none of its own), asks a decision with the time and a frozen view of the instance,
writes the new part back, and carries out the actions it returns: tmux
(launch, terminate, keys, the screen), the run's record (incidents, prompts kept to send
again, timers) and the failover (which asks the credential plugins). What an action learns
— a launch done, a screen read, the failover's answer — goes back to the decisions. The
budgets' decisions (:mod:`claude_orchestra.loop.budgets`) are carried out here too
(:meth:`Recovery.perform`): one executor for the loop's actions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import final

import anyio
import attrs

from claude_orchestra.auth.failover import Failover
from claude_orchestra.auth.moves import StayOn
from claude_orchestra.auth.rotator import CredentialFailure
from claude_orchestra.context import RunContext
from claude_orchestra.costs.transcripts import transcript_size
from claude_orchestra.errors import TmuxError
from claude_orchestra.events import Event, PaneDied, TurnFailed
from claude_orchestra.instance import Instance, InstanceView
from claude_orchestra.lifecycle import InstanceState
from claude_orchestra.loop import recovery as decide
from claude_orchestra.loop import watchdog
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
from claude_orchestra.loop.recovery import Decided, Now, RecoveryRecord
from claude_orchestra.timers import Timer

logger = logging.getLogger(__name__)

Decide = Callable[[RecoveryRecord, InstanceView, Now], Decided]


async def transcript_bytes(instance: Instance) -> int:
    """The size of every transcript the instance has written (grows with each response);
    counted in a thread, since the instance decides how many files there are."""
    return await anyio.to_thread.run_sync(transcript_size, instance.home.projects_dir)


@final
@attrs.define(eq=False)
class Recovery:
    """Failures, exits, restarts and the deadlines that catch what fires no hook."""

    ctx: RunContext
    failover: Failover

    def record(self, name: str) -> RecoveryRecord:
        """What recovery knows of instance ``name`` (its part of the instance's record)."""
        return self.ctx.progress.record(name).recovery

    # -- what the coordinator tells us ---------------------------------------------------

    async def launched(self, name: str) -> None:
        """A process was started for ``name``: it should say ``SessionStart`` in time."""
        rules = self.ctx.rules
        await self._carry_out(name, lambda r, v, now: decide.launched(r, v, rules, now))

    async def active(self, instance: Instance) -> None:
        """An event arrived for ``instance``; while it works, watch for quiet."""
        rules = self.ctx.rules
        await self._carry_out(
            instance.name, lambda r, v, now: decide.event_arrived(r, v, rules, now)
        )

    async def progressed(self, instance: Instance) -> None:
        """A request of ``instance`` succeeded (a tool ran, a turn stopped)."""
        await self._carry_out(instance.name, lambda r, v, _: decide.progressed(r, v))

    async def tool_started(self, instance: Instance) -> None:
        """A tool runs: until it ends, quiet is its own time."""
        await self._carry_out(instance.name, lambda r, _v, _n: decide.tool_started(r))

    def replacing(self, instance: Instance) -> bool:
        """The instance's process was asked to exit so it can be replaced."""
        return self.record(instance.name).replacing is not None

    async def replace(self, instance: Instance) -> None:
        """The old process is gone: start the new one."""
        await self._carry_out(instance.name, lambda r, v, _: decide.replace(r, v))

    async def turn_failed(self, instance: Instance, event: TurnFailed) -> None:
        """A ``StopFailure`` (or the screen's equivalent): fail over or back off."""
        rules = self.ctx.rules
        await self._carry_out(
            instance.name, lambda r, v, now: decide.turn_failed(r, v, event, rules, now)
        )

    async def move_off_unusable(self, instance: Instance) -> None:
        """The instance is idle on a credential that cannot take a request now: move it
        before anything is typed."""
        standing = self.failover.rotator.standing(instance.credential.name)
        await self._carry_out(
            instance.name, lambda r, v, now: decide.credential_unusable(r, v, standing, now)
        )

    async def move_off(self, instance: Instance, failure: CredentialFailure) -> None:
        """The core retired the instance's credential (its budget): move on, like after a limit."""
        await self._carry_out(
            instance.name, lambda r, v, _: Decided(r, (decide.credential_retired(v, failure),))
        )

    async def exited(self, instance: Instance, event: Event, *, before: InstanceState) -> None:
        """The process exited or died without our asking: restart it (bounded, backing off)."""
        rules = self.ctx.rules
        evidence = instance.history[-1].evidence
        died = isinstance(event, PaneDied)
        was_exiting = before is InstanceState.EXITING
        await self._carry_out(
            instance.name,
            lambda r, v, now: decide.exited(
                r, v, died=died, was_exiting=was_exiting, evidence=evidence, rules=rules, now=now
            ),
        )

    async def on_timer(self, timer: Timer) -> None:
        """A deadline came due: act if what it waited for still has not happened."""
        rules = self.ctx.rules
        await self._carry_out(
            timer.instance, lambda r, v, now: watchdog.timer_due(r, v, timer, rules, now)
        )

    # -- the executor --------------------------------------------------------------------

    async def perform(self, actions: Sequence[Action]) -> None:
        """Carry out actions decided elsewhere (the budgets), and what they learn."""
        for action in actions:
            result = await self._perform(action)
            if result is not None:
                await self._carry_out(result.instance, self._on_result(result))

    async def _carry_out(self, name: str, decision: Decide) -> None:
        """Ask ``decision`` about instance ``name`` now, keep its record, do its actions; what
        an action learns is decided on (and done) before the next action."""
        instance = self.ctx.instances[name]
        clock = self.ctx.clock
        decided = decision(self.record(name), instance.snapshot(), Now(clock.now(), clock.wall()))
        progress = self.ctx.progress
        progress.put(name, attrs.evolve(progress.record(name), recovery=decided.record))
        await self.perform(decided.actions)

    def _on_result(self, result: Result) -> Decide:
        rules = self.ctx.rules
        match result:
            case Launched():
                return lambda r, v, now: decide.launched(r, v, rules, now)
            case ScreenRead():
                return lambda r, v, now: watchdog.screen_read(r, v, result, rules, now)
            case FailoverAnswered():
                return lambda r, v, now: decide.follow(r, v, result, rules, now)
            case TurnFailed():
                return lambda r, v, now: decide.turn_failed(r, v, result, rules, now)

    async def _perform(self, action: Action) -> Result | None:  # noqa: PLR0912
        ctx = self.ctx
        if isinstance(action, MarkSpent):
            self.failover.rotator.mark_spent(action.credential)
            return None
        instance = ctx.instances[action.instance]
        name = instance.name
        match action:
            case Schedule(at=at, timer=timer):
                ctx.timers.add(at, timer)
            case RecordIncident():
                ctx.incident(
                    action.kind,
                    instance,
                    action.evidence,
                    action.action,
                    resumes_at=action.resumes_at,
                )
            case Launch(credential=credential, resume=resume):
                await ctx.guard(instance, instance.restart(credential, resume=resume))
                return Launched(name)
            case Terminate():
                await ctx.guard(instance, instance.terminate())
            case StopInstance():
                await ctx.guard(instance, instance.stop())
            case Press(key=key):
                await ctx.guard(instance, instance.press(key))
            case KeepPrompt():
                assignment = ctx.progress.finish_assignment(name)
                if assignment is not None:
                    ctx.progress.keep(assignment)
            case EndAssignment():
                ctx.progress.finish_assignment(name)
            case ForgetKept():
                ctx.progress.take_kept(name)
            case ResendPrompt():
                await ctx.resend_pending(instance)
            case ReadScreen():
                return await self._read_screen(instance, action)
            case FailOver():
                return self._fail_over(instance, action)
            case ObserveFailure(event=event):
                instance.observe(event)
                ctx.journal.record(event)
                return event
            case Recovered():
                self.failover.progressed(name)
                self._keep_failure(name, None)
            case Note(message=message):
                logger.info("%s: %s", name, message)
        return None

    def _keep_failure(self, name: str, failure: CredentialFailure | None) -> None:
        progress = self.ctx.progress
        progress.put(name, attrs.evolve(progress.record(name), failure=failure))

    async def _read_screen(self, instance: Instance, action: ReadScreen) -> ScreenRead:
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
        view = instance.snapshot()
        failure: CredentialFailure | None
        match action.cause:
            case TurnFailed() as event:
                # journaled: a resumed run keeps the cooldown (and sends nothing on it)
                failure = self.failover.failure_of(view, event)
                self.ctx.journal.record(failure)
            case CredentialFailure():
                failure = action.cause
            case None:  # a pause ended: the same failure is decided on again
                failure = self.ctx.progress.record(instance.name).failure
        self._keep_failure(instance.name, failure)
        decision = StayOn() if failure is None else self.failover.decide(view, failure)
        return FailoverAnswered(
            instance=instance.name, decision=decision, evidence=action.evidence, moved=action.moved
        )
