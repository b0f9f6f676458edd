"""What a reached budget limit does, pure.

- the run's limit: the run ends;
- an instance's limit: its assignment ends, nothing is sent it again, it stops for good
  (its branch is pushed at the end); the manager's, or the last worker's, ends the run;
- a credential's limit: the credential is spent; an idle holder moves to another
  credential at once, a busy one when its turn ends (cutting it would lose the work in
  flight), its prompt kept, like after a limit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import final

import attrs

from claude_orchestra.auth import CredentialFailure
from claude_orchestra.budget import BudgetCrossing, BudgetScope
from claude_orchestra.events import FailureKind
from claude_orchestra.instance import InstanceView, Role
from claude_orchestra.loop.actions import (
    Action,
    EndAssignment,
    FailOver,
    ForgetKept,
    KeepPrompt,
    MarkSpent,
    RecordIncident,
    StopInstance,
)
from claude_orchestra.values import IncidentKind


def _frozen(moving: Mapping[str, BudgetCrossing]) -> Mapping[str, BudgetCrossing]:
    return MappingProxyType(dict(moving))


@final
@attrs.frozen(kw_only=True)
class BudgetState:
    """What the budgets have done to the run so far."""

    retired: frozenset[str] = frozenset()
    """Instances stopped for good because they reached their budget."""
    moving: Mapping[str, BudgetCrossing] = attrs.field(factory=dict, converter=_frozen)
    """Instances to move off their spent credential when their turn ends."""
    run_spent: bool = False
    """A run limit was reached (or the manager's, or every worker's): the run ends."""


@final
@attrs.frozen
class Budgeted:
    """A decision: the new budget state and what to do."""

    state: BudgetState
    actions: tuple[Action, ...] = ()


def limit_reached(
    state: BudgetState,
    crossing: BudgetCrossing,
    instances: Sequence[InstanceView],
    *,
    in_flight: frozenset[str],
) -> Budgeted:
    """A budget's limit was reached (``in_flight``: instances with an assignment running)."""
    match crossing.scope:
        case BudgetScope.RUN:
            return Budgeted(attrs.evolve(state, run_spent=True))
        case BudgetScope.INSTANCE:
            return _instance_spent(state, crossing, instances)
        case BudgetScope.CREDENTIAL:
            return _credential_spent(state, crossing, instances, in_flight)
    raise AssertionError(crossing.scope)  # pragma: no cover - every scope is matched


def _instance_spent(
    state: BudgetState, crossing: BudgetCrossing, instances: Sequence[InstanceView]
) -> Budgeted:
    name = crossing.name
    if name in state.retired:
        return Budgeted(state)
    retired = state.retired | {name}
    role = next((i.role for i in instances if i.name == name), Role.WORKER)
    workers = {i.name for i in instances if i.role is Role.WORKER}
    spent = state.run_spent or role is Role.MANAGER or workers <= retired
    stop = RecordIncident(
        instance=name,
        kind=IncidentKind.BUDGET_REACHED,
        evidence=crossing.describe(),
        action="stop it for good; its branch is pushed",
    )
    actions = (EndAssignment(name), ForgetKept(name), stop, StopInstance(name))
    return Budgeted(attrs.evolve(state, retired=retired, run_spent=spent), actions)


def _credential_spent(
    state: BudgetState,
    crossing: BudgetCrossing,
    instances: Sequence[InstanceView],
    in_flight: frozenset[str],
) -> Budgeted:
    actions: list[Action] = [MarkSpent(crossing.name)]
    moving = dict(state.moving)
    for view in instances:
        if view.credential != crossing.name or not view.state.alive:
            continue
        if view.state.accepts_prompt and view.name not in in_flight:
            actions.extend(move_off_spent(view, crossing))
        else:  # let its turn end: cutting it would lose the work in flight
            moving[view.name] = crossing
    return Budgeted(attrs.evolve(state, moving=moving), tuple(actions))


def turn_ended(state: BudgetState, view: InstanceView) -> Budgeted:
    """A turn ended: an instance whose credential was spent meanwhile moves on now."""
    crossing = state.moving.get(view.name)
    if crossing is None:
        return Budgeted(state)
    moving = {k: v for k, v in state.moving.items() if k != view.name}
    actions = move_off_spent(view, crossing) if view.state.alive else ()
    return Budgeted(attrs.evolve(state, moving=moving), actions)


def move_off_spent(view: InstanceView, crossing: BudgetCrossing) -> tuple[Action, ...]:
    """Move a holder of a spent credential on, like after a limit, prompt kept."""
    failure = CredentialFailure(
        instance=view.name,
        credential=view.credential,
        kind=FailureKind.BILLING_ERROR,
        detail=f"budget: {crossing.describe()}",
        at=crossing.at,
        budget=True,
    )
    ask = FailOver(
        instance=view.name,
        cause=failure,
        evidence=failure.detail,
        moved=IncidentKind.BUDGET_REACHED,
    )
    return (KeepPrompt(view.name), ask)
