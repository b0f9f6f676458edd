"""Typed events: what Claude Code's hooks and tmux tell the orchestrator.

Every hook POST is parsed once, here, into a frozen event class; the rest of the code
matches on classes, never on ``hook_event_name`` strings. Payload fields we do not use are
ignored (Claude Code adds fields between versions); fields we need are checked and a bad
payload raises :class:`~claude_orchestra.errors.HookPayloadError` (HTTP 400).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, final

import attrs

from claude_orchestra.errors import HookPayloadError


@attrs.frozen(kw_only=True)
class Event:
    """Base of everything that flows through the orchestrator's one event stream."""

    instance: str
    """The instance the event is about (from the hook URL, never from the payload)."""
    at: float
    """When the orchestrator received it (its clock, seconds)."""


Deliver = Callable[[Event], Awaitable[None]]
"""Where events go: the send side of the orchestrator's event stream (the hook app and
every service beside the loop report through one)."""


@attrs.frozen(kw_only=True)
class HookEvent(Event):
    """An event that one of Claude Code's hooks sent."""

    session_id: str
    transcript_path: str | None = None
    cwd: str | None = None
    launch: int = 0
    """Which launch of the instance sent it (from the hook URL, which always names one);
    0 only for events made in-process (tests), which no launch of an instance accepts."""


@final
@attrs.frozen(kw_only=True)
class SessionStarted(HookEvent):
    """``SessionStart``: the TUI is up (``startup``), resumed, cleared or compacted."""

    source: str
    model: str | None = None


@final
@attrs.frozen(kw_only=True)
class PromptSubmitted(HookEvent):
    """``UserPromptSubmit``: a prompt was accepted (queued or started)."""

    prompt: str


@final
@attrs.frozen(kw_only=True)
class ToolStarted(HookEvent):
    """``PreToolUse``: a tool is about to run; until it ends, quiet is the tool's own time.

    The HTTP hook's empty 200 answer lets the tool run (we never block tools)."""

    tool_name: str


@final
@attrs.frozen(kw_only=True)
class ToolUsed(HookEvent):
    """``PostToolUse`` / ``PostToolUseFailure``: a tool finished; proof of progress."""

    tool_name: str
    failed: bool


@final
@attrs.frozen(kw_only=True)
class TurnStopped(HookEvent):
    """``Stop``: the turn ended normally and the instance waits for input."""

    last_message: str


class FailureKind(enum.Enum):
    """``StopFailure.error`` as Claude Code 2.1.328 reports it."""

    AUTHENTICATION_FAILED = "authentication_failed"
    OAUTH_ORG_NOT_ALLOWED = "oauth_org_not_allowed"
    ACCOUNT_ON_HOLD = "account_on_hold"
    VERIFICATION_REQUIRED = "verification_required"
    BILLING_ERROR = "billing_error"
    RATE_LIMIT = "rate_limit"
    OVERLOADED = "overloaded"
    INVALID_REQUEST = "invalid_request"
    MODEL_NOT_FOUND = "model_not_found"
    SERVER_ERROR = "server_error"
    UNKNOWN = "unknown"
    MAX_OUTPUT_TOKENS = "max_output_tokens"
    CLOUD_CREDENTIAL_ERROR = "cloud_credential_error"

    @property
    def is_credential_problem(self) -> bool:
        """A limit or an auth failure: another credential may succeed where this failed."""
        return self in _CREDENTIAL_PROBLEMS


_CREDENTIAL_PROBLEMS = frozenset(
    {
        FailureKind.AUTHENTICATION_FAILED,
        FailureKind.OAUTH_ORG_NOT_ALLOWED,
        FailureKind.ACCOUNT_ON_HOLD,
        FailureKind.VERIFICATION_REQUIRED,
        FailureKind.BILLING_ERROR,
        FailureKind.RATE_LIMIT,
        FailureKind.CLOUD_CREDENTIAL_ERROR,
    }
)


@final
@attrs.frozen(kw_only=True)
class TurnFailed(HookEvent):
    """``StopFailure``: the turn ended on an API error (no ``Stop`` follows)."""

    error: FailureKind
    detail: str
    """The text Claude Code showed (``last_assistant_message``), e.g. the reset time."""


@final
@attrs.frozen(kw_only=True)
class Notified(HookEvent):
    """``Notification``: Claude Code wants attention (``idle_prompt``, ``permission_prompt``...)."""

    notification_type: str
    message: str


@final
@attrs.frozen(kw_only=True)
class SessionEnded(HookEvent):
    """``SessionEnd``: the process is exiting (``prompt_input_exit``, ``other``, ``clear``...)."""

    reason: str


@final
@attrs.frozen(kw_only=True)
class PaneDied(Event):
    """tmux's ``pane-died`` hook: the process in the instance's pane has exited."""

    exit_status: int | None
    signal: int | None
    pid: int
    """The process that died, as its relay or tmux reported it."""
    launch: int
    """Which launch of the instance it was (from the URL)."""


