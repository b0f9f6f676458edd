"""The credential pool: ordering by authMode, cooldowns, invalid keys, rotation order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from claude_orchestra._clock import ManualClock
from claude_orchestra.auth import (
    AuthMode,
    AuthRotator,
    CredentialFailure,
    CredentialStatus,
    discover_oauth,
    order_pool,
)
from claude_orchestra.credentials import Credential, CredentialKind, Secret
from claude_orchestra.defaults.rotation import orchestra_select_credential
from claude_orchestra.errors import PrerequisiteError
from claude_orchestra.events import FailureKind
from claude_orchestra.instance import InstanceView, Role
from claude_orchestra.lifecycle import InstanceState


def key(name: str) -> Credential:
    return Credential(
        name=name,
        kind=CredentialKind.API_KEY,
        env={"ANTHROPIC_API_KEY": Secret(f"sk-ant-{name}-0123456789abcdefghij")},
    )


OAUTH = Credential(
    name="oauth", kind=CredentialKind.OAUTH, env={"CLAUDE_CODE_OAUTH_TOKEN": Secret("tok")}
)
KEYS = [key("k1"), key("k2")]


def names(pool: tuple[Credential, ...]) -> list[str]:
    return [c.name for c in pool]


def test_auth_modes_order_the_pool_as_the_original_tool() -> None:
    assert names(order_pool(AuthMode.OAUTH, KEYS, OAUTH)) == ["oauth", "k1", "k2"]
    assert names(order_pool(AuthMode.API_KEYS_FIRST, KEYS, OAUTH)) == ["k1", "k2", "oauth"]
    assert names(order_pool(AuthMode.API_KEYS_ONLY, KEYS, OAUTH)) == ["k1", "k2"]
    with pytest.raises(PrerequisiteError, match="api-keys-only"):
        order_pool(AuthMode.API_KEYS_ONLY, [], OAUTH)
    with pytest.raises(PrerequisiteError, match="no Claude login"):
        order_pool(AuthMode.OAUTH, [], None)


def test_oauth_comes_from_the_environment_or_the_credentials_file(tmp_path: Path) -> None:
    from_env = discover_oauth({"CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-x"}, tmp_path)
    assert from_env is not None
    assert from_env.environment() == {"CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-x"}
    assert discover_oauth({}, tmp_path) is None
    (tmp_path / ".claude").mkdir()
    login = tmp_path / ".claude" / ".credentials.json"
    login.write_text(json.dumps({"claudeAiOauth": {"accessToken": "sk-ant-oat01-y"}}))
    from_file = discover_oauth({}, tmp_path)
    assert from_file is not None
    assert from_file.oauth_file == str(login)
    assert from_file.environment() == {}


def test_limits_cool_down_until_the_reset_and_auth_failures_retire() -> None:
    clock = ManualClock()
    rotator = AuthRotator(pool=(OAUTH, *KEYS), clock=clock)
    rotator.assign_initial(["manager", "worker-1"])
    rotator.record_failure(
        CredentialFailure(
            instance="worker-1",
            credential="oauth",
            kind=FailureKind.RATE_LIMIT,
            detail="You've hit your 5-hour limit",
            at=clock.wall(),
            reset_at=clock.wall() + 60,
        )
    )
    rotator.record_failure(
        CredentialFailure(
            instance="manager",
            credential="k1",
            kind=FailureKind.AUTHENTICATION_FAILED,
            detail="Invalid API key",
            at=clock.wall(),
        )
    )
    status = {c.name: c.status for c in rotator.view().credentials}
    assert status == {
        "oauth": CredentialStatus.COOLING,
        "k1": CredentialStatus.INVALID,
        "k2": CredentialStatus.AVAILABLE,
    }
    clock.advance(61)
    assert [c.name for c in rotator.view().available] == ["oauth", "k2"]


def test_instances_spread_over_the_pool_when_asked() -> None:
    rotator = AuthRotator(pool=tuple(KEYS), clock=ManualClock(), spread=True)
    chosen = rotator.assign_initial(["manager", "worker-1", "worker-2"])
    assert {n: c.name for n, c in chosen.items()} == {
        "manager": "k1",
        "worker-1": "k2",
        "worker-2": "k1",
    }


def test_rotation_takes_the_next_available_after_the_failed_one() -> None:
    clock = ManualClock()
    rotator = AuthRotator(pool=(OAUTH, *KEYS), clock=clock)
    view = InstanceView(
        name="worker-1",
        role=Role.WORKER,
        worker=1,
        state=InstanceState.RATE_LIMITED,
        credential="k1",
        session_id="s",
        cwd=Path("/w"),
        last_event_at=None,
        prompts_sent=1,
    )

    def failed(name: str) -> CredentialFailure:
        failure = CredentialFailure(
            instance="worker-1",
            credential=name,
            kind=FailureKind.RATE_LIMIT,
            detail="",
            at=clock.wall(),
        )
        rotator.record_failure(failure)
        return failure

    assert orchestra_select_credential(view, rotator.view(), failed("k1")) == "k2"
    assert orchestra_select_credential(view, rotator.view(), failed("k2")) == "oauth"
    assert orchestra_select_credential(view, rotator.view(), failed("oauth")) is None


def limit(credential: str, at: float, reset_at: float | None) -> CredentialFailure:
    return CredentialFailure(
        instance="worker-1",
        credential=credential,
        kind=FailureKind.RATE_LIMIT,
        detail="API Error: Request rejected (429)",
        at=at,
        reset_at=reset_at,
    )


def test_a_credential_takes_requests_only_while_available() -> None:
    clock = ManualClock()
    rotator = AuthRotator(pool=tuple(KEYS), clock=clock)
    assert rotator.usable("k1")
    rotator.record_failure(limit("k1", clock.wall(), clock.wall() + 30))
    assert not rotator.usable("k1")
    assert rotator.standing("k1").until == clock.wall() + 30
    rotator.mark_spent("k2")
    assert not rotator.usable("k2")
    clock.advance(31)
    assert rotator.usable("k1")


def test_a_resumed_run_keeps_the_limits_of_the_killed_one() -> None:
    clock = ManualClock()
    rotator = AuthRotator(pool=tuple(KEYS), clock=clock, spread=True)
    rotator.restore_limits(
        [
            limit("k1", clock.wall() - 10, clock.wall() + 100),
            limit("gone", clock.wall() - 10, clock.wall() + 100),  # no longer in the pool
        ]
    )
    chosen = rotator.assign_initial(["manager", "worker-1", "worker-2"])
    assert {c.name for c in chosen.values()} == {"k2"}  # nothing starts on the limited key
    assert rotator.next_available_at() == clock.wall() + 100
