"""The hook app over real HTTP under uvicorn: the secret, bad input, and no crash."""

from __future__ import annotations

import anyio
import httpx
import pytest

from claude_orchestra._clock import SystemClock
from claude_orchestra.events import Event, TurnStopped
from claude_orchestra.intake import server as hookserver
from claude_orchestra.intake.app import create_hook_app
from claude_orchestra.intake.keys import HookKeys

pytestmark = pytest.mark.anyio

STOP = {
    "hook_event_name": "Stop",
    "session_id": "0b7c1e2a-3f4d-4e5f-8a9b-0c1d2e3f4a5b",
    "last_assistant_message": "done",
}


async def test_hooks_over_http_reach_the_stream_and_bad_ones_do_not() -> None:
    send, receive = anyio.create_memory_object_stream[Event](100)
    keys = HookKeys()
    token = keys.issue("w1", 1)
    app = create_hook_app(keys=keys, deliver=send.send, clock=SystemClock())
    async with anyio.create_task_group() as tg:
        port = await tg.start(hookserver.serve, app)
        url = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {token.reveal()}"}
        big = b" " * (5 * 1024 * 1024)
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            statuses = [
                (await client.post("/hooks/w1/1", json=STOP)).status_code,
                (await client.post("/hooks/w1/1", content=b"{", headers=auth)).status_code,
                (await client.post("/hooks/w1/1", content=b"\x00" * 10, headers=auth)).status_code,
                (await client.post("/hooks/nobody/1", json=STOP, headers=auth)).status_code,
                (await client.post("/hooks/w1/2", json=STOP, headers=auth)).status_code,
                (await client.post("/hooks/w1", json=STOP, headers=auth)).status_code,
                (await client.get("/hooks/w1/1", headers=auth)).status_code,
                (await client.post("/hooks/w1/1", content=big, headers=auth)).status_code,
            ]
            good = await client.post("/hooks/w1/1", json=STOP, headers=auth)
        assert statuses == [401, 400, 400, 401, 401, 404, 405, 413]
        assert good.status_code == 200
        with anyio.fail_after(5):
            event = await receive.receive()
        assert isinstance(event, TurnStopped)
        assert event.instance == "w1"
        tg.cancel_scope.cancel()
    send.close()
    receive.close()


async def test_the_server_listens_before_it_reports_ready_and_stops_when_cancelled() -> None:
    async def deliver(_: Event) -> None:
        pass

    app = create_hook_app(keys=HookKeys(), deliver=deliver, clock=SystemClock())
    async with anyio.create_task_group() as tg:
        port = await tg.start(hookserver.serve, app)
        async with httpx.AsyncClient(timeout=5) as client:
            assert (await client.get(f"http://127.0.0.1:{port}/health")).json() == {"ok": True}
        tg.cancel_scope.cancel()
    with pytest.raises(OSError):  # noqa: PT011 (refused: nothing listens any more)
        await anyio.connect_tcp("127.0.0.1", port)