class MergeOutcome(enum.Enum):
    """How the merge queue's attempt at a branch went."""

    MERGED = "merged"
    """Merged, tested and pushed to the run branch."""
    CONFLICT = "conflict"
    """The merge stopped on conflicts (aborted; ``files`` names them)."""
    TEST_FAILED = "test_failed"
    """The test command failed on the merged result; nothing was pushed."""
    PUSH_REJECTED = "push_rejected"
    """Origin refused the push (the run branch moved); nothing was forced."""
    GIT_FAILED = "git_failed"
    """git failed otherwise."""


@final
@attrs.frozen(kw_only=True)
class MergeFinished(Event):
    """The merge queue is done with a worker's branch (``instance`` is that worker)."""

    branch: str
    commits: tuple[str, ...]
    outcome: MergeOutcome
    detail: str = ""
    """The test command's output tail, or git's reason."""
    files: tuple[str, ...] = ()
    """For a conflict: the conflicting files."""
    sha: str | None = None
    """For a merge: the commit pushed to the run branch."""


def _text(payload: Mapping[str, Any], key: str, *, default: str | None = None) -> str:
    value = payload.get(key, default)
    if value is None:
        raise HookPayloadError(key, "missing")
    if not isinstance(value, str):
        raise HookPayloadError(key, f"must be a string, got {type(value).__name__}")
    return value


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def is_session_id(value: str) -> bool:
    """Whether ``value`` looks like a Claude Code session id (a UUID). Session ids end up
    after ``--resume`` on a later command line, so nothing else is accepted."""
    return _UUID.fullmatch(value) is not None


def _session_id(payload: Mapping[str, Any]) -> str:
    value = _text(payload, "session_id")
    if not is_session_id(value):
        raise HookPayloadError("session_id", "must be a UUID")
    return value


def _optional_text(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise HookPayloadError(key, f"must be a string, got {type(value).__name__}")
    return value


def _failure(payload: Mapping[str, Any]) -> dict[str, Any]:
    raw = _text(payload, "error", default="unknown")
    try:
        error = FailureKind(raw)
    except ValueError:
        error = FailureKind.UNKNOWN
    return {"error": error, "detail": _text(payload, "last_assistant_message", default="")}


_Fields = Callable[[Mapping[str, Any]], dict[str, Any]]

#: The Claude Code hooks the orchestrator subscribes to: event class and specific fields.
SUBSCRIBED_HOOKS: Mapping[str, tuple[type[HookEvent], _Fields]] = {
    "SessionStart": (
        SessionStarted,
        lambda p: {"source": _text(p, "source"), "model": _optional_text(p, "model")},
    ),
    "UserPromptSubmit": (PromptSubmitted, lambda p: {"prompt": _text(p, "prompt", default="")}),
    "PreToolUse": (ToolStarted, lambda p: {"tool_name": _text(p, "tool_name")}),
    "PostToolUse": (ToolUsed, lambda p: {"tool_name": _text(p, "tool_name"), "failed": False}),
    "PostToolUseFailure": (
        ToolUsed,
        lambda p: {"tool_name": _text(p, "tool_name"), "failed": True},
    ),
    "Stop": (
        TurnStopped,
        lambda p: {"last_message": _text(p, "last_assistant_message", default="")},
    ),
    "StopFailure": (TurnFailed, _failure),
    "Notification": (
        Notified,
        lambda p: {
            "notification_type": _text(p, "notification_type", default=""),
            "message": _text(p, "message", default=""),
        },
    ),
    "SessionEnd": (SessionEnded, lambda p: {"reason": _text(p, "reason", default="other")}),
}


def parse_hook_event(instance: str, payload: object, *, at: float, launch: int = 0) -> HookEvent:
    """Turn a hook's JSON body into its event.

    Args:
        instance: the instance the hook URL names.
        payload: the decoded JSON body.
        at: the receive time on the orchestrator's clock.
        launch: the launch number the hook URL names.

    Raises:
        HookPayloadError: the body is not an object, names an event we did not subscribe
            to, or lacks a field we need.
    """
    if not isinstance(payload, Mapping):
        raise HookPayloadError("body", "must be a JSON object")
    name = _text(payload, "hook_event_name")
    if name not in SUBSCRIBED_HOOKS:
        raise HookPayloadError("hook_event_name", f"not a subscribed event: {name[:40]!r}")
    cls, fields = SUBSCRIBED_HOOKS[name]
    return cls(
        instance=instance,
        at=at,
        launch=launch,
        session_id=_session_id(payload),
        transcript_path=_optional_text(payload, "transcript_path"),
        cwd=_optional_text(payload, "cwd"),
        **fields(payload),
    )
