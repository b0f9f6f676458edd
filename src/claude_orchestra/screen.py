"""The labelled fallback: what an instance's screen says when its hooks have gone quiet.

Hooks are the truth. But Claude Code fires no hook while it retries a failed request, while
a request hangs, or while a dialog waits for a person; then the screen is the only witness.
:func:`read_screen` classifies a pane's text (Claude Code 2.1.328's wording, from
claude-code-facts §4-5). It is pure, and its result is always recorded as screen evidence.
"""

from __future__ import annotations

import enum
import re
from typing import final

import attrs

from claude_orchestra.auth.reset_time import parse_reset_time


class ScreenState(enum.Enum):
    """What the screen shows."""

    USAGE_LIMIT = "usage_limit"
    """A subscription limit (``You've hit your 5-hour limit``, ``Usage limit reached``)."""
    RETRYING = "retrying"
    """Claude Code is retrying a failed request by itself (``retrying in 2s · attempt 3/10``)."""
    DIALOG = "dialog"
    """A dialog that wants a person (trust, API key, bypass mode)."""
    BUSY = "busy"
    """A turn is running (``esc to interrupt``)."""
    IDLE = "idle"
    """Waiting for input."""


@final
@attrs.frozen(kw_only=True)
class ScreenReading:
    """What :func:`read_screen` found, and the line that says so."""

    state: ScreenState
    line: str
    status: int | None = None
    """For RETRYING: the HTTP status being retried (429, 529, 401...)."""
    reset_at: float | None = None
    """For USAGE_LIMIT: when the limit lifts, if the screen says."""
    tokens: int | None = None
    """For BUSY: the turn's streamed-token count on the spinner (``(5s · ↓ 57 tokens)``);
    it grows while a reply streams and stands still while a request hangs."""

    @property
    def credential_problem(self) -> bool:
        """The screen blames the credential: another one may work now."""
        return self.state is ScreenState.USAGE_LIMIT or (
            self.state is ScreenState.RETRYING and self.status in {401, 403, 429}
        )


_LIMIT = re.compile(r"You've hit your [^\n]*limit[^\n]*|Usage limit reached[^\n]*")
_RETRY = re.compile(r"(?P<status>\d{3})\b[^\n]*retrying in \d+\s*s[^\n]*attempt \d+/\d+")
_SPINNER = re.compile(r"\(\d[^()\n]*?(?:↓|↑)\s*(?P<count>[\d.]+)(?P<k>k?) tokens[^()\n]*\)")


def _count(number: str, thousands: str) -> int:
    return round(float(number) * (1000 if thousands else 1))


_DIALOGS = (
    "Do you want to use this API key?",
    "Is this a project you created or one you trust?",
    "Running in Bypass Permissions mode",
)


def read_screen(text: str, *, now: float) -> ScreenReading:
    """Classify a pane's visible text; ``now`` (epoch seconds) anchors reset times."""
    if match := _LIMIT.search(text):
        return ScreenReading(
            state=ScreenState.USAGE_LIMIT,
            line=match.group(0).strip(),
            reset_at=parse_reset_time(text[match.start() :], now=now),
        )
    if match := _RETRY.search(text):
        return ScreenReading(
            state=ScreenState.RETRYING, line=match.group(0).strip(), status=int(match["status"])
        )
    for dialog in _DIALOGS:
        if dialog in text:
            return ScreenReading(state=ScreenState.DIALOG, line=dialog)
    if "esc to interrupt" in text:
        spinner = _SPINNER.search(text)
        return ScreenReading(
            state=ScreenState.BUSY,
            line=spinner.group(0) if spinner else "esc to interrupt",
            tokens=_count(spinner["count"], spinner["k"]) if spinner else None,
        )
    return ScreenReading(state=ScreenState.IDLE, line="")
