"""The lifecycle machine: any order of hook events against a naive model.

``LifecycleMachine`` drives :func:`claude_orchestra.lifecycle.advance` with any order of
hook events, duplicates included, and checks it against a naive model of what must have
happened for each state to be possible.
"""

from __future__ import annotations

from typing import Any

from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from claude_orchestra.events import (
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
from claude_orchestra.lifecycle import (
    InstanceState,
    Launched,
    PromptSent,
    Signal,
    StopRequested,
    advance,
)

_S = InstanceState
_HOOK: dict[str, Any] = {"instance": "worker-1", "at": 0.0, "session_id": "s"}


class LifecycleMachine(RuleBasedStateMachine):
    """Random signals against the lifecycle; invariants from a naive model."""

    def __init__(self) -> None:
        super().__init__()
        self.state = _S.CREATED
        self.launched = False
        self.started = False
        self.stop_requested = False
        self.prompted_or_active = False
        self.exit_seen = False

    def apply(self, signal: Signal) -> None:
        before = self.state
        step = advance(self.state, signal)
        note(f"{before.value} --{type(signal).__name__}--> {step.state.value} ({step.reason})")
        assert step.changed == (step.state is not before)
        if before is _S.STOPPED and not isinstance(signal, Launched):
            assert step.state is _S.STOPPED, "stopped is final until a new launch"
        self.state = step.state

    @rule()
    def launch(self) -> None:
        self.launched, self.started, self.stop_requested = True, False, False
        self.prompted_or_active = self.exit_seen = False
        self.apply(Launched())

    @rule(source=st.sampled_from(["startup", "resume", "clear", "compact"]))
    def session_start(self, source: str) -> None:
        if self.launched and not self.exit_seen and not self.stop_requested:
            self.started = True
        self.apply(SessionStarted(source=source, **_HOOK))

    @rule()
    def send_prompt(self) -> None:
        if self.state.accepts_prompt:
            self.prompted_or_active = True
        self.apply(PromptSent(prompt="p"))

    @rule()
    def prompt_submitted(self) -> None:
        if self.started:
            self.prompted_or_active = True
        self.apply(PromptSubmitted(prompt="p", **_HOOK))

    @rule()
    def tool_started(self) -> None:
        self.apply(ToolStarted(tool_name="Bash", **_HOOK))

    @rule(failed=st.booleans())
    def tool_used(self, failed: bool) -> None:
        self.apply(ToolUsed(tool_name="Bash", failed=failed, **_HOOK))

    @rule()
    def stop(self) -> None:
        self.apply(TurnStopped(last_message="done", **_HOOK))

    @rule(kind=st.sampled_from(list(FailureKind)))
    def stop_failure(self, kind: FailureKind) -> None:
        self.apply(TurnFailed(error=kind, detail="x", **_HOOK))

    @rule(kind=st.sampled_from(["idle_prompt", "permission_prompt"]))
    def notification(self, kind: str) -> None:
        self.apply(Notified(notification_type=kind, message="m", **_HOOK))

    @rule(reason=st.sampled_from(["prompt_input_exit", "other", "clear", "logout"]))
    def session_end(self, reason: str) -> None:
        if reason != "clear" and self.state.alive:
            self.exit_seen = True
        self.apply(SessionEnded(reason=reason, **_HOOK))

    @rule()
    def pane_died(self) -> None:
        if self.state.alive:
            self.exit_seen = True
        self.apply(
            PaneDied(instance="worker-1", at=0.0, exit_status=0, signal=None, pid=1, launch=1)
        )

    @rule()
    def request_stop(self) -> None:
        if self.state.alive:
            self.stop_requested = True
        self.apply(StopRequested())

    @invariant()
    def ready_states_need_a_session_start(self) -> None:
        if self.state in {_S.IDLE, _S.PROMPTED, _S.WORKING, _S.RATE_LIMITED, _S.FAILED}:
            assert self.started, f"{self.state.value} without SessionStart since launch"

    @invariant()
    def working_needs_a_prompt(self) -> None:
        if self.state in {_S.PROMPTED, _S.WORKING, _S.WAITING_INPUT}:
            assert self.prompted_or_active

    @invariant()
    def stopped_needs_a_request(self) -> None:
        if self.state in {_S.STOPPING, _S.STOPPED}:
            assert self.stop_requested

    @invariant()
    def dead_needs_an_exit(self) -> None:
        if self.state in {_S.DEAD, _S.EXITING}:
            assert self.exit_seen

    @invariant()
    def nothing_before_launch(self) -> None:
        if not self.launched:
            assert self.state is _S.CREATED
