"""Counting what instances spend and enforcing the budgets, as part of the loop.

:class:`Spending` is told about every event before the event is applied: it reads that
instance's transcripts (:class:`~claude_orchestra.costs.CostLedger`), charging new responses
to the instance's credential and assignment at that moment, then checks the budgets
(:class:`~claude_orchestra.budget.BudgetWatch`). Each crossing is logged, journaled, kept
for the report and told to ``orchestra_budget`` observers; a reached limit is acted on:
the run ends, the instance stops for good, or the credential's holders move on.
"""

from __future__ import annotations

import logging
from typing import final

import attrs

from claude_orchestra.auth import AuthRotator, CredentialFailure
from claude_orchestra.budget import BudgetCrossing, BudgetScope, BudgetWatch
from claude_orchestra.context import RunContext
from claude_orchestra.costs import Attribution, CostLedger, Spend
from claude_orchestra.events import FailureKind
from claude_orchestra.instance import Instance, Role
from claude_orchestra.progress import AssignmentKind, IncidentKind
from claude_orchestra.recovery import Recovery

logger = logging.getLogger(__name__)


@final
@attrs.define(eq=False)
class Spending:
    """The run's cost ledger and budgets."""

    ctx: RunContext
    ledger: CostLedger
    watch: BudgetWatch
    rotator: AuthRotator
    recovery: Recovery
    crossings: list[BudgetCrossing] = attrs.field(init=False, factory=list)
    retired: set[str] = attrs.field(init=False, factory=set)
    """Instances stopped for good because they reached their budget."""
    _moving: dict[str, BudgetCrossing] = attrs.field(init=False, factory=dict)
    """Instances to move off their spent credential when their turn ends."""
    run_spent: bool = attrs.field(init=False, default=False)
    """A run limit was reached (or the manager's): the run ends."""

    def charge(self, instance: Instance) -> Spend:
        """Read what ``instance``'s transcripts gained; charge it to what it is doing now."""
        return self.ledger.read(instance.home.projects_dir, self.attribution(instance))

    def attribution(self, instance: Instance) -> Attribution:
        """The instance, its role, its credential and its assignment now."""
        assignment = self.ctx.progress.in_flight.get(instance.name)
        task = None
        if assignment is not None:
            task = assignment.task or (
                assignment.kind.value if assignment.kind is not AssignmentKind.WORK else None
            )
        return Attribution(
            instance=instance.name,
            role=instance.role.value,
            credential=instance.credential.name,
            task=task,
        )

    async def enforce(self) -> None:
        """Report newly crossed thresholds and act on reached limits."""
        for crossing in self.watch.check(self.ledger, now=self.ctx.clock.wall()):
            self.crossings.append(crossing)
            log = logger.warning if crossing.reached else logger.info
            log("budget: %s", crossing.describe())
            self.ctx.journal.record(crossing)
            if crossing.reached:
                await self._act(crossing)
            self.ctx.plugins.budget(crossing)

    async def _act(self, crossing: BudgetCrossing) -> None:
        ctx = self.ctx
        match crossing.scope:
            case BudgetScope.RUN:
                self.run_spent = True
            case BudgetScope.INSTANCE:
                instance = ctx.instances[crossing.name]
                if instance.name in self.retired:
                    return
                self.retired.add(instance.name)
                ctx.progress.finish_assignment(instance.name)
                ctx.resend.pop(instance.name, None)
                ctx.incident(
                    IncidentKind.BUDGET_REACHED,
                    instance,
                    crossing.describe(),
                    "stop it for good; its branch is pushed",
                )
                await ctx.guard(instance, instance.stop())
                if instance.role is Role.MANAGER or all(
                    i.name in self.retired for i in ctx.instances.values() if i.role is Role.WORKER
                ):
                    self.run_spent = True
            case BudgetScope.CREDENTIAL:
                self.rotator.mark_spent(crossing.name)
                for instance in ctx.instances.values():
                    if instance.credential.name != crossing.name or not instance.state.alive:
                        continue
                    if (
                        instance.state.accepts_prompt
                        and instance.name not in ctx.progress.in_flight
                    ):
                        await self._move_off(instance, crossing)
                    else:  # let its turn end: cutting it would lose the work in flight
                        self._moving[instance.name] = crossing

    async def turn_ended(self, instance: Instance) -> None:
        """A turn ended: an instance whose credential was spent meanwhile moves on now."""
        crossing = self._moving.pop(instance.name, None)
        if crossing is not None and instance.state.alive:
            await self._move_off(instance, crossing)

    async def _move_off(self, instance: Instance, crossing: BudgetCrossing) -> None:
        """Move a holder of a spent credential on, like after a limit, prompt kept."""
        failure = CredentialFailure(
            instance=instance.name,
            credential=instance.credential.name,
            kind=FailureKind.BILLING_ERROR,
            detail=f"budget: {crossing.describe()}",
            at=crossing.at,
            budget=True,
        )
        assignment = self.ctx.progress.finish_assignment(instance.name)
        if assignment is not None:
            self.ctx.resend[instance.name] = assignment
        await self.recovery.move_off(instance, failure)
