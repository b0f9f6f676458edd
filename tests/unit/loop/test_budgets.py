"""What a reached budget limit does (:mod:`claude_orchestra.loop.budgets`), pure."""

from __future__ import annotations

import attrs

from claude_orchestra.auth.rotator import CredentialFailure
from claude_orchestra.costs.budget import BudgetCrossing, BudgetScope, Measure
from claude_orchestra.events import FailureKind
from claude_orchestra.lifecycle import InstanceState
from claude_orchestra.loop import budgets
from claude_orchestra.loop.actions import (
    EndAssignment,
    FailOver,
    ForgetKept,
    KeepPrompt,
    MarkSpent,
    RecordIncident,
    StopInstance,
)
from claude_orchestra.loop.budgets import BudgetState
from claude_orchestra.loop.record import InstanceRecord
from claude_orchestra.loop.recovery import RecoveryRecord, Replacement
from claude_orchestra.values import Assignment, AssignmentKind, IncidentKind

from ..test_manager_protocol import view

FLEET = (view("manager"), view("worker-1"), view("worker-2", InstanceState.WORKING))
NONE: dict[str, InstanceRecord] = {}
RETIRED = InstanceRecord(retired=True, recovery=RecoveryRecord(stopped=True))


def working(name: str) -> InstanceRecord:
    """The record of an instance with an assignment in flight."""
    task = Assignment(instance=name, prompt="p", kind=AssignmentKind.WORK, task="t")
    return InstanceRecord(assignment=task)


def limit(scope: BudgetScope, name: str) -> BudgetCrossing:
    return BudgetCrossing(
        scope=scope, name=name, measure=Measure.USD, fraction=1.0, spent=5.0, limit=5.0, at=9.0
    )


def test_the_run_limit_ends_the_run_and_does_nothing_else() -> None:
    decided = budgets.limit_reached(BudgetState(), limit(BudgetScope.RUN, "run"), FLEET, NONE)
    assert decided.state.run_spent
    assert decided.actions == ()


def test_an_instance_over_its_budget_stops_for_good_once() -> None:
    decided = budgets.limit_reached(
        BudgetState(), limit(BudgetScope.INSTANCE, "worker-1"), FLEET, NONE
    )
    assert decided.records == {"worker-1": RETIRED}
    assert not decided.state.run_spent  # worker-2 still works
    assert decided.actions[:2] == (EndAssignment("worker-1"), ForgetKept("worker-1"))
    assert isinstance(decided.actions[2], RecordIncident)
    assert decided.actions[2].kind is IncidentKind.BUDGET_REACHED
    assert decided.actions[3] == StopInstance("worker-1")
    again = budgets.limit_reached(
        decided.state, limit(BudgetScope.INSTANCE, "worker-1"), FLEET, decided.records
    )
    assert again.actions == ()
    assert again.records == {}


def test_the_managers_limit_or_the_last_workers_ends_the_run() -> None:
    manager = budgets.limit_reached(
        BudgetState(), limit(BudgetScope.INSTANCE, "manager"), FLEET, NONE
    )
    assert manager.state.run_spent
    last = budgets.limit_reached(
        BudgetState(), limit(BudgetScope.INSTANCE, "worker-2"), FLEET, {"worker-1": RETIRED}
    )
    assert last.state.run_spent


