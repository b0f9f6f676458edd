"""The instance lifecycle: the happy path, failures, exits, and any order of events."""

from __future__ import annotations

import pytest
from hypothesis import settings

from claude_orchestra.events import (
    FailureKind,
    MergeFinished,
    MergeOutcome,
    Notified,
    PaneDied,
    PromptSubmitted,
    SessionEnded,
    SessionStarted,
    ToolStarted,
    ToolUsed,
    TurnFailed,
    TurnStopped,
)
from claude_orchestra.lifecycle import (
    InstanceState,
    Launched,
    PromptSent,
    Signal,
    StopRequested,
    advance,
)
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


DIED = PaneDied(instance="w", at=0.0, exit_status=1, signal=None, pid=7, launch=1)
PERMISSION = Notified(notification_type="permission_prompt", message="allow?", **HOOK)

# Each transition of the module's diagram, and the evidence it records (the reason is what
# the journal, the status view and the report show for the step).
TRANSITIONS: list[tuple[InstanceState, Signal, InstanceState, str]] = [
    (S.CREATED, Launched(), S.STARTING, "launched"),
    (S.STARTING, SessionStarted(source="startup", **HOOK), S.IDLE, "SessionStart startup"),
    (S.IDLE, SessionStarted(source="compact", **HOOK), S.IDLE, "SessionStart compact mid-session"),
    (S.IDLE, PromptSent(prompt="p"), S.PROMPTED, "prompt sent"),
    (S.PROMPTED, PromptSubmitted(prompt="p", **HOOK), S.WORKING, "UserPromptSubmit"),
    (S.IDLE, PromptSubmitted(prompt="p", **HOOK), S.WORKING, "UserPromptSubmit"),
    (S.STARTING, PromptSubmitted(prompt="p", **HOOK), S.STARTING, "UserPromptSubmit (queued)"),
    (S.PROMPTED, ToolUsed(tool_name="Bash", failed=False, **HOOK), S.WORKING, "Bash ran"),
    (S.WORKING, ToolUsed(tool_name="Edit", failed=True, **HOOK), S.WORKING, "Edit ran"),
    (S.WAITING_INPUT, ToolStarted(tool_name="Bash", **HOOK), S.WORKING, "Bash started"),
    (S.IDLE, ToolStarted(tool_name="Read", **HOOK), S.IDLE, "Read started"),
    (S.WORKING, TurnStopped(last_message="done", **HOOK), S.IDLE, "Stop"),
    (S.PROMPTED, TurnStopped(last_message="done", **HOOK), S.IDLE, "Stop"),
    (S.IDLE, TurnStopped(last_message="done", **HOOK), S.IDLE, "Stop while idle"),
    (S.WORKING, PERMISSION, S.WAITING_INPUT, "Notification permission_prompt"),
    (S.IDLE, PERMISSION, S.IDLE, "Notification permission_prompt"),
    (
        S.WORKING,
        Notified(notification_type="idle_prompt", message="waiting", **HOOK),
        S.WORKING,
        "Notification idle_prompt",
    ),
    (S.WORKING, StopRequested(), S.STOPPING, "stop requested"),
    (S.DEAD, StopRequested(), S.DEAD, "not running"),
    (S.STOPPING, DIED, S.STOPPED, "pane died after stop request"),
    (S.WORKING, DIED, S.DEAD, "pane died (status 1, signal None)"),
    (S.STOPPING, SessionEnded(reason="logout", **HOOK), S.STOPPED, "SessionEnd logout"),
    (
        S.IDLE,
        SessionEnded(reason="clear", **HOOK),
        S.IDLE,
        "SessionEnd clear (a new session follows)",
    ),
    (S.WORKING, SessionEnded(reason="other", **HOOK), S.EXITING, "SessionEnd other"),
    (S.EXITING, TurnStopped(last_message="done", **HOOK), S.EXITING, "ignored while exiting"),
    (S.CREATED, TurnStopped(last_message="done", **HOOK), S.CREATED, "ignored while created"),
    (
        S.WORKING,
        MergeFinished(instance="w", at=0.0, branch="b", commits=(), outcome=MergeOutcome.MERGED),
        S.WORKING,
        "ignored MergeFinished",
    ),
]


@pytest.mark.parametrize(("before", "signal", "after", "reason"), TRANSITIONS)
def test_each_transition_and_the_evidence_it_records(
    before: InstanceState, signal: Signal, after: InstanceState, reason: str
) -> None:
    step = advance(before, signal)
    assert (step.state, step.reason) == (after, reason)
    assert step.changed == (after is not before)


TestLifecycleMachine = settings(max_examples=200, stateful_step_count=40)(LifecycleMachine).TestCase
