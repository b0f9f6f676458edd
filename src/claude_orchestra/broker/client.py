"""The broker's transport upstream: httpx's, each request written in one send.

httpcore writes a request's head and its body apart: two sends, and on loopback (the fake
API) two wake-ups of the server for one request. The broker's requests are whole before
they are sent (the body is read first), so its connections hold what is written until the
answer is read (:class:`HeldWrites`), then send it at once. ``TCP_NODELAY`` stays on: the
one write goes out at once, and no part of a request waits on the server's delayed ACK.
"""

# httpcore's stream and backend interfaces take their timeouts as arguments.
# ruff: noqa: ASYNC109

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable
from typing import Any, final

import httpcore
import httpx

HELD_BYTES = 256 * 1024
"""Past this much held, a write is sent before the next one (a large body goes in pieces)."""


@final
class HeldWrites(httpcore.AsyncNetworkStream):
    """A connection whose writes wait for the next read (or close), then go as one."""

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream
        self._held: list[bytes] = []
        self._size = 0

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Hold ``buffer`` until the answer is read (sent now past :data:`HELD_BYTES`)."""
        if buffer:
            self._held.append(buffer)
            self._size += len(buffer)
        if self._size >= HELD_BYTES:
            await self._send(timeout)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Send what is held, then read."""
        await self._send(timeout)
        return await self._stream.read(max_bytes, timeout)

    async def aclose(self) -> None:
        """Close (what is held was never asked for an answer: dropped)."""
        self._held, self._size = [], 0
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """TLS over this connection, its writes held the same way."""
        await self._send(timeout)
        return HeldWrites(await self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        """As the connection says."""
        return self._stream.get_extra_info(info)

    async def _send(self, timeout: float | None) -> None:
        if not self._held:
            return
        held, self._held, self._size = self._held, [], 0
        await self._stream.write(held[0] if len(held) == 1 else b"".join(held), timeout)


@final
class HeldWritesBackend(httpcore.AsyncNetworkBackend):
    """Opens connections whose writes wait for the next read (:class:`HeldWrites`)."""

    def __init__(self, backend: httpcore.AsyncNetworkBackend) -> None:
        self._backend = backend

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """A TCP connection, its writes held."""
        stream = await self._backend.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        return HeldWrites(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """A Unix socket connection, its writes held."""
        stream = await self._backend.connect_unix_socket(
            path, timeout=timeout, socket_options=socket_options
        )
        return HeldWrites(stream)

    async def sleep(self, seconds: float) -> None:
        """As the backend sleeps."""
        await self._backend.sleep(seconds)


def upstream_transport() -> httpx.AsyncHTTPTransport:
    """httpx's transport for the broker: keep-alive connections, ``TCP_NODELAY``, each
    request written in one send."""
    transport = httpx.AsyncHTTPTransport(
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
    )
    # httpx passes no network backend to its pool; the pool's is replaced before any
    # connection opens (a test checks one send per request, so a change in httpx shows).
    pool = transport._pool
    if isinstance(pool, httpcore.AsyncConnectionPool):
        pool._network_backend = HeldWritesBackend(pool._network_backend)
    return transport
