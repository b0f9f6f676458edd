"""After which events transcripts are read (:mod:`claude_orchestra.loop.charging`), pure."""

from __future__ import annotations

import pytest

from claude_orchestra.events import (
    Event,
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
from claude_orchestra.loop.charging import reads_transcripts

HOOK = {"instance": "worker-1", "at": 0.0, "session_id": "s"}

AFTER_A_RESPONSE_OR_BEFORE_A_MOVE: list[Event] = [
    ToolStarted(tool_name="Bash", **HOOK),
    TurnStopped(last_message="done", **HOOK),
    TurnFailed(error=FailureKind.RATE_LIMIT, detail="limit", **HOOK),
    SessionEnded(reason="other", **HOOK),
    PaneDied(instance="worker-1", at=0.0, exit_status=1, signal=None, pid=7, launch=1),
    Notified(notification_type="idle_prompt", message="waiting", **HOOK),
    SessionStarted(source="compact", **HOOK),
    SessionStarted(source="resume", **HOOK),
    MergeFinished(
        instance="worker-1", at=0.0, branch="worker-1", commits=(), outcome=MergeOutcome.MERGED
    ),
]
NO_NEW_RESPONSE: list[Event] = [
    ToolUsed(tool_name="Bash", failed=False, **HOOK),
    ToolUsed(tool_name="Edit", failed=True, **HOOK),
    PromptSubmitted(prompt="do it", **HOOK),
    SessionStarted(source="startup", **HOOK),
]


@pytest.mark.parametrize("event", AFTER_A_RESPONSE_OR_BEFORE_A_MOVE, ids=repr)
def test_read_after_what_can_follow_a_response_or_move_the_work(event: Event) -> None:
    assert reads_transcripts(event)


@pytest.mark.parametrize("event", NO_NEW_RESPONSE, ids=repr)
def test_not_read_after_what_follows_no_new_response(event: Event) -> None:
    assert not reads_transcripts(event)
