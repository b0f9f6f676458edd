"""The broker's upstream connections send a request's head and body in one write."""

from __future__ import annotations

import httpcore
import pytest

from claude_orchestra.broker.client import (
    HELD_BYTES,
    HeldWrites,
    HeldWritesBackend,
    upstream_transport,
)

pytestmark = pytest.mark.anyio


class Wire(httpcore.AsyncNetworkStream):
    """A connection that keeps what is written and answers reads from a script."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        return b"HTTP/1.1 200 OK\r\n"[:max_bytes]

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        self.writes.append(buffer)

    async def aclose(self) -> None:
        self.closed = True

    def get_extra_info(self, info: str) -> object:
        return {"is_readable": False}.get(info)


async def test_the_head_and_body_go_in_one_write_when_the_answer_is_read() -> None:
    wire = Wire()
    held = HeldWrites(wire)
    await held.write(b"POST /v1/messages HTTP/1.1\r\n\r\n")
    await held.write(b"")
    await held.write(b'{"model": "m"}')
    assert wire.writes == []
    assert await held.read(4096) == b"HTTP/1.1 200 OK\r\n"
    assert wire.writes == [b'POST /v1/messages HTTP/1.1\r\n\r\n{"model": "m"}']
    await held.read(4096)
    assert len(wire.writes) == 1  # nothing more held: nothing more sent
    assert held.get_extra_info("is_readable") is False


async def test_a_large_body_is_sent_as_it_grows_and_closing_drops_what_is_held() -> None:
    wire = Wire()
    held = HeldWrites(wire)
    await held.write(b"x" * (HELD_BYTES - 1))
    assert wire.writes == []
    await held.write(b"yy")
    assert [len(w) for w in wire.writes] == [HELD_BYTES + 1]
    await held.write(b"never asked for")
    await held.aclose()
    assert wire.closed
    assert len(wire.writes) == 1


def test_the_transport_opens_its_connections_with_held_writes() -> None:
    pool = upstream_transport()._pool
    assert isinstance(pool, httpcore.AsyncConnectionPool)
    assert isinstance(pool._network_backend, HeldWritesBackend)
