"""What the broker reads off an answer as it passes: its usage, model, id and size.

A streamed answer (``text/event-stream``) is read by a
:class:`~claude_orchestra.broker.sse.UsageMeter` as it passes; a whole message's JSON is
kept (up to :data:`MAX_MESSAGE_BYTES`) and read once it ended. Pure: no I/O, no clock.
"""

from __future__ import annotations

import json
from typing import final

import attrs

from claude_orchestra.broker.sse import UsageMeter
from claude_orchestra.costs.transcripts import Usage

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
"""The most of a whole (non-streamed) message kept to read its usage."""


@final
@attrs.frozen(kw_only=True)
class Read:
    """What an answer said of itself."""

    usage: Usage | None = None
    model: str | None = None
    message_id: str | None = None
    error: str | None = None
    """``stream:<type>`` for an error event mid-stream, ``cut`` for a stream that ended
    before ``message_stop``; ``None`` otherwise."""


@final
@attrs.define(eq=False)
class AnswerReader:
    """Fed an answer's body in pieces as it passes; :meth:`read` says what it held."""

    streamed: bool
    """The answer is a ``text/event-stream``."""
    size: int = attrs.field(init=False, default=0)
    """Bytes fed so far."""
    _meter: UsageMeter = attrs.field(init=False, factory=UsageMeter)
    _whole: bytearray = attrs.field(init=False, factory=bytearray)

    def feed(self, data: bytes) -> None:
        """The next piece of the body."""
        self.size += len(data)
        if self.streamed:
            self._meter.feed(data)
        elif len(self._whole) < MAX_MESSAGE_BYTES:
            self._whole += data

    def read(self) -> Read:
        """What the body fed so far says (complete when the answer ended)."""
        if not self.streamed:
            return message_read(bytes(self._whole))
        meter = self._meter
        error = f"stream:{meter.error}" if meter.error else None
        return Read(
            usage=meter.usage if meter.started else None,
            model=meter.model,
            message_id=meter.message_id,
            error=error if meter.finished else error or "cut",
        )


def message_read(body: bytes) -> Read:
    """The usage, model and id of a whole (non-streamed) message."""
    try:
        data = json.loads(body)
    except ValueError:
        return Read()
    if not isinstance(data, dict):
        return Read()
    usage, model, message_id = data.get("usage"), data.get("model"), data.get("id")
    return Read(
        usage=Usage.from_api(usage) if isinstance(usage, dict) else None,
        model=model if isinstance(model, str) else None,
        message_id=message_id if isinstance(message_id, str) else None,
    )
