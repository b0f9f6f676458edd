"""Model-like latency for the fake Messages API: a wait for the first token, then a stream.

A real model answers after a time to first token (about 1 to 3 s) and then streams its
output at some tens of tokens per second, so a Claude Code process spends most of a turn
waiting. :class:`Latency` gives the fake that shape: each request draws a :class:`Pace`
(its time to first token and its output rate) from uniform distributions between fixed
bounds, seeded by :attr:`Latency.seed` and the request's arrival number, so the n-th
request of a run always gets the same pace whatever the timing of the others. The pace
says how long to wait before each frame of the reply: the time to first token before the
first, and each frame's tokens (its characters over four, as the usage counts them) at the
drawn rate. Only the timing changes: the frames, their order and the usage served are the
same as without latency, except that tool inputs are split over several deltas as the
real API sends them.

Pure values, no clock: :class:`~claude_orchestra.testing.fake_api.FakeAnthropicAPI` does
the waiting.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import final

import attrs

__all__ = ["CHARS_PER_TOKEN", "Latency", "Pace"]

CHARS_PER_TOKEN = 4
"""Characters per token, as :func:`~claude_orchestra.testing.sse.usage_for` counts them."""


def _bounds(value: tuple[float, float]) -> tuple[float, float]:
    low, high = (float(v) for v in value)
    return low, high


def _check_bounds(
    _: object, attribute: attrs.Attribute[tuple[float, float]], value: tuple[float, float]
) -> None:
    low, high = value
    if not 0 <= low <= high:
        raise ValueError(f"{attribute.name}: need 0 <= low <= high, got {value}")


def _check_rate(
    _: object, attribute: attrs.Attribute[tuple[float, float]], value: tuple[float, float]
) -> None:
    if value[0] <= 0:
        raise ValueError(f"{attribute.name}: the lowest rate must be > 0, got {value}")


@final
@attrs.frozen(kw_only=True)
class Pace:
    """One reply's timing: seconds to the first token, then output tokens per second."""

    first_token: float
    tokens_per_second: float

    def seconds_for(self, chars: int) -> float:
        """Seconds to stream ``chars`` characters of output at this pace."""
        return chars / CHARS_PER_TOKEN / self.tokens_per_second

    def delays(self, chars: Sequence[int]) -> tuple[float, ...]:
        """Seconds to wait before each frame, given each frame's characters of output.

        The first frame waits the time to first token (plus its own output, if any);
        every frame waits for its own tokens, so frames without output (block starts and
        stops, ``message_delta``) follow at once.
        """
        return tuple(
            (self.first_token if index == 0 else 0.0) + self.seconds_for(size)
            for index, size in enumerate(chars)
        )

    def total(self, chars: int) -> float:
        """Seconds before a non-streamed reply of ``chars`` output characters is sent."""
        return self.first_token + self.seconds_for(chars)


@final
@attrs.frozen(kw_only=True)
class Latency:
    """Model-like latency: a seeded, bounded draw per request.

    Attributes:
        first_token: seconds from the request to the first frame, drawn uniformly
            between these bounds.
        tokens_per_second: output rate, drawn uniformly between these bounds.
        seed: with the request's arrival number, decides every draw.
        chunk_chars: characters of text or tool input per ``content_block_delta`` frame.
    """

    first_token: tuple[float, float] = attrs.field(
        default=(1.0, 3.0), converter=_bounds, validator=_check_bounds
    )
    tokens_per_second: tuple[float, float] = attrs.field(
        default=(30.0, 80.0), converter=_bounds, validator=[_check_bounds, _check_rate]
    )
    seed: int = 0
    chunk_chars: int = attrs.field(default=24, validator=attrs.validators.ge(1))

    def pace(self, number: int) -> Pace:
        """The pace of the ``number``-th request (1-based arrival order); deterministic."""
        draw = random.Random(f"claude-orchestra-latency:{self.seed}:{number}")  # noqa: S311 (timing, not secrets)
        return Pace(
            first_token=draw.uniform(*self.first_token),
            tokens_per_second=draw.uniform(*self.tokens_per_second),
        )
