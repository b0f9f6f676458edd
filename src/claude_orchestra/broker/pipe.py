"""Bytes from one task to another, coalesced: what the broker reads upstream, to be sent on.

The upstream stream arrives as many small chunks (one SSE frame each, a few hundred bytes),
often several at once in a socket read. Writing each one to the instance on its own costs a
framing and a system call per frame. A :class:`Pipe` lets the reader :meth:`~Pipe.put` each
chunk without waiting (a plain call: no coroutine per frame) while the writer is busy, and
the writer :meth:`~Pipe.take` all of them at once: one write for whatever arrived since
its last one. Nothing is held back to make a batch (a chunk that arrives alone is taken
alone, at once), so the batching costs no latency. It is bounded: past
:attr:`~Pipe.limit` bytes waiting, the reader waits for :meth:`~Pipe.room` (a slow
instance slows its upstream read, as a direct connection would).
"""

from __future__ import annotations

from typing import final

import anyio
import attrs

DEFAULT_LIMIT = 1024 * 1024
"""Bytes that may wait in a pipe before its reader waits for its writer."""


@final
@attrs.define(eq=False, repr=False, on_setattr=attrs.setters.NO_OP)  # hot: plain setattr
class Pipe:
    """A bounded, coalescing byte buffer between one reader task and one writer task."""

    limit: int = attrs.field(default=DEFAULT_LIMIT, validator=attrs.validators.gt(0))
    """Bytes waiting at which :meth:`put` waits for :meth:`take`."""
    _pending: list[bytes] = attrs.field(init=False, factory=list)
    _size: int = attrs.field(init=False, default=0)
    _closed: bool = attrs.field(init=False, default=False)
    _readable: anyio.Event | None = attrs.field(init=False, default=None)
    """Set when something arrives (or the pipe closes) while :meth:`take` waits."""
    _writable: anyio.Event | None = attrs.field(init=False, default=None)
    """Set when :meth:`take` empties the pipe while :meth:`put` waits."""

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Pipe {state}, {self._size} bytes waiting>"

    @property
    def drained(self) -> bool:
        """Closed, and nothing left to take: the last :meth:`take` returned the end."""
        return self._closed and not self._pending

    def put(self, chunk: bytes) -> bool:
        """Add ``chunk`` without waiting; ``True`` when :attr:`limit` bytes or more are
        now waiting (then :meth:`room` before the next put).

        Raises:
            ValueError: the pipe was closed.
        """
        if self._closed:
            raise ValueError("put on a closed pipe")
        if chunk:
            self._pending.append(chunk)
            self._size += len(chunk)
            self._wake_taker()
        return self._size >= self.limit

    async def room(self) -> None:
        """Wait until fewer than :attr:`limit` bytes are waiting."""
        while self._size >= self.limit:
            self._writable = anyio.Event()
            await self._writable.wait()

    def close(self) -> None:
        """No more chunks: :meth:`take` returns what is left, then ``None``."""
        self._closed = True
        self._wake_taker()

    async def take(self) -> bytes | None:
        """Everything put since the last take, joined; waits while nothing is there.
        ``None`` once the pipe is closed and empty."""
        while not self._pending:
            if self._closed:
                return None
            self._readable = anyio.Event()
            await self._readable.wait()
        pending, self._pending, self._size = self._pending, [], 0
        if self._writable is not None:
            self._writable.set()
            self._writable = None
        return pending[0] if len(pending) == 1 else b"".join(pending)

    def _wake_taker(self) -> None:
        if self._readable is not None:
            self._readable.set()
            self._readable = None
