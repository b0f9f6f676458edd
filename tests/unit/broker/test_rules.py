"""The broker's rotation rules: what blames a credential, when it may serve again, and
who moves where (pure functions, and the pool over a real rotator)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import attrs
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from claude_orchestra._clock import ManualClock
from claude_orchestra.auth.credentials import Credential, CredentialKind, Secret
from claude_orchestra.auth.rotator import AuthMode, AuthRotator
from claude_orchestra.broker.pool import RotatorPool
from claude_orchestra.broker.rules import (
    Forward,
    Rotate,
    judge,
    pressure,
    refresh_first,
    reset_at,
)
from claude_orchestra.broker.upstream import unbrokerable
from claude_orchestra.config import OrchestraConfig, RunConfig
from claude_orchestra.errors import PrerequisiteError
from claude_orchestra.events import FailureKind
from claude_orchestra.orchestrator import Orchestrator

NOW = 1_800_000_000.0


def error(kind: str, message: str = "m") -> bytes:
    return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()


header_values = st.one_of(
    st.text(max_size=30), st.integers(-(10**6), 10**10).map(str), st.floats().map(str)
)
header_names = st.sampled_from(
    [
        "retry-after",
        "anthropic-ratelimit-unified-reset",
        "anthropic-ratelimit-requests-remaining",
        "anthropic-ratelimit-requests-reset",
        "anthropic-ratelimit-tokens-remaining",
        "anthropic-ratelimit-tokens-limit",
        "anthropic-ratelimit-tokens-reset",
        "anthropic-ratelimit-unified-5h-utilization",
        "anthropic-ratelimit-unified-5h-reset",
    ]
)
headers = st.dictionaries(header_names, header_values, max_size=6)


@given(st.integers(100, 399), headers, st.binary(max_size=200))
def test_a_success_or_redirect_always_goes_on(
    status: int, head: dict[str, str], body: bytes
) -> None:
    assert judge(status, head, body, now=NOW) == Forward()


@given(headers, st.text(max_size=80))
def test_a_429_always_rotates_and_never_resets_in_the_past(
    head: dict[str, str], message: str
) -> None:
    verdict = judge(429, head, error("rate_limit_error", message), now=NOW)
    note(repr(verdict))
    assert isinstance(verdict, Rotate)
    assert verdict.kind is FailureKind.RATE_LIMIT
    assert verdict.reset_at is None or verdict.reset_at >= NOW


@given(headers, st.binary(max_size=100))
def test_a_401_retires_and_overloads_or_server_errors_go_on(
    head: dict[str, str], body: bytes
) -> None:
    verdict = judge(401, head, body, now=NOW)
    assert isinstance(verdict, Rotate)
    assert verdict.kind is FailureKind.AUTHENTICATION_FAILED
    for status in (500, 502, 529):
        assert judge(status, head, error("overloaded_error"), now=NOW) == Forward()


def test_only_a_401_on_a_login_from_a_file_is_worth_a_refresh_first() -> None:
    refused = judge(401, {}, error("authentication_error"), now=NOW)
    limited = judge(429, {}, error("rate_limit_error"), now=NOW)
    broke = judge(400, {}, error("invalid_request_error", "credit balance too low"), now=NOW)
    assert isinstance(refused, Rotate)
    assert isinstance(limited, Rotate)
    assert isinstance(broke, Rotate)
    assert refresh_first(refused, login=True)
    assert not refresh_first(refused, login=False)  # an API key: retired as before
    assert not refresh_first(limited, login=True)
    assert not refresh_first(broke, login=True)


def test_a_low_credit_balance_retires_the_key() -> None:
    verdict = judge(
        400, {}, error("invalid_request_error", "Your credit balance is too low"), now=NOW
    )
    assert isinstance(verdict, Rotate)
    assert verdict.kind is FailureKind.BILLING_ERROR
    assert judge(400, {}, error("invalid_request_error", "bad"), now=NOW) == Forward()


def test_the_reset_comes_from_the_most_specific_source() -> None:
    unified = {"anthropic-ratelimit-unified-reset": str(int(NOW) + 900), "retry-after": "5"}
    assert reset_at(unified, "", now=NOW) == NOW + 900
    later = dt.datetime.fromtimestamp(NOW + 120, dt.UTC).isoformat().replace("+00:00", "Z")
    exhausted = {
        "anthropic-ratelimit-tokens-remaining": "0",
        "anthropic-ratelimit-tokens-reset": later,
        "anthropic-ratelimit-requests-remaining": "7",
        "anthropic-ratelimit-requests-reset": "2099-01-01T00:00:00Z",  # not exhausted
        "retry-after": "5",
    }
    assert reset_at(exhausted, "", now=NOW) == NOW + 120
    assert reset_at({"retry-after": "30"}, "", now=NOW) == NOW + 30
    assert reset_at({}, "You've hit your limit · resets 3am (UTC)", now=NOW) is not None
    assert reset_at({}, "no time here", now=NOW) is None
    assert reset_at({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, "", now=NOW) == NOW


def test_pressure_is_the_most_used_limit() -> None:
    seen = pressure(
        {
            "anthropic-ratelimit-requests-limit": "100",
            "anthropic-ratelimit-requests-remaining": "50",
            "anthropic-ratelimit-tokens-limit": "1000",
            "anthropic-ratelimit-tokens-remaining": "40",
            "anthropic-ratelimit-tokens-reset": "2027-02-01T00:00:00Z",
        },
        now=NOW,
    )
    assert seen is not None
    assert round(seen.used, 2) == 0.96
    assert seen.reset_at == dt.datetime(2027, 2, 1, tzinfo=dt.UTC).timestamp()
    subscription = pressure(
        {
            "anthropic-ratelimit-unified-5h-utilization": "0.97",
            "anthropic-ratelimit-unified-5h-reset": str(int(NOW) + 60),
            "anthropic-ratelimit-unified-7d-utilization": "0.2",
        },
        now=NOW,
    )
    assert subscription is not None
    assert (subscription.used, subscription.reset_at) == (0.97, NOW + 60)
    assert pressure({}, now=NOW) is None


@given(headers)
def test_pressure_is_a_fraction(head: dict[str, str]) -> None:
    seen = pressure(head, now=NOW)
    assert seen is None or 0.0 <= seen.used <= 1.0


# -- the pool over a real rotator -------------------------------------------------------


def keys(count: int) -> tuple[Credential, ...]:
    return tuple(
        Credential(
            name=f"k{i}",
            kind=CredentialKind.API_KEY,
            env={"ANTHROPIC_API_KEY": Secret(f"sk-ant-{i}")},
        )
        for i in range(count)
    )


failures = st.tuples(
    st.integers(0, 3),  # which instance's request failed
    st.sampled_from([FailureKind.RATE_LIMIT, FailureKind.AUTHENTICATION_FAILED]),
    st.floats(0, 600),  # seconds until it resets
    st.floats(0, 400),  # seconds that pass before the next failure
)


@given(st.integers(1, 4), st.lists(failures, max_size=12))
def test_no_request_goes_out_on_a_resting_credential_and_holders_leave_it(
    size: int, steps: list[tuple[int, FailureKind, float, float]]
) -> None:
    clock = ManualClock()
    rotator = AuthRotator(pool=keys(size), clock=clock)
    names = [f"worker-{i}" for i in range(4)]
    rotator.assign_initial(names)
    pool = RotatorPool(rotator=rotator, clock=clock)
    for who, kind, reset, later in steps:
        instance = names[who]
        held = pool.holder(instance).name
        note(f"{instance} fails on {held}: {kind.value}, reset in {reset:.0f} s")
        pool.failed(instance, held, kind, reset_at=clock.wall() + reset, detail="x")
        if not rotator.usable(held) and rotator.view().available:
            assert pool.holder(instance).name != held  # moved at once
        clock.advance(later)
        for name in names:
            routed = pool.route(name)
            # a request goes out only on a usable credential, and on none only when no
            # credential is usable at all
            assert routed is None or rotator.usable(routed.name)
            assert (routed is None) == (not rotator.view().available)
    for move in pool.moves:
        assert move.from_credential != move.to_credential


def test_a_failure_moves_every_holder_once_and_tells_the_run() -> None:
    clock = ManualClock()
    rotator = AuthRotator(pool=keys(2), clock=clock)
    rotator.assign_initial(["a", "b"])
    told = []
    pool = RotatorPool(rotator=rotator, clock=clock, on_move=told.append)
    pool.failed("a", "k0", FailureKind.RATE_LIMIT, reset_at=clock.wall() + 60, detail="429")
    assert {m.instance for m in pool.moves} == {"a", "b"}
    assert [m.to_credential for m in told] == ["k1", "k1"]
    assert pool.route("a") == rotator.get("k1")
    pool.failed("a", "k1", FailureKind.RATE_LIMIT, reset_at=clock.wall() + 30, detail="429")
    assert pool.route("a") is None  # every credential rests: nothing goes out
    assert pool.retry_at() == clock.wall() + 30


def test_a_credential_the_broker_cannot_speak_for_stops_a_brokered_run(tmp_path: Path) -> None:
    bedrock = Credential(
        name="bedrock",
        kind=CredentialKind.ENV,
        env={"CLAUDE_CODE_USE_BEDROCK": "1", "ANTHROPIC_API_KEY": Secret("x")},
    )
    assert unbrokerable(bedrock) is not None
    assert unbrokerable(keys(1)[0]) is None
    settings = OrchestraConfig(
        repository_url="https://example.com/r.git", broker=True, auth_mode=AuthMode.API_KEYS_ONLY
    )
    config = RunConfig(config_dir=tmp_path, orchestrator=settings, credentials=(bedrock,))
    with pytest.raises(PrerequisiteError, match="bedrock: it sets CLAUDE_CODE_USE_BEDROCK"):
        Orchestrator(config, load_entry_points=False, environ={})
    plain = attrs.evolve(settings, broker=False)
    Orchestrator(attrs.evolve(config, orchestrator=plain), load_entry_points=False, environ={})
