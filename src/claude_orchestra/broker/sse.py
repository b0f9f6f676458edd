"""Reading a Messages API stream as it passes: server-sent events and the usage they carry.

:class:`SseParser` is fed the bytes of a ``text/event-stream`` body in whatever pieces
they arrive (a frame may be split anywhere, even inside a UTF-8 character or a ``\\r\\n``)
and returns each complete event. :class:`UsageMeter` keeps the usage of one response:
``message_start`` gives the input and cache counts (and a first output count),
``message_delta`` gives the cumulative counts at the end; a count the delta carries
replaces the start's. Both are pure (no I/O, no clock) and linear in the bytes fed (for
``\n`` line ends, as the API sends; ``\r\n`` ones are rewritten per chunk).
"""

from __future__ import annotations

import json
from typing import Any, final

import attrs

from claude_orchestra.costs.transcripts import Usage

MAX_EVENT_BYTES = 8 * 1024 * 1024
"""An event longer than this is skipped (its bytes pass through all the same)."""

_USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)


_USAGE_EVENTS = frozenset({"message_start", "message_delta", "message_stop", "error"})


@final
@attrs.frozen(kw_only=True)
class SseEvent:
    """One server-sent event: its ``event:`` name and its ``data:`` lines joined."""

    name: str
    data: str


@final
@attrs.define(eq=False)
class SseParser:
    """Turns stream bytes, split anywhere, into :class:`SseEvent` values.

    With ``wanted``, only events of those names are returned, and the others are skipped
    whole, their data never decoded (a streamed reply is mostly ``content_block_delta``
    events, which carry no usage). Work is per event, not per line: the bytes are cut at
    blank lines by ``bytes.split``.
    """

    wanted: frozenset[str] | None = None
    _buffer: bytearray = attrs.field(init=False, factory=bytearray)
    _skipping: bool = attrs.field(init=False, default=False)
    """The rest of an event too long to keep is being dropped."""
    _scanned: int = attrs.field(init=False, default=0)
    """How much of the buffer is known to hold no blank line (so none is searched twice)."""

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """The events that ``chunk`` completes, in order."""
        self._buffer += chunk
        if b"\r" in self._buffer:  # CRLF or CR line ends, possibly split across chunks
            text = bytes(self._buffer)
            tail = b"\r" if text.endswith(b"\r") else b""  # its \n may come next
            text = text[: len(text) - len(tail)].replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            self._buffer = bytearray(text + tail)
            self._scanned = 0  # the buffer was rewritten
        end = self._buffer.rfind(b"\n\n", max(0, self._scanned - 1))
        if end < 0:
            self._scanned = len(self._buffer)
            if len(self._buffer) > MAX_EVENT_BYTES:  # an event with no end in sight
                self._buffer.clear()
                self._scanned, self._skipping = 0, True
            return []
        self._scanned = 0
        complete = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        events = []
        for block in complete.split(b"\n\n"):
            if self._skipping:  # the end of the event that was too long
                self._skipping = False
                continue
            event = self._event(block.strip(b"\n"))
            if event is not None:
                events.append(event)
        return events

    def _event(self, block: bytes) -> SseEvent | None:
        if not block:
            return None
        first = block.partition(b"\n")[0]
        if (
            self.wanted is not None
            and first.startswith(b"event:")
            and first[6:].strip().decode("utf-8", "replace") not in self.wanted
        ):
            return None  # skipped whole: the bulk of a stream ends here
        name, data = "", []
        for line in block.split(b"\n"):
            if line.startswith(b"data:"):
                data.append(line[5:].removeprefix(b" ").decode("utf-8", "replace"))
            elif line.startswith(b"event:"):
                name = line[6:].removeprefix(b" ").decode("utf-8", "replace")
        if not (data or name):  # comments only
            return None
        name = name or "message"
        if self.wanted is not None and name not in self.wanted:
            return None
        return SseEvent(name=name, data="\n".join(data))


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

    _parser: SseParser = attrs.field(init=False, factory=lambda: SseParser(wanted=_USAGE_EVENTS))
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
