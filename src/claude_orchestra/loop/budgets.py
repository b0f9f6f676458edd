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

from claude_orchestra.auth.rotator import CredentialFailure
from claude_orchestra.costs.budget import BudgetCrossing, BudgetScope
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
from claude_orchestra.loop.record import InstanceRecord
from claude_orchestra.values import IncidentKind


def _frozen(records: Mapping[str, InstanceRecord]) -> Mapping[str, InstanceRecord]:
    return MappingProxyType(dict(records))


@final
@attrs.frozen(kw_only=True)
class BudgetState:
    """What the budgets have done to the run so far (what they did to each instance is in
    its record: ``retired``, ``moving``)."""

    run_spent: bool = False
    """A run limit was reached (or the manager's, or every worker's): the run ends."""


@final
@attrs.frozen
class Budgeted:
    """A decision: the new budget state, the instances' changed records and what to do."""

    state: BudgetState
    actions: tuple[Action, ...] = ()
    records: Mapping[str, InstanceRecord] = attrs.field(factory=dict, converter=_frozen)
    """Instance -> its new record (only those that changed)."""


def limit_reached(
    state: BudgetState,
    crossing: BudgetCrossing,
    instances: Sequence[InstanceView],
    records: Mapping[str, InstanceRecord],
) -> Budgeted:
    """A budget's limit was reached (``records``: every instance's record)."""
    match crossing.scope:
        case BudgetScope.RUN:
            return Budgeted(attrs.evolve(state, run_spent=True))
        case BudgetScope.INSTANCE:
            return _instance_spent(state, crossing, instances, records)
        case BudgetScope.CREDENTIAL:
            return _credential_spent(state, crossing, instances, records)
    raise AssertionError(crossing.scope)  # pragma: no cover - every scope is matched


def _instance_spent(
    state: BudgetState,
    crossing: BudgetCrossing,
    instances: Sequence[InstanceView],
    records: Mapping[str, InstanceRecord],
) -> Budgeted:
    name = crossing.name
    record = records.get(name, InstanceRecord())
    if record.retired:
        return Budgeted(state)
    retired = {n for n, r in records.items() if r.retired} | {name}
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
    # a replacement or restart under way launches nothing now
    stopped = attrs.evolve(record.recovery, stopped=True, replacing=None)
    changed = {name: attrs.evolve(record, retired=True, recovery=stopped)}
    return Budgeted(attrs.evolve(state, run_spent=spent), actions, changed)


def _credential_spent(
    state: BudgetState,
    crossing: BudgetCrossing,
    instances: Sequence[InstanceView],
    records: Mapping[str, InstanceRecord],
) -> Budgeted:
    actions: list[Action] = [MarkSpent(crossing.name)]
    changed: dict[str, InstanceRecord] = {}
    for view in instances:
        if view.credential != crossing.name or not view.state.alive:
            continue
        record = records.get(view.name, InstanceRecord())
        if view.state.accepts_prompt and record.assignment is None:
            actions.extend(move_off_spent(view, crossing))
        else:  # let its turn end: cutting it would lose the work in flight
            changed[view.name] = attrs.evolve(record, moving=crossing)
    return Budgeted(state, tuple(actions), changed)


def turn_ended(state: BudgetState, record: InstanceRecord, view: InstanceView) -> Budgeted:
    """A turn ended: an instance whose credential was spent meanwhile moves on now."""
    crossing = record.moving
    if crossing is None:
        return Budgeted(state)
    actions = move_off_spent(view, crossing) if view.state.alive else ()
    return Budgeted(state, actions, {view.name: attrs.evolve(record, moving=None)})


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
