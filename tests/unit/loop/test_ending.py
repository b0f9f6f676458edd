"""When a run is over (:func:`claude_orchestra.loop.ending.run_outcome`), pure."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from claude_orchestra.loop.ending import ReadAgain, RunFacts, run_outcome
from claude_orchestra.outcomes import Outcome

QUIET = RunFacts(read_since_last_event=True)
UNDER_WAY = ("busy", "replacing", "merging", "judging", "in_flight", "kept")


def test_a_spent_run_budget_ends_the_run_whatever_goes_on() -> None:
    assert run_outcome(RunFacts(run_spent=True, busy=True, complete=True)) is Outcome.BUDGET


def test_complete_wins_over_a_stall() -> None:
    assert run_outcome(attrs.evolve(QUIET, complete=True)) is Outcome.COMPLETE


@pytest.mark.parametrize("going_on", UNDER_WAY)
def test_anything_under_way_keeps_the_run_going(going_on: str) -> None:
    assert run_outcome(attrs.evolve(QUIET, **{going_on: True})) is None
    assert run_outcome(attrs.evolve(QUIET, budget_reached=True, **{going_on: True})) is None


def test_a_stall_is_declared_only_after_origin_was_read_again() -> None:
    assert run_outcome(RunFacts()) == ReadAgain()
    assert run_outcome(QUIET) is Outcome.STALLED


def test_nothing_can_move_and_a_limit_was_reached_ends_on_the_budget() -> None:
    assert run_outcome(RunFacts(budget_reached=True)) is Outcome.BUDGET


@given(st.builds(RunFacts, **{f: st.booleans() for f in attrs.fields_dict(RunFacts)}))
def test_the_run_never_waits_forever(facts: RunFacts) -> None:
    """With nothing under way, the answer is an end, or one more read then an end."""
    idle = attrs.evolve(facts, **dict.fromkeys(UNDER_WAY, False))
    first = run_outcome(idle)
    if isinstance(first, ReadAgain):
        first = run_outcome(attrs.evolve(idle, read_since_last_event=True))
    assert isinstance(first, Outcome)
