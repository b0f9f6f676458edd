"""Reading a Messages API stream as it passes: server-sent events and the usage they carry.

:class:`SseParser` is fed the bytes of a ``text/event-stream`` body in whatever pieces
they arrive (a frame may be split anywhere, even inside a UTF-8 character or a ``\\r\\n``)
and returns each complete event. :class:`UsageMeter` keeps the usage of one response:
``message_start`` gives the input and cache counts (and a first output count),
``message_delta`` gives the cumulative counts at the end; a count the delta carries
replaces the start's. Both are pure (no I/O, no clock) and linear in the bytes fed.
"""

from __future__ import annotations

import json
from typing import Any, final

import attrs

from claude_orchestra.transcripts import Usage

MAX_EVENT_BYTES = 8 * 1024 * 1024
"""An event longer than this is skipped (its bytes pass through all the same)."""

_USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)


@final
@attrs.frozen(kw_only=True)
class SseEvent:
    """One server-sent event: its ``event:`` name and its ``data:`` lines joined."""

    name: str
    data: str


@final
@attrs.define(eq=False)
class SseParser:
    """Turns stream bytes, split anywhere, into :class:`SseEvent` values."""

    _buffer: bytearray = attrs.field(init=False, factory=bytearray)
    _scanned: int = attrs.field(init=False, default=0)
    _name: str = attrs.field(init=False, default="")
    _data: list[str] = attrs.field(init=False, factory=list)
    _size: int = attrs.field(init=False, default=0)
    _skipping: bool = attrs.field(init=False, default=False)

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """The events that ``chunk`` completes, in order."""
        self._buffer += chunk
        events: list[SseEvent] = []
        start = 0
        while True:
            end = self._buffer.find(b"\n", max(start, self._scanned))
            if end < 0:
                break
            line = bytes(self._buffer[start:end]).removesuffix(b"\r")
            start = end + 1
            event = self._line(line)
            if event is not None:
                events.append(event)
        del self._buffer[:start]
        self._scanned = len(self._buffer)
        if len(self._buffer) > MAX_EVENT_BYTES:  # a line with no end in sight: drop it
            self._buffer.clear()
            self._scanned = 0
            self._skipping = True
        return events

    def _line(self, raw: bytes) -> SseEvent | None:
        if not raw:  # a blank line ends the event
            event = None
            if (self._data or self._name) and not self._skipping:
                event = SseEvent(name=self._name or "message", data="\n".join(self._data))
            self._name, self._data, self._size, self._skipping = "", [], 0, False
            return event
        self._size += len(raw)
        if self._size > MAX_EVENT_BYTES:
            self._skipping, self._data = True, []
        if self._skipping or raw.startswith(b":"):
            return None
        field, _, value = raw.decode("utf-8", "replace").partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            self._name = value
        elif field == "data":
            self._data.append(value)
        return None


def _counts(usage: Any) -> dict[str, int]:
    """The token counts in an API ``usage`` object (non-negative integers only)."""
    if not isinstance(usage, dict):
        return {}
    return {
        k: v
        for k in _USAGE_FIELDS
        if isinstance(v := usage.get(k), int) and not isinstance(v, bool) and v >= 0
    }


@final
@attrs.define(eq=False)
class UsageMeter:
    """The usage and identity of one streamed response, from its events."""

    _parser: SseParser = attrs.field(init=False, factory=SseParser)
    _counts: dict[str, int] = attrs.field(init=False, factory=dict)
    message_id: str | None = attrs.field(init=False, default=None)
    model: str | None = attrs.field(init=False, default=None)
    started: bool = attrs.field(init=False, default=False)
    """``message_start`` was seen."""
    finished: bool = attrs.field(init=False, default=False)
    """``message_stop`` was seen: the response is complete."""
    error: str | None = attrs.field(init=False, default=None)
    """The ``error.type`` of an ``error`` event in the stream, if one came."""

    def feed(self, chunk: bytes) -> None:
        """Read the events ``chunk`` completes."""
        for event in self._parser.feed(chunk):
            self._event(event)

    def _event(self, event: SseEvent) -> None:
        if event.name not in ("message_start", "message_delta", "message_stop", "error"):
            return  # content deltas carry no usage: not decoded
        try:
            data = json.loads(event.data)
        except ValueError:
            return
        if not isinstance(data, dict):
            return
        match event.name:
            case "message_start":
                message = data.get("message")
                if isinstance(message, dict):
                    self.started = True
                    self._counts = _counts(message.get("usage"))
                    if isinstance(message.get("id"), str):
                        self.message_id = message["id"]
                    if isinstance(message.get("model"), str):
                        self.model = message["model"]
            case "message_delta":
                self._counts.update(_counts(data.get("usage")))
            case "message_stop":
                self.finished = True
            case _:
                error = data.get("error")
                kind = error.get("type") if isinstance(error, dict) else None
                self.error = kind if isinstance(kind, str) else "unknown"

    @property
    def usage(self) -> Usage:
        """The usage read so far (complete once :attr:`finished`)."""
        return Usage(**self._counts)
