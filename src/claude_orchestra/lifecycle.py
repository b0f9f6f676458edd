"""An instance's lifecycle as a pure state machine.

``advance(state, signal)`` takes the current :class:`InstanceState` and one signal — a
hook event, a pane death, or something the orchestrator itself did (launched the process,
sent a prompt, asked it to stop) — and returns the next state. It never raises for an
unexpected combination: hooks can arrive twice or out of order, so the step says whether
the signal changed anything and why, and the caller records it as evidence.

```
 launch ─▶ STARTING ─SessionStart─▶ IDLE ─prompt sent─▶ PROMPTED ─UserPromptSubmit─▶ WORKING
                                     ▲                                                │
                                     └──────────── Stop ◀─────────────────────────────┤
                                     │                                                │
   RATE_LIMITED / FAILED ◀────────── StopFailure ◀────────────────────────────────────┘
   any ─stop requested─▶ STOPPING ─SessionEnd/pane died─▶ STOPPED
   any other ─pane died─▶ DEAD           any other ─SessionEnd─▶ EXITING ─pane died─▶ DEAD
```
"""

from __future__ import annotations

import enum
from typing import final

import attrs

from claude_orchestra.events import (
    Event,
    FailureKind,
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


class InstanceState(enum.Enum):
    """Where an instance is in its life."""

    CREATED = "created"
    """Not launched yet."""
    STARTING = "starting"
    """Launched; waiting for ``SessionStart``."""
    IDLE = "idle"
    """Ready and waiting for a prompt."""
    PROMPTED = "prompted"
    """A prompt was typed; waiting for ``UserPromptSubmit``."""
    WORKING = "working"
    """A turn is running."""
    WAITING_INPUT = "waiting_input"
    """Claude Code asked for something only a person can give (a permission dialog)."""
    RATE_LIMITED = "rate_limited"
    """The turn failed on a limit or an auth error of its credential."""
    FAILED = "failed"
    """The turn failed on another API error (server error, overload, timeout)."""
    EXITING = "exiting"
    """``SessionEnd`` arrived without our asking: the process is going away."""
    DEAD = "dead"
    """The process exited without our asking."""
    STOPPING = "stopping"
    """We asked it to exit."""
    STOPPED = "stopped"
    """It exited after we asked. Final."""

    @property
    def alive(self) -> bool:
        """A process is (still) running in the pane."""
        return self not in {InstanceState.CREATED, InstanceState.DEAD, InstanceState.STOPPED}

    @property
    def going(self) -> bool:
        """The process is exiting or has exited (asked to, or on its own)."""
        return self in _GOING

    @property
    def asked_to_stop(self) -> bool:
        """We asked the process to exit (for good, or to replace it)."""
        return self in {InstanceState.STOPPING, InstanceState.STOPPED}

    @property
    def accepts_prompt(self) -> bool:
        """A prompt may be typed now."""
        return self in _ACCEPTS_PROMPT


_ACCEPTS_PROMPT = frozenset({InstanceState.IDLE, InstanceState.RATE_LIMITED, InstanceState.FAILED})
_GOING = frozenset(
    {InstanceState.EXITING, InstanceState.DEAD, InstanceState.STOPPING, InstanceState.STOPPED}
)


@final
@attrs.frozen(kw_only=True)
class Launched:
    """The orchestrator started (or restarted) the process."""


@final
@attrs.frozen(kw_only=True)
class PromptSent:
    """The orchestrator typed a prompt and pressed Enter."""

    prompt: str


@final
@attrs.frozen(kw_only=True)
class StopRequested:
    """The orchestrator asked the process to exit."""


Signal = Event | Launched | PromptSent | StopRequested
"""Everything that can move an instance's state."""


@final
@attrs.frozen(kw_only=True)
class Step:
    """The outcome of one signal."""

    state: InstanceState
    changed: bool
    reason: str
    """Why: the evidence in words (``"Stop"``, ``"StopFailure rate_limit"``, ...)."""


_S = InstanceState


def advance(state: InstanceState, signal: Signal) -> Step:
    """The state after ``signal``; unexpected signals leave the state as it is."""
    new, reason = _next(state, signal)
    return Step(state=new, changed=new is not state, reason=reason)


def _next(state: InstanceState, signal: Signal) -> tuple[InstanceState, str]:  # noqa: PLR0911, PLR0912
    if isinstance(signal, Launched):
        return _S.STARTING, "launched"
    if state in {_S.STOPPED, _S.CREATED}:
        return state, f"ignored while {state.value}"
    match signal:
        case StopRequested():
            return (_S.STOPPING, "stop requested") if state.alive else (state, "not running")
        case PaneDied():
            if state is _S.STOPPING:
                return _S.STOPPED, "pane died after stop request"
            return _S.DEAD, f"pane died (status {signal.exit_status}, signal {signal.signal})"
        case SessionEnded():
            if state is _S.STOPPING:
                return _S.STOPPED, f"SessionEnd {signal.reason}"
            if signal.reason == "clear":
                return state, "SessionEnd clear (a new session follows)"
            return _S.EXITING, f"SessionEnd {signal.reason}"
    if state in {_S.DEAD, _S.STOPPING, _S.EXITING}:
        return state, f"ignored while {state.value}"
    match signal:
        case SessionStarted():
            if state is _S.STARTING:
                return _S.IDLE, f"SessionStart {signal.source}"
            return state, f"SessionStart {signal.source} mid-session"
        case PromptSent():
            if state.accepts_prompt:
                return _S.PROMPTED, "prompt sent"
            return state, f"prompt sent while {state.value}"
        case PromptSubmitted():
            if state in {_S.PROMPTED, _S.IDLE, _S.RATE_LIMITED, _S.FAILED, _S.WAITING_INPUT}:
                return _S.WORKING, "UserPromptSubmit"
            return state, "UserPromptSubmit (queued)"
        case ToolUsed():
            if state in {_S.PROMPTED, _S.WAITING_INPUT}:
                return _S.WORKING, f"{signal.tool_name} ran"
            return state, f"{signal.tool_name} ran"
        case ToolStarted():
            if state in {_S.PROMPTED, _S.WAITING_INPUT}:
                return _S.WORKING, f"{signal.tool_name} started"
            return state, f"{signal.tool_name} started"
        case TurnStopped():
            if state in {_S.WORKING, _S.PROMPTED, _S.WAITING_INPUT}:
                return _S.IDLE, "Stop"
            return state, f"Stop while {state.value}"
        case TurnFailed():
            if state in {_S.WORKING, _S.PROMPTED, _S.WAITING_INPUT}:
                limited = signal.error.is_credential_problem
                return (_S.RATE_LIMITED if limited else _S.FAILED), (
                    f"StopFailure {signal.error.value}"
                )
            return state, f"StopFailure {signal.error.value} while {state.value}"
        case Notified():
            if signal.notification_type == "permission_prompt" and state is _S.WORKING:
                return _S.WAITING_INPUT, "Notification permission_prompt"
            return state, f"Notification {signal.notification_type}"
    return state, f"ignored {type(signal).__name__}"


__all__ = [
    "FailureKind",
    "InstanceState",
    "Launched",
    "PromptSent",
    "Signal",
    "Step",
    "StopRequested",
    "advance",
]
