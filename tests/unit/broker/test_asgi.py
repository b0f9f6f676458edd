"""The broker's ASGI side: a request read from its scope, an answer streamed in batches,
the upstream read stopped when the instance hangs up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from anyio.lowlevel import checkpoint

from claude_orchestra.broker.asgi import ClientGone, incoming, read_body, send_stream

pytestmark = pytest.mark.anyio


class Instance:
    """The ASGI server's side: what the app receives and what it sends."""

    def __init__(self, *bodies: bytes) -> None:
        self.inbox: list[dict[str, Any]] = [
            {"type": "http.request", "body": b, "more_body": n < len(bodies) - 1}
            for n, b in enumerate(bodies)
        ]
        self.sent: list[dict[str, Any]] = []
        self.gone = anyio.Event()

    async def receive(self) -> dict[str, Any]:
        if self.inbox:
            return self.inbox.pop(0)
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


def test_a_request_is_read_from_its_scope() -> None:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/messages",
        "query_string": b"beta=true",
        "headers": [(b"x-api-key", b"sk-1"), (b"x-api-key", b"sk-2"), (b"anthropic-beta", b"a")],
    }
    request = incoming(scope)
    assert (request.method, request.path, request.query) == ("POST", "/v1/messages", "beta=true")
    assert request.header("x-api-key") == "sk-1"  # the first, as Starlette's headers give it
    assert request.header("authorization") == ""
    assert len(request.headers) == 3


async def test_a_body_is_read_whole_and_refused_past_its_limit() -> None:
    assert await read_body(Instance(b"ab", b"cd").receive, 10) == b"abcd"
    assert await read_body(Instance(b"abc", b"def").receive, 5) is None
    gone = Instance()
    gone.gone.set()
    with pytest.raises(ClientGone):
        await read_body(gone.receive, 5)


async def test_chunks_that_arrive_together_go_out_together_with_the_headers_first() -> None:
    instance = Instance()
    batches: list[bytes] = []

    async def chunks() -> AsyncIterator[bytes]:
        yield b"event: message_start\n\n"
        yield b"event: ping\n\n"  # no wait between: one write
        await checkpoint()
        yield b"event: message_stop\n\n"

    await send_stream(
        instance.send,
        instance.receive,
        status=200,
        headers=[("content-type", "text/event-stream")],
        chunks=chunks(),
        on_batch=batches.append,
    )
    start, *bodies = instance.sent
    assert start == {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/event-stream")],
    }
    assert b"".join(batches) == b"".join(m["body"] for m in bodies)
    assert bodies[0]["body"] == b"event: message_start\n\nevent: ping\n\n"
    assert [m["more_body"] for m in bodies][-1] is False
    assert all(m["more_body"] for m in bodies[:-1])


async def test_an_empty_answer_still_gets_its_headers_and_an_end() -> None:
    instance = Instance()

    async def nothing() -> AsyncIterator[bytes]:
        return
        yield b""

    await send_stream(
        instance.send, instance.receive, status=204, headers=[], chunks=nothing(), on_batch=print
    )
    assert [m["type"] for m in instance.sent] == ["http.response.start", "http.response.body"]
    assert instance.sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


async def test_when_the_instance_hangs_up_the_upstream_read_stops() -> None:
    instance = Instance()
    stopped = anyio.Event()

    async def endless() -> AsyncIterator[bytes]:
        try:
            yield b"event: message_start\n\n"
            await anyio.sleep_forever()
            yield b"never"
        finally:
            stopped.set()

    def hang_up(_: bytes) -> None:
        instance.gone.set()

    with anyio.fail_after(5):
        await send_stream(
            instance.send,
            instance.receive,
            status=200,
            headers=[],
            chunks=endless(),
            on_batch=hang_up,
        )
        await stopped.wait()
    assert all(m.get("more_body", True) for m in instance.sent)  # the body never ended
