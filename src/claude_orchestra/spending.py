"""Counting what instances spend and enforcing the budgets, as part of the loop.

:class:`Spending` is told about an event before the event is applied (every event that
can follow a new response: :mod:`claude_orchestra.loop.charging`): it reads that
instance's transcripts (:class:`~claude_orchestra.costs.ledger.CostLedger`), charging new responses
to the instance's credential and assignment at that moment, then checks the budgets
(:class:`~claude_orchestra.costs.budget.BudgetWatch`). Each crossing is kept for the report and
handed to the loop's :class:`~claude_orchestra.executor.Executor` (logged, journaled, told
to ``orchestra_budget`` observers); what a reached limit does is decided by
:mod:`claude_orchestra.loop.budgets` (the run ends, the instance stops for good, or the
credential's holders move on), carried out by the executor, and what that learns is
decided on by :class:`~claude_orchestra.recovery.Recovery`.
"""

from __future__ import annotations

from typing import final

import attrs

from claude_orchestra.auth.rotator import AuthRotator
from claude_orchestra.broker.meter import Metered
from claude_orchestra.context import RunContext
from claude_orchestra.costs.budget import BudgetCrossing, BudgetWatch
from claude_orchestra.costs.ledger import Attribution, CostLedger, ServedCharge, Spend
from claude_orchestra.instance import Instance
from claude_orchestra.loop import budgets
from claude_orchestra.loop.budgets import BudgetState
from claude_orchestra.recovery import Recovery
from claude_orchestra.values import AssignmentKind


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
    state: BudgetState = attrs.field(init=False, factory=BudgetState)
    """What the budgets have done so far (decided by :mod:`claude_orchestra.loop.budgets`)."""

    @property
    def run_spent(self) -> bool:
        """A run limit was reached (or the manager's, or every worker's): the run ends."""
        return self.state.run_spent

    def charge(self, instance: Instance) -> Spend:
        """Read what ``instance``'s transcripts gained; charge it to what it is doing now."""
        return self.ledger.read(instance.home.projects_dir, self.attribution(instance))

    def metered(self, event: Metered) -> Spend:
        """Charge a response the broker served to what its instance is doing now, on the
        credential that answered it (a remote worker's transcripts are never read here:
        this is how its spend is counted), and journal the charge (a resumed run counts
        it again from there)."""
        served = event.served
        instance = self.ctx.instances.get(event.instance)
        usage, message_id, model = served.usage, served.message_id, served.model
        if instance is None or usage is None or message_id is None or model is None:
            return Spend()
        attribution = self.attribution(instance)
        if served.credential is not None:
            attribution = attrs.evolve(attribution, credential=served.credential)
        spend = self.ledger.served(message_id, model, usage, attribution)
        if spend.usage.total or spend.unpriced:  # kept for a resumed run to count again
            charge = ServedCharge(
                message_id=message_id, model=model, usage=usage, attribution=attribution
            )
            self.recovery.executor.charged(charge)
        return spend

    def attribution(self, instance: Instance) -> Attribution:
        """The instance, its role, its credential and its assignment now."""
        assignment = self.ctx.progress.record(instance.name).assignment
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
            self.recovery.executor.budget_crossed(crossing)
            if crossing.reached:
                views = [i.snapshot() for i in self.ctx.instances.values()]
                records = self.ctx.progress.records
                await self._carry_out(budgets.limit_reached(self.state, crossing, views, records))

    async def turn_ended(self, instance: Instance) -> None:
        """A turn ended: an instance whose credential was spent meanwhile moves on now."""
        record = self.ctx.progress.record(instance.name)
        await self._carry_out(budgets.turn_ended(self.state, record, instance.snapshot()))

    async def _carry_out(self, decided: budgets.Budgeted) -> None:
        self.state = decided.state
        for name, record in decided.records.items():
            self.ctx.progress.put(name, record)
        await self.recovery.carry_out(decided.actions)
