"""The broker's session upstream, seen from the wire: connections kept alive, answers passed
on as the API sent them, nothing added."""

from __future__ import annotations

import gzip

import pytest

from claude_orchestra.broker.client import upstream_session

from .wire_upstream import upstream_on_the_wire

pytestmark = pytest.mark.anyio


def answer_of(body: bytes, *headers: bytes) -> bytes:
    head = b"".join(h + b"\r\n" for h in headers)
    return b"HTTP/1.1 200 OK\r\n%scontent-length: %d\r\n\r\n%s" % (head, len(body), body)


async def test_requests_one_after_another_share_one_connection() -> None:
    async with (
        upstream_on_the_wire(answer_of(b"{}", b"content-type: application/json")) as (url, got),
        upstream_session() as session,
    ):
        for n in range(3):
            async with session.post(f"{url}/v1/messages", data=b'{"n": %d}' % n) as reply:
                assert await reply.read() == b"{}"
    assert [number for number, _ in got] == [1, 1, 1]
    assert [request.rpartition(b"\r\n\r\n")[2] for _, request in got] == [
        b'{"n": 0}',
        b'{"n": 1}',
        b'{"n": 2}',
    ]


async def test_a_compressed_answer_passes_as_the_api_sent_it_and_nothing_is_added() -> None:
    packed = gzip.compress(b'{"type": "message"}')
    answer = answer_of(packed, b"content-type: application/json", b"content-encoding: gzip")
    async with (
        upstream_on_the_wire(answer) as (url, got),
        upstream_session() as session,
        session.post(f"{url}/v1/messages", data=b"{}") as reply,
    ):
        assert reply.headers["content-encoding"] == "gzip"
        assert b"".join([chunk async for chunk in reply.content.iter_any()]) == packed
    ((_, request),) = got
    names = {
        line.partition(b":")[0].lower() for line in request.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]
    }
    assert names == {b"host", b"content-length"}  # no User-Agent, Accept or Content-Type
