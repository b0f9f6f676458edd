"""What a reached budget limit does (:mod:`claude_orchestra.loop.budgets`), pure."""

from __future__ import annotations

import attrs

from claude_orchestra.auth import CredentialFailure
from claude_orchestra.budget import BudgetCrossing, BudgetScope, Measure
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
from claude_orchestra.values import IncidentKind

from ..test_manager_protocol import view

FLEET = (view("manager"), view("worker-1"), view("worker-2", InstanceState.WORKING))
NONE: frozenset[str] = frozenset()


def limit(scope: BudgetScope, name: str) -> BudgetCrossing:
    return BudgetCrossing(
        scope=scope, name=name, measure=Measure.USD, fraction=1.0, spent=5.0, limit=5.0, at=9.0
    )


def test_the_run_limit_ends_the_run_and_does_nothing_else() -> None:
    decided = budgets.limit_reached(
        BudgetState(), limit(BudgetScope.RUN, "run"), FLEET, in_flight=NONE
    )
    assert decided.state.run_spent
    assert decided.actions == ()


def test_an_instance_over_its_budget_stops_for_good_once() -> None:
    decided = budgets.limit_reached(
        BudgetState(), limit(BudgetScope.INSTANCE, "worker-1"), FLEET, in_flight=NONE
    )
    assert decided.state.retired == {"worker-1"}
    assert not decided.state.run_spent  # worker-2 still works
    assert decided.actions[:2] == (EndAssignment("worker-1"), ForgetKept("worker-1"))
    assert isinstance(decided.actions[2], RecordIncident)
    assert decided.actions[2].kind is IncidentKind.BUDGET_REACHED
    assert decided.actions[3] == StopInstance("worker-1")
    again = budgets.limit_reached(
        decided.state, limit(BudgetScope.INSTANCE, "worker-1"), FLEET, in_flight=NONE
    )
    assert again.actions == ()


def test_the_managers_limit_or_the_last_workers_ends_the_run() -> None:
    manager = budgets.limit_reached(
        BudgetState(), limit(BudgetScope.INSTANCE, "manager"), FLEET, in_flight=NONE
    )
    assert manager.state.run_spent
    last = budgets.limit_reached(
        BudgetState(retired=frozenset({"worker-1"})),
        limit(BudgetScope.INSTANCE, "worker-2"),
        FLEET,
        in_flight=NONE,
    )
    assert last.state.run_spent


def test_a_spent_credential_moves_idle_holders_now_and_busy_ones_after_their_turn() -> None:
    crossing = limit(BudgetScope.CREDENTIAL, "k1")
    fleet = (*FLEET, attrs.evolve(view("worker-3"), credential="k2"))
    decided = budgets.limit_reached(
        BudgetState(), crossing, fleet, in_flight=frozenset({"worker-1"})
    )
    assert decided.actions[0] == MarkSpent("k1")
    moved = [a.instance for a in decided.actions if isinstance(a, FailOver)]
    assert moved == ["manager"]  # idle, nothing in flight; worker-1 and worker-2 are busy
    assert set(decided.state.moving) == {"worker-1", "worker-2"}
    ask = decided.actions[2]
    assert decided.actions[1] == KeepPrompt("manager")
    assert isinstance(ask, FailOver)
    assert isinstance(ask.cause, CredentialFailure)
    assert ask.cause.budget
    assert ask.moved is IncidentKind.BUDGET_REACHED

    ended = budgets.turn_ended(decided.state, view("worker-2", InstanceState.IDLE))
    assert [type(a) for a in ended.actions] == [KeepPrompt, FailOver]
    assert set(ended.state.moving) == {"worker-1"}
    assert budgets.turn_ended(ended.state, view("worker-2")).actions == ()
    gone = budgets.turn_ended(decided.state, view("worker-1", InstanceState.DEAD))
    assert gone.actions == ()
    assert "worker-1" not in gone.state.moving


def test_an_instance_over_its_budget_is_recorded_in_so_many_words() -> None:
    crossing = limit(BudgetScope.INSTANCE, "worker-1")
    decided = budgets.limit_reached(BudgetState(), crossing, FLEET, in_flight=NONE)
    assert decided.actions[2] == RecordIncident(
        instance="worker-1",
        kind=IncidentKind.BUDGET_REACHED,
        evidence="instance worker-1: limit reached: $5.0000 of $5 usd",
        action="stop it for good; its branch is pushed",
    )
    state = decided.state
    assert budgets.limit_reached(state, crossing, FLEET, in_flight=NONE).state == state


def test_an_instance_no_longer_in_the_fleet_is_retired_as_a_worker() -> None:
    decided = budgets.limit_reached(
        BudgetState(), limit(BudgetScope.INSTANCE, "worker-9"), FLEET, in_flight=NONE
    )
    assert decided.state.retired == {"worker-9"}
    assert not decided.state.run_spent


def test_a_holder_of_a_spent_credential_is_moved_whatever_comes_before_it() -> None:
    fleet = (attrs.evolve(view("worker-3"), credential="k2"), view("worker-1"))
    decided = budgets.limit_reached(
        BudgetState(), limit(BudgetScope.CREDENTIAL, "k1"), fleet, in_flight=NONE
    )
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
    state = BudgetState(retired=frozenset({"worker-2"}), run_spent=True)
    assert budgets.turn_ended(state, view("worker-1")).state == state
