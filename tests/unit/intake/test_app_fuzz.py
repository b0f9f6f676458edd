"""Hypothesis against the hook app and its JSON: any body, header or path is a 2xx or a
4xx, never a 5xx; strict JSON refuses with its own error only."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from claude_orchestra import strict_json
from claude_orchestra._clock import ManualClock
from claude_orchestra.events import SUBSCRIBED_HOOKS, Event
from claude_orchestra.intake.app import create_hook_app
from claude_orchestra.intake.keys import HookKeys

KEYS = HookKeys()
TOKEN = KEYS.issue("worker-1", 1)
AUTH = f"Bearer {TOKEN.reveal()}"


async def _deliver(_: Event) -> None:
    pass


CLIENT = TestClient(
    create_hook_app(keys=KEYS, deliver=_deliver, clock=ManualClock()),
    raise_server_exceptions=False,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
payloads = st.fixed_dictionaries(
    {},
    optional={
        "hook_event_name": st.sampled_from([*SUBSCRIBED_HOOKS, "Nope"]) | st.text(max_size=5),
        "session_id": st.uuids().map(str) | st.text(max_size=40),
        "transcript_path": json_values,
        "cwd": json_values,
        "source": json_values,
        "prompt": json_values,
        "tool_name": json_values,
        "error": json_values,
        "status": json_values,
        "signal": json_values,
        "pid": json_values,
    },
)
bodies = (
    payloads.map(lambda p: json.dumps(p).encode())
    | st.binary(max_size=200)
    | st.sampled_from([b"NaN", b"[Infinity]", b"1e999", b"9" * 5000, b"[" * 3000, b'{"a":-0}'])
)
paths = st.sampled_from(
    ["/hooks/worker-1/1", "/panes/worker-1/1/died", "/hooks/worker-1/2", "/hooks/w/1"]
) | st.text(alphabet="/abc1-_.%", max_size=30).map(
    lambda p: "/" + p.lstrip("/")
)  # "//x" is no path to httpx


@pytest.fixture(scope="module", autouse=True)
def _client() -> object:
    with CLIENT:
        yield CLIENT


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=paths,
    body=bodies,
    authorization=st.sampled_from([AUTH, "", "Bearer x", AUTH + " "]) | st.text(max_size=20),
)
def test_no_request_is_a_server_error(path: str, body: bytes, authorization: str) -> None:
    headers = {"Authorization": authorization} if authorization.isascii() else {}
    response = CLIENT.post(path, content=body, headers=headers)
    assert response.status_code < 500, response.text


@settings(deadline=None, max_examples=300)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_strict_json_refuses_only_with_value_errors(data: bytes) -> None:
    try:
        value = strict_json.loads(data)
    except ValueError:
        return
    assert strict_json.depth(value) <= strict_json.MAX_DEPTH


@pytest.mark.parametrize(
    "text", ["NaN", "-Infinity", "[1e400]", "1" * 101, "0." + "1" * 200, "[" * 65 + "]" * 65]
)
def test_strict_json_refusals(text: str) -> None:
    with pytest.raises(strict_json.StrictJSONError):
        strict_json.loads(text)
