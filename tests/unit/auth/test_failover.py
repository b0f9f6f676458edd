"""Failover decisions on a clock we move: limits, resets, retirements, exhaustion."""

from __future__ import annotations

from pathlib import Path

import pytest

from claude_orchestra._clock import ManualClock
from claude_orchestra.auth.credentials import Credential, CredentialKind, Secret
from claude_orchestra.auth.failover import Failover
from claude_orchestra.auth.moves import MoveTo, NoCredential, PauseUntil, StayOn
from claude_orchestra.auth.rotator import AuthRotator, CredentialFailure
from claude_orchestra.events import FailureKind, TurnFailed
from claude_orchestra.instance import InstanceView, Role
from claude_orchestra.lifecycle import InstanceState
from claude_orchestra.plugins import PluginHost

OAUTH = Credential(
    name="oauth", kind=CredentialKind.OAUTH, env={"CLAUDE_CODE_OAUTH_TOKEN": Secret("t")}
)
KEY = Credential(name="key", kind=CredentialKind.API_KEY, env={"ANTHROPIC_API_KEY": Secret("k")})


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def failover(clock: ManualClock) -> Failover:
    rotator = AuthRotator(pool=(OAUTH, KEY), clock=clock, default_cooldown=300)
    rotator.assign_initial(["worker-1"])
    return Failover(rotator=rotator, plugins=PluginHost(load_entry_points=False), clock=clock)


def view(failover: Failover) -> InstanceView:
    return InstanceView(
        name="worker-1",
        role=Role.WORKER,
        worker=1,
        state=InstanceState.RATE_LIMITED,
        credential=failover.rotator.holder_of("worker-1").name,
        session_id="s",
        cwd=Path("/w"),
        last_event_at=None,
        prompts_sent=1,
    )


def fail(failover: Failover, error: FailureKind, detail: str = "429") -> CredentialFailure:
    event = TurnFailed(instance="worker-1", at=0.0, session_id="s", error=error, detail=detail)
    return failover.failure_of(view(failover), event)


def test_a_usage_limit_moves_on_and_the_login_is_used_again_only_after_its_reset(
    failover: Failover, clock: ManualClock
) -> None:
    limit = fail(
        failover, FailureKind.RATE_LIMIT, "You've hit your 5-hour limit · resets 3:25am (UTC)"
    )
    decision = failover.decide(view(failover), limit)
    assert decision == MoveTo(KEY)
    (rotation,) = failover.rotations
    assert (rotation.from_credential, rotation.to_credential) == ("oauth", "key")
    oauth = failover.rotator.view().credentials[0]
    assert oauth.until is not None
    # the key is revoked before the login's reset: nothing is available, so pause until it
    clock.advance(60)
    revoked = fail(failover, FailureKind.AUTHENTICATION_FAILED, "Invalid API key")
    pause = failover.decide(view(failover), revoked)
    assert pause == PauseUntil(oauth.until)
    # after the reset the login is available again, and the instance moves back to it
    clock.advance(oauth.until - clock.wall() + 1)
    assert failover.decide(view(failover), revoked) == MoveTo(OAUTH)


def test_after_a_pause_its_own_rested_credential_keeps_it(
    failover: Failover, clock: ManualClock
) -> None:
    retired = fail(failover, FailureKind.AUTHENTICATION_FAILED)  # the login is retired
    assert failover.decide(view(failover), retired) == MoveTo(KEY)
    limited = fail(failover, FailureKind.RATE_LIMIT)  # now the key is limited for 300 s
    assert isinstance(failover.decide(view(failover), limited), PauseUntil)
    clock.advance(301)
    assert failover.decide(view(failover), limited) == StayOn()


def test_when_every_credential_is_retired_there_is_no_credential(failover: Failover) -> None:
    retired = fail(failover, FailureKind.AUTHENTICATION_FAILED)
    assert failover.decide(view(failover), retired) == MoveTo(KEY)
    spent = fail(failover, FailureKind.BILLING_ERROR)
    assert failover.decide(view(failover), spent) == NoCredential()


def test_recovery_time_is_measured_from_the_failure(failover: Failover, clock: ManualClock) -> None:
    failover.decide(view(failover), fail(failover, FailureKind.RATE_LIMIT))
    clock.advance(4)
    failover.progressed("worker-1")
    assert failover.rotations[0].seconds_to_recovery == 4
    clock.advance(5)
    failover.progressed("worker-1")  # a move is recovered from once
    assert failover.rotations[0].seconds_to_recovery == 4
