"""The latest status document of the run, and the streams that wait for the next one.

The run's :class:`~claude_orchestra.status.StatusBoard` hands every document it publishes
to :meth:`DashboardFeed.publish` (on the event loop, so it only stores and wakes). Each
browser's event stream waits in :meth:`DashboardFeed.wait_beyond` for a version newer than
the one it sent; a burst of documents reaches a slow reader as the latest one only.
"""

from __future__ import annotations

from typing import Any, final

import anyio
import attrs


@final
@attrs.define(eq=False, repr=False)
class DashboardFeed:
    """Holds the latest document; wakes whoever waits when it changes or closes."""

    _document: dict[str, Any] | None = attrs.field(init=False, default=None)
    _version: int = attrs.field(init=False, default=0)
    _closed: bool = attrs.field(init=False, default=False)
    _changed: anyio.Event | None = attrs.field(init=False, default=None)

    def __repr__(self) -> str:
        return f"<DashboardFeed version={self._version} closed={self._closed}>"

    @property
    def version(self) -> int:
        """How many documents were published (0: none yet)."""
        return self._version

    @property
    def latest(self) -> dict[str, Any] | None:
        """The last document published."""
        return self._document

    @property
    def closed(self) -> bool:
        """The run has ended: no document will follow."""
        return self._closed

    def publish(self, document: dict[str, Any]) -> None:
        """A new document (already redacted); wakes every waiting stream. A document with
        an ``outcome`` is the run's last: the feed closes."""
        self._document = document
        self._version += 1
        self._closed = self._closed or bool(document.get("outcome"))
        self._wake()

    def close(self) -> None:
        """No more documents: waiting streams send what they have and end."""
        self._closed = True
        self._wake()

    async def wait_beyond(self, version: int) -> None:
        """Return once a document newer than ``version`` is published or the feed closes
        (callers bound the wait with their own deadline)."""
        while self._version <= version and not self._closed:
            if self._changed is None:
                self._changed = anyio.Event()
            await self._changed.wait()

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None
