"""Text typed into a pane carries no control characters but newline and tab.

Prompts hold text the orchestrator does not control: a task's words from the task file, a
test command's output, a worker's report. Typed into Claude Code's input box through tmux's
bracketed paste, an ``ESC[201~`` inside it would end the paste early and what follows would
arrive as real keys (Enter, Ctrl-C). :func:`plain_text` replaces every C0 control but
newline and tab, ``DEL`` and every C1 control with U+FFFD (so the reader sees that something
was there), and turns carriage returns into newlines.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
"""What each control character becomes."""

_NEWLINES = re.compile(r"\r\n?")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain_text(text: str) -> str:
    """``text`` fit to be typed: CR and CRLF become LF; other controls but tab and LF,
    ``DEL`` and C1 controls become :data:`REPLACEMENT`."""
    return _CONTROLS.sub(REPLACEMENT, _NEWLINES.sub("\n", text))
