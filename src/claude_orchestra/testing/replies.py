"""The building blocks of a scripted reply: text, tool uses, and ending a turn on a failed tool.

Used by every :class:`~claude_orchestra.testing.scripted.Script`; re-exported from
:mod:`claude_orchestra.testing.scripted`.
"""

from __future__ import annotations

from collections.abc import Sequence

from claude_orchestra.testing.messages import Block, Reply, TextBlock, ToolResult, ToolUseBlock


def text_reply(text: str) -> Reply:
    """A reply of one text block that ends the turn."""
    return Reply(blocks=(TextBlock(text=text),), stop_reason="end_turn")


def bash(command: str, description: str) -> ToolUseBlock:
    """A ``Bash`` tool use."""
    return ToolUseBlock(name="Bash", input={"command": command, "description": description})


def write(file_path: str, content: str) -> ToolUseBlock:
    """A ``Write`` tool use (``file_path`` should be absolute)."""
    return ToolUseBlock(name="Write", input={"file_path": file_path, "content": content})


def tool_reply(*blocks: Block) -> Reply:
    """A reply that asks Claude Code to run tools (``stop_reason: tool_use``)."""
    return Reply(blocks=blocks, stop_reason="tool_use")


def first_line(text: str) -> str:
    """The first non-blank line of ``text``, stripped ('' when there is none)."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def failure_reply(results: Sequence[ToolResult]) -> Reply | None:
    """A turn-ending text when any of ``results`` failed, else ``None`` (never loop)."""
    failed = [r for r in results if r.is_error]
    if not failed:
        return None
    return text_reply(f"The tool failed, so I stopped: {first_line(failed[0].text)}")
