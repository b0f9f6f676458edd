"""The credential pool: ordering by authMode, cooldowns, invalid keys, rotation order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from claude_orchestra._clock import ManualClock
from claude_orchestra.auth.credentials import Credential, CredentialKind, Secret
from claude_orchestra.auth.rotator import (
    AuthMode,
    AuthRotator,
    CredentialFailure,
    CredentialStatus,
    discover_oauth,
    order_pool,
)
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


def test_a_gateway_in_the_environment_goes_with_either_login(tmp_path: Path) -> None:
    gateway = {"ANTHROPIC_BASE_URL": "https://gateway.example"}
    token = discover_oauth({**gateway, "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-x"}, tmp_path)
    assert token is not None
    assert (token.name, token.kind, token.source) == (
        "oauth",
        CredentialKind.OAUTH,
        "CLAUDE_CODE_OAUTH_TOKEN",
    )
    assert token.environment() == {
        "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-x",
        "ANTHROPIC_BASE_URL": "https://gateway.example",
    }
    config = tmp_path / "elsewhere"
    config.mkdir()
    login = config / ".credentials.json"
    login.write_text(json.dumps({"claudeAiOauth": {"accessToken": "sk-ant-oat01-y"}}), "utf-8")
    from_file = discover_oauth({**gateway, "CLAUDE_CONFIG_DIR": str(config)}, tmp_path)
    assert from_file is not None
    assert (from_file.name, from_file.kind, from_file.source) == (
        "oauth",
        CredentialKind.OAUTH,
        str(login),
    )
    assert from_file.environment() == gateway
    assert discover_oauth({"ANTHROPIC_BASE_URL": ""}, tmp_path) is None


@pytest.mark.parametrize("content", ["[]", '{"claudeAiOauth": {"accessToken": ""}}', "{"])
def test_a_credentials_file_without_a_login_is_no_login(tmp_path: Path, content: str) -> None:
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / ".credentials.json").write_text(content)
    assert discover_oauth({}, tmp_path) is None


def test_no_credential_at_all_is_a_missing_prerequisite_in_words() -> None:
    with pytest.raises(PrerequisiteError) as only:
        order_pool(AuthMode.API_KEYS_ONLY, [], OAUTH)
    assert str(only.value) == (
        "credentials: api-keys-only needs at least one entry in api-keys.json"
    )
    with pytest.raises(PrerequisiteError) as none:
        order_pool(AuthMode.API_KEYS_FIRST, [], None)
    assert str(none.value) == (
        "credentials: no Claude login (CLAUDE_CODE_OAUTH_TOKEN or ~/.claude/.credentials.json) "
        "and no api-keys.json entry"
    )
    assert names(order_pool(AuthMode.API_KEYS_FIRST, KEYS, None)) == ["k1", "k2"]


def test_a_pool_needs_credentials_with_distinct_names() -> None:
    with pytest.raises(ValueError, match="needs at least one credential"):
        AuthRotator(pool=(), clock=ManualClock())
    with pytest.raises(ValueError, match="must be unique"):
        AuthRotator(pool=(key("k1"), key("k1")), clock=ManualClock())
    with pytest.raises(KeyError, match="k9"):
        AuthRotator(pool=tuple(KEYS), clock=ManualClock()).get("k9")


def test_every_secret_of_the_pool_is_there_to_redact() -> None:
    rotator = AuthRotator(pool=(OAUTH, *KEYS), clock=ManualClock())
    assert [s.reveal() for s in rotator.secrets()] == [
        "tok",
        "sk-ant-k1-0123456789abcdefghij",
        "sk-ant-k2-0123456789abcdefghij",
    ]


def test_a_cooldown_ends_at_its_reset_and_a_later_reset_is_never_shortened() -> None:
    clock = ManualClock()
    rotator = AuthRotator(pool=tuple(KEYS), clock=clock)
    rotator.record_failure(limit("k1", clock.wall(), clock.wall() + 100))
    rotator.record_failure(limit("k1", clock.wall(), clock.wall() + 30))
    clock.advance(50)
    assert not rotator.usable("k1")
    assert rotator.standing("k1").until == clock.wall() + 50
    clock.advance(50)
    assert rotator.usable("k1")  # at the reset itself
    assert rotator.standing("k1").until is None
    assert rotator.standing("k1").kind is CredentialKind.API_KEY


def invalid(credential: str) -> CredentialFailure:
    return CredentialFailure(
        instance="worker-1",
        credential=credential,
        kind=FailureKind.AUTHENTICATION_FAILED,
        detail="Invalid API key",
        at=0.0,
    )


def test_a_retired_credentials_cooldown_is_never_waited_for() -> None:
    clock = ManualClock()
    rotator = AuthRotator(pool=tuple(KEYS), clock=clock)
    rotator.record_failure(limit("k1", clock.wall(), clock.wall() + 30))
    rotator.record_failure(invalid("k1"))
    assert rotator.next_available_at() is None
    rotator.record_failure(limit("k2", clock.wall(), clock.wall() + 60))
    rotator.mark_spent("k2")
    assert rotator.next_available_at() is None


def test_a_resume_restores_limits_only_not_auth_failures() -> None:
    rotator = AuthRotator(pool=tuple(KEYS), clock=ManualClock())
    rotator.restore_limits([invalid("k1")])
    assert rotator.usable("k1")


def test_with_every_credential_resting_instances_start_on_the_first() -> None:
    clock = ManualClock()
    rotator = AuthRotator(pool=tuple(KEYS), clock=clock)
    for name in ("k1", "k2"):
        rotator.record_failure(limit(name, clock.wall(), clock.wall() + 30))
    chosen = rotator.assign_initial(["manager", "worker-1"])
    assert {n: c.name for n, c in chosen.items()} == {"manager": "k1", "worker-1": "k1"}


def test_the_next_credential_after_one_not_in_the_pool_is_the_first_available() -> None:
    view = AuthRotator(pool=(OAUTH, *KEYS), clock=ManualClock()).view()
    assert view.next_available("gone") == "oauth"
    assert view.next_available("k2") == "oauth"
    assert view.next_available("oauth") == "k1"
