"""Hook payloads become typed events; bad payloads are rejected with the field named."""

from __future__ import annotations

import pytest

from claude_orchestra.errors import HookPayloadError
from claude_orchestra.events import (
    FailureKind,
    Notified,
    PromptSubmitted,
    SessionEnded,
    SessionStarted,
    ToolStarted,
    ToolUsed,
    TurnFailed,
    TurnStopped,
    parse_hook_event,
)

SID = "0b7c1e2a-3f4d-4e5f-8a9b-0c1d2e3f4a5b"
COMMON = {"session_id": SID, "transcript_path": f"/t/{SID}.jsonl", "cwd": "/w"}


def parse(**payload: object) -> object:
    return parse_hook_event("worker-1", {**COMMON, **payload}, at=5.0)


def test_session_start_keeps_source_and_model() -> None:
    event = parse(hook_event_name="SessionStart", source="startup", model="claude-opus-5-5")
    assert event == SessionStarted(
        instance="worker-1", at=5.0, source="startup", model="claude-opus-5-5", **COMMON
    )


def test_each_subscribed_hook_has_its_class() -> None:
    assert isinstance(parse(hook_event_name="UserPromptSubmit", prompt="p"), PromptSubmitted)
    assert isinstance(parse(hook_event_name="Stop", last_assistant_message="ok"), TurnStopped)
    assert isinstance(parse(hook_event_name="SessionEnd", reason="other"), SessionEnded)
    started = parse(hook_event_name="PreToolUse", tool_name="Bash")
    assert started == ToolStarted(instance="worker-1", at=5.0, tool_name="Bash", **COMMON)
    tool = parse(hook_event_name="PostToolUseFailure", tool_name="Bash")
    assert tool == ToolUsed(instance="worker-1", at=5.0, tool_name="Bash", failed=True, **COMMON)
    note = parse(hook_event_name="Notification", notification_type="idle_prompt", message="m")
    assert isinstance(note, Notified)
    assert note.notification_type == "idle_prompt"


def test_stop_failure_carries_the_error_kind_and_detail() -> None:
    event = parse(
        hook_event_name="StopFailure",
        error="rate_limit",
        last_assistant_message="API Error: Request rejected (429)",
    )
    assert isinstance(event, TurnFailed)
    assert event.error is FailureKind.RATE_LIMIT
    assert event.error.is_credential_problem
    assert event.detail.startswith("API Error")


def test_unknown_failure_kinds_are_unknown_not_errors() -> None:
    event = parse(hook_event_name="StopFailure", error="something_new")
    assert isinstance(event, TurnFailed)
    assert event.error is FailureKind.UNKNOWN
    assert not FailureKind.SERVER_ERROR.is_credential_problem


def test_unused_fields_are_ignored() -> None:
    event = parse(hook_event_name="Stop", last_assistant_message="x", brand_new_field=[1, 2])
    assert isinstance(event, TurnStopped)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ([], "body"),
        ({"hook_event_name": "Stop"}, "session_id"),
        ({**COMMON, "hook_event_name": "TeammateIdle"}, "hook_event_name"),
        ({**COMMON, "hook_event_name": 3}, "hook_event_name"),
        ({**COMMON, "hook_event_name": "SessionStart"}, "source"),
        ({**COMMON, "hook_event_name": "Stop", "cwd": 7}, "cwd"),
        ({**COMMON, "hook_event_name": "Stop", "session_id": "s-1"}, "session_id"),
        ({**COMMON, "hook_event_name": "Stop", "session_id": "x --model evil"}, "session_id"),
        ({**COMMON, "hook_event_name": "Stop", "session_id": f"{SID}\n"}, "session_id"),
        ({**COMMON, "hook_event_name": "Stop", "session_id": f"-{SID[1:]}"}, "session_id"),
    ],
)
def test_bad_payloads_name_the_field(payload: object, field: str) -> None:
    with pytest.raises(HookPayloadError) as caught:
        parse_hook_event("worker-1", payload, at=0.0)
    assert caught.value.field == field
