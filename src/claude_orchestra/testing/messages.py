"""The Messages API as a script sees it: a parsed request and the reply's content blocks.

Claude Code resends the whole conversation with every request, so where a turn stands is
read from the messages themselves. The *prompt message* is the last user message holding
typed text (not only tool results or ``<system-reminder>`` blocks); the *step* is the
number of assistant messages after it. A prompt whose turn failed stays in the history, so
the prompt message can hold several typed texts: the last one is the new prompt.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal, final

import attrs

StopReason = Literal["end_turn", "tool_use"]

_CWD = re.compile(r"Primary working directory:\s*(?P<cwd>[^\n]+)")
_REMINDER = "<system-reminder>"


def _blocks(content: object) -> tuple[Mapping[str, Any], ...]:
    if isinstance(content, str):
        return ({"type": "text", "text": content},)
    if isinstance(content, list):
        return tuple(b for b in content if isinstance(b, Mapping))
    return ()


def _text_of(content: object) -> str:
    """The text of a block list or string (a tool result's ``content``)."""
    return "".join(str(b.get("text", "")) for b in _blocks(content) if b.get("type") == "text")


@final
@attrs.frozen(kw_only=True)
class ToolResult:
    """One ``tool_result`` block Claude Code sent back."""

    tool_use_id: str
    text: str
    is_error: bool


@final
@attrs.frozen(kw_only=True)
class Message:
    """One message of the conversation, its content as a tuple of raw blocks."""

    role: str
    blocks: tuple[Mapping[str, Any], ...]

    @property
    def typed_texts(self) -> tuple[str, ...]:
        """Text blocks that are not ``<system-reminder>`` context."""
        return tuple(
            str(b.get("text", ""))
            for b in self.blocks
            if b.get("type") == "text" and not str(b.get("text", "")).lstrip().startswith(_REMINDER)
        )

    @property
    def tool_results(self) -> tuple[ToolResult, ...]:
        """The ``tool_result`` blocks, in order."""
        return tuple(
            ToolResult(
                tool_use_id=str(b.get("tool_use_id", "")),
                text=_text_of(b.get("content")),
                is_error=bool(b.get("is_error", False)),
            )
            for b in self.blocks
            if b.get("type") == "tool_result"
        )

    @property
    def is_prompt(self) -> bool:
        """A user message holding typed text and no tool result."""
        return self.role == "user" and bool(self.typed_texts) and not self.tool_results


@final
@attrs.frozen(kw_only=True)
class MessagesRequest:
    """The parts of a ``POST /v1/messages`` body a script or the request log needs."""

    model: str
    messages: tuple[Message, ...]
    system: tuple[str, ...] = ()
    stream: bool = True
    max_tokens: int = 0

    @property
    def cwd(self) -> str | None:
        """``Primary working directory`` from the ``role: "system"`` message, else the
        latest message that names it: a session resumed in another folder is told
        ``<new> (was <old>)`` after the old one in its history."""
        ordered = sorted(reversed(self.messages), key=lambda m: m.role != "system")
        texts = [_text_of(list(m.blocks)) for m in ordered] + list(self.system)
        for text in texts:
            found = list(_CWD.finditer(text))
            if found:
                return found[-1]["cwd"].split(" (was ", 1)[0].strip()
        return None

    @property
    def typed_prompts(self) -> tuple[str, ...]:
        """Every typed user text in the conversation, oldest first (resumes keep them)."""
        return tuple(t for m in self.messages if m.role == "user" for t in m.typed_texts)

    @property
    def prompt_index(self) -> int | None:
        """Index in :attr:`messages` of the prompt message, or ``None``."""
        for index in range(len(self.messages) - 1, -1, -1):
            if self.messages[index].is_prompt:
                return index
        return None

    @property
    def prompt(self) -> str | None:
        """The prompt message's typed texts joined by newlines (earlier failed prompts too)."""
        index = self.prompt_index
        return None if index is None else "\n".join(self.messages[index].typed_texts)

    @property
    def last_user_text(self) -> str | None:
        """The last typed text block of the prompt message: what was just typed."""
        index = self.prompt_index
        return None if index is None else self.messages[index].typed_texts[-1]

    @property
    def step(self) -> int:
        """Assistant messages since the prompt message: how far the turn has gone."""
        index = self.prompt_index
        after = self.messages if index is None else self.messages[index + 1 :]
        return sum(1 for m in after if m.role == "assistant")

    @property
    def turn_results(self) -> tuple[ToolResult, ...]:
        """Every tool result since the prompt message, in order."""
        index = self.prompt_index
        after = self.messages if index is None else self.messages[index + 1 :]
        return tuple(r for m in after if m.role == "user" for r in m.tool_results)

    @property
    def new_results(self) -> tuple[ToolResult, ...]:
        """The tool results in the last message (what the model has not answered yet)."""
        if not self.messages or self.messages[-1].role != "user":
            return ()
        return self.messages[-1].tool_results


def parse_request(body: Mapping[str, Any]) -> MessagesRequest:
    """Parse a Messages API body; unknown or malformed parts are left out, never fatal.

    Raises:
        ValueError: ``body`` has no ``messages`` list.
    """
    raw = body.get("messages")
    if not isinstance(raw, list):
        raise ValueError("messages: must be a list")  # noqa: TRY004 (bad input, not a bug)
    messages = tuple(
        Message(role=str(m.get("role", "")), blocks=_blocks(m.get("content")))
        for m in raw
        if isinstance(m, Mapping)
    )
    system = body.get("system")
    max_tokens = body.get("max_tokens")
    return MessagesRequest(
        model=str(body.get("model", "")),
        messages=messages,
        system=tuple(str(b.get("text", "")) for b in _blocks(system)),
        stream=body.get("stream") is True,
        max_tokens=max_tokens if isinstance(max_tokens, int) else 0,
    )


@final
@attrs.frozen(kw_only=True)
class TextBlock:
    """A text content block of a reply."""

    text: str


@final
@attrs.frozen(kw_only=True)
class ToolUseBlock:
    """A ``tool_use`` block; the server gives it an id (``toolu_fake_<n>_<i>``)."""

    name: str
    input: Mapping[str, Any]


Block = TextBlock | ToolUseBlock


def _block_tuple(blocks: Iterable[Block]) -> tuple[Block, ...]:
    return tuple(blocks)


def _stop_reason(blocks: tuple[Block, ...]) -> StopReason:
    return "tool_use" if any(isinstance(b, ToolUseBlock) for b in blocks) else "end_turn"


@final
@attrs.frozen(kw_only=True)
class Reply:
    """What the model answers: content blocks and why it stopped."""

    blocks: tuple[Block, ...] = attrs.field(converter=_block_tuple)
    stop_reason: StopReason = attrs.field()

    @stop_reason.default
    def _default_stop_reason(self) -> StopReason:
        return _stop_reason(self.blocks)
