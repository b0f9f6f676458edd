"""The broker's HTTP protocol sends the writes of one turn of the loop in one call."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from anyio.lowlevel import checkpoint

from claude_orchestra.broker.wire import BatchedTransport


class Recorder(asyncio.Transport):
    """A transport that keeps what is written to it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.reading = True

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 1)}.get(name, default)

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def get_write_buffer_size(self) -> int:
        return 0


pytestmark = pytest.mark.anyio


async def test_the_writes_of_one_turn_go_out_as_one_after_it() -> None:
    inner = Recorder()
    batched = BatchedTransport(inner, asyncio.get_running_loop())
    batched.write(b"HTTP/1.1 200 OK\r\n\r\n")
    batched.write(b"")
    batched.write(b"a\r\nevent: x\n\n\r\n")
    batched.write(bytearray(b"0\r\n\r\n"))
    assert inner.writes == []  # held until this turn is over
    assert batched.get_write_buffer_size() == 19 + 15 + 5
    await checkpoint()
    assert inner.writes == [b"HTTP/1.1 200 OK\r\n\r\na\r\nevent: x\n\n\r\n0\r\n\r\n"]
    batched.write(b"next")
    await checkpoint()
    assert inner.writes[1:] == [b"next"]


async def test_closing_sends_what_is_held_first_and_the_rest_delegates() -> None:
    inner = Recorder()
    batched = BatchedTransport(inner, asyncio.get_running_loop())
    batched.write(b"the end")
    batched.close()
    assert (inner.writes, inner.closed, batched.is_closing()) == ([b"the end"], True, True)
    await checkpoint()
    assert inner.writes == [b"the end"]  # sent once
    assert batched.get_extra_info("peername") == ("127.0.0.1", 1)
    batched.pause_reading()
    assert not inner.reading
    batched.resume_reading()
    assert inner.reading
