"""The broker's side facing the instances, in plain ASGI: no routing, no middleware.

Every request to the broker is the same work (forward it), so the app is one callable
(:class:`~claude_orchestra.broker.proxy.BrokerApp`) and this module gives it what a
framework would, at a fraction of the cost per request: the request's line and headers
read once from the ASGI scope (:func:`incoming`), its body (:func:`read_body`), and an
answer streamed as it arrives (:func:`send_stream`): the upstream is read in a task of its
own into a :class:`~claude_orchestra.broker.pipe.Pipe`, and whatever arrived since the
last write goes out in one write, while a third task watches for the instance going
away (then the upstream read is cancelled).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable
from typing import final

import anyio
import attrs
from starlette.types import Message, Receive, Scope, Send

from claude_orchestra.broker.pipe import Pipe


@final
class ClientGone(Exception):
    """The instance hung up before its request's body was read (nothing to answer)."""


@final
@attrs.frozen(kw_only=True)
class Incoming:
    """A request's line and headers, as the broker forwards them."""

    method: str
    path: str
    """As Starlette's ``request.url.path`` gives it (``?``, ``#`` and ``\\`` escaped)."""
    query: str
    headers: tuple[tuple[str, str], ...]
    """Every header in order, names lower-case (as ASGI gives them), Latin-1 decoded."""

    def header(self, name: str) -> str:
        """The first value of header ``name`` (lower-case), or ``""``."""
        for key, value in self.headers:
            if key == name:
                return value
        return ""


def incoming(scope: Scope) -> Incoming:
    """The request of an HTTP ``scope``."""
    path: str = scope["path"]
    return Incoming(
        method=scope["method"],
        path=path.replace("?", "%3F").replace("#", "%23").replace("\\", "%5C"),
        query=scope.get("query_string", b"").decode("latin-1"),
        headers=tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]),
    )


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The request's body, or ``None`` past ``limit`` bytes.

    Raises:
        ClientGone: the instance hung up first.
    """
    data = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        data += message.get("body", b"")
        if len(data) > limit:
            return None
        if not message.get("more_body", False):
            return bytes(data)


async def send_stream(
    send: Send,
    receive: Receive,
    *,
    status: int,
    headers: Iterable[tuple[str, str]],
    chunks: AsyncIterable[bytes],
    on_batch: Callable[[bytes], None],
) -> None:
    """Answer with ``status`` and ``headers``, then ``chunks`` as they arrive: each write
    carries every chunk that came since the previous one (the headers go with the first),
    and ``on_batch`` sees it first. Returns when the body is complete or the instance hung
    up (the upstream read is cancelled then); an error reading ``chunks`` propagates (the
    server then cuts the connection, so the instance sees the answer end early)."""
    start: Message | None = {
        "type": "http.response.start",
        "status": status,
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
    }
    pipe = Pipe()
    async with anyio.create_task_group() as tg:
        tg.start_soon(_fill, chunks, pipe)
        tg.start_soon(_watch, receive, tg.cancel_scope)
        while (data := await pipe.take()) is not None:
            on_batch(data)
            if start is not None:  # written with the first piece: one packet, one wake-up
                await send(start)
                start = None
            last = pipe.drained  # the final write also ends the body
            await send({"type": "http.response.body", "body": data, "more_body": not last})
            if last:
                break
        else:
            if start is not None:
                await send(start)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        tg.cancel_scope.cancel()  # the watcher: the answer is complete


async def _fill(chunks: AsyncIterable[bytes], pipe: Pipe) -> None:
    async for chunk in chunks:
        if pipe.put(chunk):
            await pipe.room()
    pipe.close()


async def _watch(receive: Receive, scope: anyio.CancelScope) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()