def test_a_spent_credential_moves_idle_holders_now_and_busy_ones_after_their_turn() -> None:
    crossing = limit(BudgetScope.CREDENTIAL, "k1")
    fleet = (*FLEET, attrs.evolve(view("worker-3"), credential="k2"))
    decided = budgets.limit_reached(BudgetState(), crossing, fleet, {"worker-1": working("w")})
    assert decided.actions[0] == MarkSpent("k1")
    moved = [a.instance for a in decided.actions if isinstance(a, FailOver)]
    assert moved == ["manager"]  # idle, nothing in flight; worker-1 and worker-2 are busy
    assert {n: r.moving for n, r in decided.records.items()} == {
        "worker-1": crossing,
        "worker-2": crossing,
    }
    ask = decided.actions[2]
    assert decided.actions[1] == KeepPrompt("manager")
    assert isinstance(ask, FailOver)
    assert isinstance(ask.cause, CredentialFailure)
    assert ask.cause.budget
    assert ask.moved is IncidentKind.BUDGET_REACHED

    assert decided.state == BudgetState()  # a credential's limit does not end the run
    moving = decided.records["worker-2"]
    spent = BudgetState(run_spent=True)  # whatever the budgets did before is kept
    assert budgets.turn_ended(spent, moving, view("worker-2", InstanceState.IDLE)).state == spent
    ended = budgets.turn_ended(decided.state, moving, view("worker-2", InstanceState.IDLE))
    assert [type(a) for a in ended.actions] == [KeepPrompt, FailOver]
    assert ended.records["worker-2"].moving is None
    settled = ended.records["worker-2"]
    assert budgets.turn_ended(ended.state, settled, view("worker-2")).actions == ()
    dead = view("worker-1", InstanceState.DEAD)
    gone = budgets.turn_ended(decided.state, decided.records["worker-1"], dead)
    assert gone.actions == ()
    assert gone.records["worker-1"].moving is None


def test_an_instance_over_its_budget_is_recorded_in_so_many_words() -> None:
    crossing = limit(BudgetScope.INSTANCE, "worker-1")
    decided = budgets.limit_reached(BudgetState(), crossing, FLEET, NONE)
    assert decided.actions[2] == RecordIncident(
        instance="worker-1",
        kind=IncidentKind.BUDGET_REACHED,
        evidence="instance worker-1: limit reached: $5.0000 of $5 usd",
        action="stop it for good; its branch is pushed",
    )
    state = decided.state
    again = budgets.limit_reached(state, crossing, FLEET, decided.records)
    assert (again.state, again.actions) == (state, ())


def test_an_instance_retired_while_it_is_being_replaced_is_not_launched_again() -> None:
    # Found by the LoopMachine: a worker asked to exit for a replacement reached its budget;
    # the replacement then launched it, and it was given work past its budget.
    being_replaced = InstanceRecord(recovery=RecoveryRecord(replacing=Replacement(None, True)))
    decided = budgets.limit_reached(
        BudgetState(),
        limit(BudgetScope.INSTANCE, "worker-1"),
        FLEET,
        {"worker-1": being_replaced},
    )
    assert decided.records == {"worker-1": RETIRED}  # the replacement is called off


def test_an_instance_no_longer_in_the_fleet_is_retired_as_a_worker() -> None:
    decided = budgets.limit_reached(
        BudgetState(), limit(BudgetScope.INSTANCE, "worker-9"), FLEET, NONE
    )
    assert decided.records == {"worker-9": RETIRED}
    assert not decided.state.run_spent


def test_a_holder_of_a_spent_credential_is_moved_whatever_comes_before_it() -> None:
    fleet = (attrs.evolve(view("worker-3"), credential="k2"), view("worker-1"))
    decided = budgets.limit_reached(BudgetState(), limit(BudgetScope.CREDENTIAL, "k1"), fleet, NONE)
    failure = CredentialFailure(
        instance="worker-1",
        credential="k1",
        kind=FailureKind.BILLING_ERROR,
        detail="budget: credential k1: limit reached: $5.0000 of $5 usd",
        at=9.0,
        budget=True,
    )
    assert decided.actions == (
        MarkSpent("k1"),
        KeepPrompt("worker-1"),
        FailOver(
            instance="worker-1",
            cause=failure,
            evidence=failure.detail,
            moved=IncidentKind.BUDGET_REACHED,
        ),
    )


def test_a_turn_ending_with_nothing_to_move_keeps_the_state() -> None:
    state = BudgetState(run_spent=True)
    ended = budgets.turn_ended(state, InstanceRecord(), view("worker-1"))
    assert (ended.state, ended.actions, ended.records) == (state, (), {})
