"""Keeping instances alive, delivered to and authenticated: recovery's decisions, kept.

The decisions themselves are pure (:mod:`claude_orchestra.loop.recovery`: failed turns,
exits, restarts, deadlines, quiet and stuck turns). :class:`Recovery` reads the
:class:`~claude_orchestra.loop.recovery.RecoveryRecord` part of the instance's record (it
keeps none of its own), asks a decision with the time and a frozen view of the instance,
writes the new part back, and hands the actions it returns to the loop's
:class:`~claude_orchestra.executor.Executor`. What an action learns — a launch done, a
screen read, the failover's answer — comes back here and is decided on before the next
action. The budgets' decisions (:mod:`claude_orchestra.loop.budgets`) are carried out the
same way (:meth:`Recovery.carry_out`), since their results are recovery's to decide on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import final

import attrs

from claude_orchestra.auth.rotator import CredentialFailure
from claude_orchestra.context import RunContext
from claude_orchestra.events import Event, PaneDied, TurnFailed
from claude_orchestra.executor import Executor
from claude_orchestra.instance import Instance, InstanceView
from claude_orchestra.lifecycle import InstanceState
from claude_orchestra.loop import recovery as decide
from claude_orchestra.loop import watchdog
from claude_orchestra.loop.actions import (
    Action,
    FailoverAnswered,
    Launched,
    Result,
    ScreenRead,
)
from claude_orchestra.loop.recovery import Decided, Now, RecoveryRecord
from claude_orchestra.loop.review_actions import MergePlanned
from claude_orchestra.timers import Timer

logger = logging.getLogger(__name__)

Decide = Callable[[RecoveryRecord, InstanceView, Now], Decided]


@final
@attrs.define(eq=False)
class Recovery:
    """Failures, exits, restarts and the deadlines that catch what fires no hook."""

    ctx: RunContext
    executor: Executor

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
        standing = self.ctx.rotator.standing(instance.credential.name)
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

    # -- deciding, and handing the actions to the executor --------------------------------

    async def carry_out(self, actions: Sequence[Action]) -> None:
        """Have the executor carry out ``actions`` (recovery's, or the budgets'), deciding on
        what each one learns before the next."""
        for action in actions:
            learned = await self.executor.perform(action)
            if learned is not None and not isinstance(learned, MergePlanned):
                await self._carry_out(learned.instance, self._on_result(learned))

    async def _carry_out(self, name: str, decision: Decide) -> None:
        """Ask ``decision`` about instance ``name`` now, keep its record, do its actions; what
        an action learns is decided on (and done) before the next action."""
        instance = self.ctx.instances[name]
        clock = self.ctx.clock
        decided = decision(self.record(name), instance.snapshot(), Now(clock.now(), clock.wall()))
        progress = self.ctx.progress
        progress.put(name, attrs.evolve(progress.record(name), recovery=decided.record))
        await self.carry_out(decided.actions)

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
