"""The hook app: secret required, payloads parsed into events, bad input is a 4xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from claude_orchestra._clock import ManualClock
from claude_orchestra.credentials import Secret
from claude_orchestra.events import Event, PaneDied, TurnStopped
from claude_orchestra.hookapp import create_hook_app

SECRET = "s3cret-token-for-tests"
AUTH = {"Authorization": f"Bearer {SECRET}"}
STOP = {
    "hook_event_name": "Stop",
    "session_id": "abc",
    "transcript_path": "/t.jsonl",
    "cwd": "/w",
    "last_assistant_message": "done",
}


@pytest.fixture
def delivered() -> list[Event]:
    return []


@pytest.fixture
def client(delivered: list[Event]) -> Iterator[TestClient]:
    async def deliver(event: Event) -> None:
        delivered.append(event)

    app = create_hook_app(
        secret=Secret(SECRET), deliver=deliver, instances={"worker-1"}, clock=ManualClock()
    )
    with TestClient(app) as test_client:
        yield test_client


def test_a_hook_becomes_one_event(client: TestClient, delivered: list[Event]) -> None:
    response = client.post("/hooks/worker-1", json=STOP, headers=AUTH)
    assert response.status_code == 200
    assert response.json() == {}
    assert delivered == [
        TurnStopped(
            instance="worker-1",
            at=1000.0,
            session_id="abc",
            transcript_path="/t.jsonl",
            cwd="/w",
            last_message="done",
        )
    ]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": SECRET}, {"X-Other": SECRET}],
)
def test_without_the_secret_it_is_401(
    client: TestClient, delivered: list[Event], headers: dict[str, str]
) -> None:
    assert client.post("/hooks/worker-1", json=STOP, headers=headers).status_code == 401
    assert delivered == []


def test_unknown_instances_are_404(client: TestClient, delivered: list[Event]) -> None:
    assert client.post("/hooks/worker-9", json=STOP, headers=AUTH).status_code == 404
    assert delivered == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "body: not JSON"),
        (b"[1, 2]", "body: must be a JSON object"),
        (b'{"hook_event_name": "Stop"}', "session_id: missing"),
        (b'{"hook_event_name": "Nope", "session_id": "x"}', "hook_event_name"),
        (b"\xff\xfe", "body: not JSON"),
    ],
)
def test_malformed_payloads_are_400_with_the_reason(
    client: TestClient, delivered: list[Event], body: bytes, reason: str
) -> None:
    response = client.post("/hooks/worker-1", content=body, headers=AUTH)
    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert delivered == []


def test_pane_death_is_an_event(client: TestClient, delivered: list[Event]) -> None:
    response = client.post("/panes/worker-1/died", json={"status": "", "signal": "9"}, headers=AUTH)
    assert response.status_code == 200
    assert delivered == [PaneDied(instance="worker-1", at=1000.0, exit_status=None, signal=9)]
    bad = client.post("/panes/worker-1/died", json={"status": "x"}, headers=AUTH)
    assert bad.status_code == 400


def test_health_needs_no_secret(client: TestClient) -> None:
    assert client.get("/health").json() == {"ok": True}
