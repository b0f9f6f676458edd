"""The instance lifecycle: the happy path, failures, exits, and any order of events."""

from __future__ import annotations

from hypothesis import settings

from claude_orchestra.events import FailureKind, PaneDied, SessionEnded, TurnFailed
from claude_orchestra.lifecycle import InstanceState, Launched, PromptSent, StopRequested, advance
from claude_orchestra.testing.machines import LifecycleMachine

S = InstanceState
HOOK = {"instance": "w", "at": 0.0, "session_id": "s"}


def test_failures_split_into_credential_problems_and_others() -> None:
    for kind in FailureKind:
        step = advance(S.WORKING, TurnFailed(error=kind, detail="d", **HOOK))
        expected = S.RATE_LIMITED if kind.is_credential_problem else S.FAILED
        assert step.state is expected
        assert kind.value in step.reason


def test_exit_after_a_stop_request_is_stopped_else_dead() -> None:
    died = PaneDied(instance="w", at=0.0, exit_status=None, signal=9, pid=7, launch=1)
    assert advance(S.WORKING, died).state is S.DEAD
    assert advance(S.STOPPING, died).state is S.STOPPED
    assert advance(S.IDLE, SessionEnded(reason="other", **HOOK)).state is S.EXITING
    assert advance(S.IDLE, SessionEnded(reason="clear", **HOOK)).state is S.IDLE


def test_prompts_only_go_to_instances_that_take_them() -> None:
    assert advance(S.IDLE, PromptSent(prompt="p")).state is S.PROMPTED
    assert advance(S.RATE_LIMITED, PromptSent(prompt="p")).state is S.PROMPTED
    step = advance(S.WORKING, PromptSent(prompt="p"))
    assert not step.changed
    assert "while working" in step.reason


def test_a_launch_restarts_from_any_state() -> None:
    for state in S:
        assert advance(state, Launched()).state is S.STARTING
    assert advance(S.STOPPED, StopRequested()).state is S.STOPPED


TestLifecycleMachine = settings(max_examples=200, stateful_step_count=40)(LifecycleMachine).TestCase
