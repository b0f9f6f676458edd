"""An upstream that speaks HTTP/1.1 by hand: the broker's client seen from the wire, with
no HTTP library between."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator

import anyio
import anyio.abc


@contextlib.asynccontextmanager
async def upstream_on_the_wire(
    answer: bytes, *, hang_up: bool = False
) -> AsyncIterator[tuple[str, list[tuple[int, bytes]]]]:
    """An upstream on 127.0.0.1 that answers ``answer`` to every request on a connection
    until the client hangs up (with ``hang_up``, it hangs up itself after one answer); yields
    its URL and, per request, its connection's number and its bytes as they came."""
    received: list[tuple[int, bytes]] = []
    connections = 0

    async def serve(stream: anyio.abc.SocketStream) -> None:
        nonlocal connections
        connections += 1
        number, data = connections, b""
        async with stream:
            while True:
                while b"\r\n\r\n" not in data:
                    try:
                        data += await stream.receive()
                    except anyio.EndOfStream:
                        return
                head = data.partition(b"\r\n\r\n")[0]
                length = re.search(rb"(?im)^content-length: *(\d+)", head)
                end = len(head) + 4 + int(length[1] if length else 0)
                while len(data) < end:
                    data += await stream.receive()
                received.append((number, data[:end]))
                data = data[end:]
                await stream.send(answer)
                if hang_up:
                    return

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, serve)
        port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610
        yield f"http://127.0.0.1:{port}", received
        tg.cancel_scope.cancel()
