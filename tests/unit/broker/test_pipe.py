"""The pipe between the broker's upstream read and its write to the instance: nothing
lost, nothing reordered, however the two sides interleave; bounded."""

from __future__ import annotations

import anyio
import pytest
from anyio.lowlevel import checkpoint
from hypothesis import given, note
from hypothesis import strategies as st

from claude_orchestra.broker.pipe import Pipe

chunks = st.lists(st.binary(max_size=40), max_size=30)


@given(chunks, st.lists(st.booleans(), max_size=30), st.integers(1, 100))
def test_what_is_taken_is_what_was_put_in_order(
    pieces: list[bytes], yields: list[bool], limit: int
) -> None:
    """The putter yields to the taker after the pieces ``yields`` marks (else it puts on at
    once, as when a read holds several frames); the taker gets every byte, in order."""

    async def run() -> list[bytes]:
        pipe = Pipe(limit=limit)
        taken: list[bytes] = []

        async def put_all() -> None:
            for n, piece in enumerate(pieces):
                if pipe.put(piece):
                    await pipe.room()
                if n < len(yields) and yields[n]:
                    await checkpoint()
            pipe.close()

        async with anyio.create_task_group() as tg:
            tg.start_soon(put_all)
            while (data := await pipe.take()) is not None:
                taken.append(data)
        assert pipe.drained
        return taken

    taken = anyio.run(run)
    note(f"{len(pieces)} pieces put, {len(taken)} takes")
    assert b"".join(taken) == b"".join(pieces)
    assert all(taken)  # never an empty take
    assert len(taken) <= max(1, len([p for p in pieces if p]))


@pytest.mark.anyio
async def test_pieces_put_while_the_taker_is_busy_are_taken_as_one() -> None:
    pipe = Pipe()
    for piece in (b"event: a\n\n", b"event: b\n\n", b"event: c\n\n"):
        assert not pipe.put(piece)
    assert await pipe.take() == b"event: a\n\nevent: b\n\nevent: c\n\n"
    pipe.close()
    assert await pipe.take() is None


@pytest.mark.anyio
async def test_the_putter_waits_past_the_limit_until_the_taker_takes() -> None:
    pipe = Pipe(limit=4)
    done = anyio.Event()

    async def put() -> None:
        assert pipe.put(b"12345")  # full: the putter waits for room
        await pipe.room()
        done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(put)
        await anyio.wait_all_tasks_blocked()
        assert not done.is_set()  # 5 bytes waiting: the putter waits
        assert await pipe.take() == b"12345"
        with anyio.fail_after(5):
            await done.wait()


@pytest.mark.anyio
async def test_a_closed_pipe_refuses_more_and_gives_what_is_left() -> None:
    pipe = Pipe()
    pipe.put(b"last")
    pipe.close()
    with pytest.raises(ValueError, match="closed"):
        pipe.put(b"more")
    assert not pipe.drained
    assert await pipe.take() == b"last"
    assert pipe.drained
    assert await pipe.take() is None
    assert "closed" in repr(pipe)
