"""The web dashboard's routes: the token on every one (the event stream too), the cookie the
printed URL turns into, headers that keep the page to itself, no secret in anything sent,
and the hook app still behind it."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator

import anyio
import pytest
from starlette.testclient import TestClient

from claude_orchestra._clock import ManualClock
from claude_orchestra.auth.credentials import Secret
from claude_orchestra.events import Event
from claude_orchestra.intake.app import create_hook_app
from claude_orchestra.intake.keys import HookKeys
from claude_orchestra.web import Dashboard
from claude_orchestra.web.app import HEADERS, _stream
from tests.unit.test_runmodel import DOCUMENT

API_KEY = Secret("sk-ant-api03-" + "k" * 40)
ROUTES = ["/dashboard/", "/dashboard/static/dashboard.js", "/dashboard/state", "/dashboard/events"]


async def capture(name: str) -> str:
    return f"{name}'s Claude Code\n> export ANTHROPIC_API_KEY={API_KEY.reveal()}\n\n\n"


@pytest.fixture
def keys() -> HookKeys:
    return HookKeys()


@pytest.fixture
def dashboard(keys: HookKeys) -> Dashboard:
    made = Dashboard(
        capture=capture,
        secrets=lambda: (API_KEY, *keys.secrets()),
        clock=ManualClock(epoch=float(DOCUMENT["updatedAt"]) + 2),
    )
    made.feed.publish(copy.deepcopy(DOCUMENT))
    return made


@pytest.fixture
def client(dashboard: Dashboard, keys: HookKeys) -> Iterator[TestClient]:
    async def deliver(event: Event) -> None:
        pass

    hooks = create_hook_app(keys=keys, deliver=deliver, clock=ManualClock())
    with TestClient(dashboard.app(hooks), raise_server_exceptions=False) as test_client:
        yield test_client


def token(dashboard: Dashboard) -> str:
    return dashboard.access.token.reveal()


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_refuses_no_token_and_a_wrong_one(client: TestClient, route: str) -> None:
    missing = client.get(route)
    assert missing.status_code == 401
    wrong = "x" * 43
    assert client.get(route, params={"token": wrong}).status_code == 403
    assert client.get(route, headers={"Authorization": f"Bearer {wrong}"}).status_code == 403
    client.cookies.set("orchestra-dashboard-000000000000", wrong)
    assert client.get(route).status_code == 401  # another run's cookie is no token here
    for response in (missing, client.get(route, params={"token": wrong})):
        for header, value in HEADERS.items():
            assert response.headers[header] == value


@pytest.mark.parametrize("route", ROUTES)
def test_a_hook_token_is_not_a_dashboard_token(
    client: TestClient, keys: HookKeys, route: str
) -> None:
    hook_token = keys.issue("worker-1", 1).reveal()
    assert client.get(route, params={"token": hook_token}).status_code == 403


def test_the_printed_url_becomes_a_private_cookie(client: TestClient, dashboard: Dashboard) -> None:
    moved = client.get("/dashboard/", params={"token": token(dashboard)}, follow_redirects=False)
    assert moved.status_code == 303
    assert moved.headers["location"] == "/dashboard/"
    cookie = moved.headers["set-cookie"]
    assert cookie.startswith(f"{dashboard.access.cookie}={token(dashboard)};")
    for flag in ("HttpOnly", "Path=/dashboard", "SameSite=strict"):
        assert flag in cookie
    page = client.get("/dashboard/")  # the cookie is all it takes now
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'src="static/dashboard.js"' in page.text
    for asset, kind in (("dashboard.js", "text/javascript"), ("dashboard.css", "text/css")):
        served = client.get(f"/dashboard/static/{asset}")
        assert served.status_code == 200
        assert served.headers["content-type"].startswith(kind)
    assert client.get("/dashboard/static/index.html").status_code == 404
    assert client.get("/dashboard/static/..%2F__init__.py").status_code == 404


def test_the_state_is_the_run_model_with_every_screen_and_no_secret(
    client: TestClient, dashboard: Dashboard, keys: HookKeys
) -> None:
    hook_token = keys.issue("worker-1", 1)
    state = client.get("/dashboard/state", headers={"Authorization": f"Bearer {token(dashboard)}"})
    assert state.status_code == 200
    body = state.json()
    assert [i["name"] for i in body["run"]["instances"]] == ["manager", "worker-1"]
    assert body["run"]["headline"][1:3] == ["tasks 1/4 done", "1 merges"]
    assert body["screens"]["worker-1"]["text"].startswith("worker-1's Claude Code")
    sent = [
        state.text,
        *(client.get(route, params={"token": token(dashboard)}).text for route in ROUTES[:2]),
        client.get("/dashboard/static/dashboard.css", params={"token": token(dashboard)}).text,
    ]
    for text in sent:
        for secret in (API_KEY, hook_token, dashboard.access.token):
            assert secret.reveal() not in text


def test_the_event_stream_sends_the_run_its_screens_and_its_end(
    client: TestClient, dashboard: Dashboard
) -> None:
    dashboard.feed.publish({**copy.deepcopy(DOCUMENT), "outcome": "complete"})
    with client.stream("GET", "/dashboard/events", params={"token": token(dashboard)}) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        text = "".join(stream.iter_text())
    events = [block.split("\n") for block in text.split("\n\n") if block.startswith("event:")]
    assert [lines[0] for lines in events] == ["event: run", "event: end"]
    run = json.loads(events[0][1].removeprefix("data: "))
    assert run["state"] == "ended: complete"
    assert dashboard.access.token.reveal() not in text


def test_the_hook_app_still_answers_behind_the_dashboard(
    client: TestClient, keys: HookKeys, dashboard: Dashboard
) -> None:
    assert client.get("/health").json() == {"ok": True}
    refused = client.post(
        "/hooks/worker-1/1", json={}, headers={"Authorization": f"Bearer {token(dashboard)}"}
    )
    assert refused.status_code == 401  # the dashboard's token is no hook credential


@pytest.mark.anyio
async def test_the_stream_pushes_each_new_status_without_waiting_for_the_beat() -> None:
    dashboard = Dashboard(capture=capture, screen_interval=3600)  # the beat never comes
    stream = _stream(dashboard)
    assert await anext(stream) == "retry: 3000\n\n"
    pushed: list[str] = []

    async def read() -> None:
        pushed.append(await anext(stream))

    with anyio.fail_after(5):
        screens = await anext(stream)  # no status yet: no `run`, the (empty) screens
        assert screens.startswith("event: screens\n")
        async with anyio.create_task_group() as tg:
            tg.start_soon(read)
            await anyio.wait_all_tasks_blocked()  # the stream waits for the feed
            assert pushed == []
            dashboard.feed.publish(copy.deepcopy(DOCUMENT))
    assert pushed[0].startswith("event: run\n")
    assert '"worker-1"' in pushed[0]
    await stream.aclose()
