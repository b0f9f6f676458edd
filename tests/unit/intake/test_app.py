"""The hook app: each launch's own token required, payloads parsed into events, bad input
is a 4xx (never a 5xx), bodies capped while they are read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from claude_orchestra._clock import ManualClock
from claude_orchestra.auth.credentials import Secret
from claude_orchestra.events import Event, PaneDied, TurnStopped
from claude_orchestra.intake.app import MAX_BODY, create_hook_app
from claude_orchestra.intake.keys import HookKeys

SID = "0b7c1e2a-3f4d-4e5f-8a9b-0c1d2e3f4a5b"
STOP = {
    "hook_event_name": "Stop",
    "session_id": SID,
    "transcript_path": "/t.jsonl",
    "cwd": "/w",
    "last_assistant_message": "done",
}
DIED = {"status": "", "signal": "9", "pid": "4242"}


def bearer(token: Secret) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.reveal()}"}


@pytest.fixture
def keys() -> HookKeys:
    return HookKeys()


@pytest.fixture
def delivered() -> list[Event]:
    return []


@pytest.fixture
def client(keys: HookKeys, delivered: list[Event]) -> Iterator[TestClient]:
    async def deliver(event: Event) -> None:
        delivered.append(event)

    app = create_hook_app(keys=keys, deliver=deliver, clock=ManualClock())
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_a_hook_becomes_one_event_of_its_launch(
    client: TestClient, keys: HookKeys, delivered: list[Event]
) -> None:
    token = keys.issue("worker-1", 1)
    response = client.post("/hooks/worker-1/1", json=STOP, headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {}
    assert delivered == [
        TurnStopped(
            instance="worker-1",
            at=1000.0,
            launch=1,
            session_id=SID,
            transcript_path="/t.jsonl",
            cwd="/w",
            last_message="done",
        )
    ]


ROUTES = ["/hooks/worker-1/1", "/panes/worker-1/1/died"]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Bearer "},
        {"Authorization": "wrong"},
        {"X-Other": "x"},
    ],
)
def test_every_route_without_the_token_is_401(
    client: TestClient,
    keys: HookKeys,
    delivered: list[Event],
    route: str,
    headers: dict[str, str],
) -> None:
    token = keys.issue("worker-1", 1)
    body = STOP if route.startswith("/hooks") else DIED
    assert client.post(route, json=body, headers=headers).status_code == 401
    assert (
        client.post(route, json=body, headers={"Authorization": token.reveal()}).status_code == 401
    )
    assert delivered == []


@pytest.mark.parametrize("route", ["/hooks/{name}/{launch}", "/panes/{name}/{launch}/died"])
def test_a_token_opens_only_its_own_instance_and_launch(
    client: TestClient, keys: HookKeys, delivered: list[Event], route: str
) -> None:
    """worker-1 knows its own token: with it, it cannot post as worker-2, as its own
    earlier or later launch, or as a launch the URL leaves out."""
    first = keys.issue("worker-1", 1)
    keys.issue("worker-1", 2)
    keys.issue("worker-2", 1)
    body = STOP if route.startswith("/hooks") else DIED
    for name, launch in [("worker-2", 1), ("worker-1", 2), ("worker-1", 3), ("nobody", 1)]:
        url = route.format(name=name, launch=launch)
        assert client.post(url, json=body, headers=bearer(first)).status_code == 401, url
    for launch in ["0", "01", "-1", "x", "9" * 5000]:
        url = route.format(name="worker-1", launch=launch)
        assert client.post(url, json=body, headers=bearer(first)).status_code == 401, url
    assert client.post("/hooks/worker-1", json=STOP, headers=bearer(first)).status_code == 404
    assert delivered == []


def test_keys_are_per_launch_and_issued_once() -> None:
    keys = HookKeys()
    one, two = keys.issue("w", 1), keys.issue("w", 2)
    assert one.reveal() != two.reveal()
    assert set(keys.secrets()) == {one, two}
    with pytest.raises(ValueError, match="already"):
        keys.issue("w", 1)
    with pytest.raises(ValueError, match="start at 1"):
        keys.issue("w", 0)


def test_the_tmux_key_file_holds_the_current_launch_privately(tmp_path: Path) -> None:
    folder = tmp_path / "host"
    keys = HookKeys(folder=folder)
    keys.issue("worker-1", 1)
    second = keys.issue("worker-1", 2)
    key_file = keys.key_file("worker-1")
    assert json.loads(key_file.read_text()) == {"launch": 2, "token": second.reveal()}
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert "token" not in repr(keys)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "body: not JSON"),
        (b"[1, 2]", "body: must be a JSON object"),
        (b'{"hook_event_name": "Stop"}', "session_id: missing"),
        (b'{"hook_event_name": "Nope", "session_id": "x"}', "hook_event_name"),
        (b'{"hook_event_name": "Stop", "session_id": "not-a-uuid"}', "session_id: must be"),
        (b"\xff\xfe", "body: not JSON"),
        (b'{"a": NaN}', "body: not JSON"),
        (b'{"a": Infinity}', "body: not JSON"),
        (b'{"a": -Infinity}', "body: not JSON"),
        (b'{"a": 1e400}', "body: not JSON"),
        (b'{"a": ' + b"9" * 5000 + b"}", "body: not JSON"),
        (b'{"a": 0.' + b"1" * 5000 + b"}", "body: not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "body: not JSON"),
        (b'{"a":' * 70 + b"1" + b"}" * 70, "nested deeper"),
    ],
)
def test_malformed_payloads_are_400_with_the_reason(
    client: TestClient, keys: HookKeys, delivered: list[Event], body: bytes, reason: str
) -> None:
    token = keys.issue("worker-1", 1)
    response = client.post("/hooks/worker-1/1", content=body, headers=bearer(token))
    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert delivered == []


def test_a_body_over_the_cap_is_413_while_it_streams(
    client: TestClient, keys: HookKeys, delivered: list[Event]
) -> None:
    token = keys.issue("worker-1", 1)

    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_BODY // 65536 + 50):
            yield b" " * 65536

    response = client.post("/hooks/worker-1/1", content=chunks(), headers=bearer(token))
    assert response.status_code == 413
    declared = {**bearer(token), "Content-Length": str(MAX_BODY + 1)}
    assert client.post("/hooks/worker-1/1", content=b"{}", headers=declared).status_code == 413
    assert delivered == []


def test_pane_death_is_an_event_with_its_launch_and_pid(
    client: TestClient, keys: HookKeys, delivered: list[Event]
) -> None:
    token = keys.issue("worker-1", 1)
    response = client.post("/panes/worker-1/1/died", json=DIED, headers=bearer(token))
    assert response.status_code == 200
    assert delivered == [
        PaneDied(instance="worker-1", at=1000.0, exit_status=None, signal=9, pid=4242, launch=1)
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"status": "x", "pid": "1"},
        {"signal": "9"},
        {"signal": "9", "pid": ""},
        {"signal": "9", "pid": "0"},
        {"signal": "9", "pid": True},
        {"signal": "9", "pid": 1.5},
        {"signal": "9", "pid": "9" * 5000},
        {"signal": "9" * 30, "pid": "1"},
        [1],
    ],
)
def test_a_pane_death_without_a_good_pid_is_400(
    client: TestClient, keys: HookKeys, delivered: list[Event], body: object
) -> None:
    token = keys.issue("worker-1", 1)
    response = client.post("/panes/worker-1/1/died", json=body, headers=bearer(token))
    assert response.status_code == 400
    assert delivered == []


def test_health_needs_no_secret(client: TestClient) -> None:
    assert client.get("/health").json() == {"ok": True}
