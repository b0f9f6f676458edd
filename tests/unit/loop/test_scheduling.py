"""What the loop does with the scheduling plugins' answer (:mod:`claude_orchestra.loop.scheduling`),
pure: moves off unusable credentials, at most one prompt per instance, kept prompts first."""

from __future__ import annotations

from collections import Counter

import attrs
from hypothesis import given
from hypothesis import strategies as st

from claude_orchestra.lifecycle import InstanceState
from claude_orchestra.loop.record import InstanceRecord
from claude_orchestra.loop.scheduling import Scheduled, schedule
from claude_orchestra.values import Assignment, AssignmentKind

from ..test_manager_protocol import view

NAMES = ("manager", "worker-1", "worker-2")


def work(name: str, task: str = "t") -> Assignment:
    return Assignment(instance=name, prompt=f"do {task}", kind=AssignmentKind.WORK, task=task)


def everything_usable(_: str) -> bool:
    return True


def test_the_plugins_assignments_are_sent_in_their_order() -> None:
    fleet = [view(n) for n in NAMES]
    answer = [work("worker-2"), work("worker-1")]
    assert schedule(fleet, {}, answer, usable=everything_usable) == Scheduled(send=tuple(answer))


def test_an_idle_holder_of_an_unusable_credential_moves_unless_its_budget_retired_it() -> None:
    fleet = [
        view("manager"),
        attrs.evolve(view("worker-1"), credential="resting"),
        attrs.evolve(view("worker-2"), credential="resting"),
        attrs.evolve(view("worker-3", InstanceState.WORKING), credential="resting"),
    ]
    records = {"worker-2": InstanceRecord(retired=True)}
    decided = schedule(fleet, records, [], usable=lambda c: c != "resting")
    assert decided.move == ("worker-1",)  # worker-3 moves when its turn ends


def test_a_kept_prompt_goes_first_and_a_second_assignment_waits() -> None:
    fleet = [view(n) for n in NAMES]
    records = {"worker-1": InstanceRecord(kept=work("worker-1", "old"))}
    answer = [work("worker-1", "new"), work("worker-2", "a"), work("worker-2", "b")]
    decided = schedule(fleet, records, answer, usable=everything_usable)
    assert decided.send == (work("worker-2", "a"),)
    assert decided.set_aside == (work("worker-1", "new"), work("worker-2", "b"))


@given(
    st.lists(st.tuples(st.sampled_from(NAMES), st.text(max_size=3)), max_size=8),
    st.sets(st.sampled_from(NAMES)),
)
def test_no_instance_gets_two_prompts_or_one_beside_its_kept_prompt(
    asked: list[tuple[str, str]], kept: set[str]
) -> None:
    fleet = [view(n) for n in NAMES]
    records = {n: InstanceRecord(kept=work(n, "kept")) for n in kept}
    answer = [work(name, task) for name, task in asked]
    decided = schedule(fleet, records, answer, usable=everything_usable)
    sent_to = [a.instance for a in decided.send]
    assert len(sent_to) == len(set(sent_to))
    assert not set(sent_to) & kept
    assert Counter(decided.send + decided.set_aside) == Counter(answer)  # none lost
