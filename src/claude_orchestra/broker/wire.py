"""uvicorn's httptools protocol with the writes of one event-loop turn sent in one call.

The broker serves with uvicorn's httptools protocol (a C parser) rather than its h11 one
(pure Python): 0.15 ms less per request at the broker's p50 (``bench/broker.py``).

uvicorn writes an answer's status line and headers, each piece of its body and the end of
a chunked body apart: a system call each, and on loopback each one wakes the instance's
process to read a few bytes. Profiled, those sends were most of the broker's CPU time per
request. The broker writes in bursts (the headers with the first events, the last events
with the end of the body), so :class:`BatchingHttpToolsProtocol` holds what is written until the
event loop's current turn is over (``loop.call_soon``), then sends it joined. Nothing waits
past the turn that wrote it, so no latency is added; closing sends what is held first.
"""

from __future__ import annotations

import asyncio
from typing import Any, final

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


@final
class BatchedTransport(asyncio.Transport):
    """A transport whose writes wait for the end of the loop's turn, then go as one."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Hold ``data`` until the end of this turn of the loop."""
        if not data:
            return
        if not self._held:
            self._loop.call_soon(self._flush)
        self._held.append(bytes(data))

    def _flush(self) -> None:
        held, self._held = self._held, []
        if held and not self._transport.is_closing():
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def close(self) -> None:
        """Send what is held, then close."""
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        """Close at once, dropping what is held."""
        self._held = []
        self._transport.abort()

    def is_closing(self) -> bool:
        """The connection is closing or closed."""
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """As the socket's transport says."""
        return self._transport.get_extra_info(name, default)

    def pause_reading(self) -> None:
        """Stop reading the socket (uvicorn's flow control)."""
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        """Read the socket again."""
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        """The socket is being read."""
        return self._transport.is_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        """Hand the connection to another protocol (what is held is sent first)."""
        self._flush()
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        """The protocol the socket's data goes to."""
        return self._transport.get_protocol()

    def get_write_buffer_size(self) -> int:
        """Bytes held or not yet sent."""
        return sum(map(len, self._held)) + self._transport.get_write_buffer_size()


class BatchingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, writing through a :class:`BatchedTransport` (pass the class
    as uvicorn's ``http``)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Serve the connection, its writes batched per turn of the loop."""
        if not isinstance(transport, asyncio.Transport):
            raise TypeError(f"a stream transport is needed, not {type(transport).__name__}")
        super().connection_made(BatchedTransport(transport, self.loop))
