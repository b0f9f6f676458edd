"""The dashboard over real HTTP under uvicorn, beside the hook app: the event stream pushes
each status as it is published, ends on the one with the outcome, and so never holds the
server's shutdown."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import anyio
import httpx
import pytest

from claude_orchestra._clock import SystemClock
from claude_orchestra.events import Event, TurnStopped
from claude_orchestra.intake import server as hookserver
from claude_orchestra.intake.app import create_hook_app
from claude_orchestra.intake.keys import HookKeys
from claude_orchestra.web import Dashboard
from tests.unit.test_runmodel import DOCUMENT

pytestmark = pytest.mark.anyio

SID = "0b7c1e2a-3f4d-4e5f-8a9b-0c1d2e3f4a5b"


async def capture(name: str) -> str:
    return f"{name}'s screen"


def status(done: int, outcome: str | None = None) -> dict[str, Any]:
    document = copy.deepcopy(DOCUMENT)
    document["tasks"] = {"total": 4, "done": done}
    document["outcome"] = outcome
    return document


async def test_the_stream_follows_each_status_and_ends_with_the_run() -> None:
    send, receive = anyio.create_memory_object_stream[Event](10)
    keys = HookKeys()
    hook_token = keys.issue("worker-1", 1)
    dashboard = Dashboard(capture=capture, secrets=keys.secrets, screen_interval=3600)
    dashboard.feed.publish(status(1))
    app = dashboard.app(create_hook_app(keys=keys, deliver=send.send, clock=SystemClock()))
    with send, receive:
        async with anyio.create_task_group() as tg:
            port = await tg.start(hookserver.serve, app)
            url = f"http://127.0.0.1:{port}"
            auth = {"Authorization": f"Bearer {dashboard.access.token.reveal()}"}
            runs: list[dict[str, Any]] = []
            async with httpx.AsyncClient(base_url=url, timeout=10) as client:
                refused = await client.get("/dashboard/events")
                assert refused.status_code == 401
                with anyio.fail_after(20):
                    async with client.stream("GET", "/dashboard/events", headers=auth) as events:
                        event = ""
                        async for line in events.aiter_lines():
                            if line.startswith("event: "):
                                event = line.removeprefix("event: ")
                            elif line.startswith("data: ") and event == "run":
                                runs.append(json.loads(line.removeprefix("data: ")))
                                if len(runs) == 1:  # a hook arrives; the loop publishes
                                    stop = {"hook_event_name": "Stop", "session_id": SID}
                                    hook = await client.post(
                                        "/hooks/worker-1/1",
                                        json=stop,
                                        headers={"Authorization": f"Bearer {hook_token.reveal()}"},
                                    )
                                    assert hook.status_code == 200
                                    assert isinstance(await receive.receive(), TurnStopped)
                                    dashboard.feed.publish(status(2))
                                elif len(runs) == 2:
                                    dashboard.feed.publish(status(4, outcome="complete"))
                    # The stream ended by itself after the last status (its `end` event).
            assert [r["headline"][1] for r in runs] == [
                "tasks 1/4 done",
                "tasks 2/4 done",
                "tasks 4/4 done",
            ]
            assert runs[-1]["state"] == "ended: complete"
            stopping = time.monotonic()
            tg.cancel_scope.cancel()
        assert time.monotonic() - stopping < 2  # no open stream held the shutdown
