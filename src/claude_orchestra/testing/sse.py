"""The wire side of the fake Messages API: usage figures, message JSON, SSE frames, errors.

Usage is deterministic: the prompt's size in characters over four, of which half is
reported as read from the prompt cache and an eighth as written to it, and the reply's
size over four as output. ``message_start`` and ``message_delta`` carry the same full
usage, so whatever event Claude Code takes its figures from, it records what the fake
counted (one API response = one usage, however many transcript lines repeat it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, final

import attrs

from claude_orchestra.costs.transcripts import Usage
from claude_orchestra.testing.messages import Reply, TextBlock, ToolUseBlock

_TEXT_CHUNK = 24


def usage_for(body: Mapping[str, Any], reply: Reply) -> Usage:
    """The usage served for ``reply`` to a request with ``body`` (deterministic)."""
    prompt = json.dumps([body.get("system"), body.get("messages")], sort_keys=True)
    prompt_tokens = max(1, len(prompt) // 4)
    cache_read = prompt_tokens // 2
    cache_creation = prompt_tokens // 8
    output = json.dumps(content_json(reply, "toolu_x"), sort_keys=True)
    return Usage(
        input_tokens=prompt_tokens - cache_read - cache_creation,
        output_tokens=max(1, len(output) // 4),
        cache_creation_input_tokens=cache_creation,
        cache_read_input_tokens=cache_read,
    )


def usage_json(usage: Usage) -> dict[str, Any]:
    """``usage`` as the API writes it."""
    return {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage.cache_creation_input_tokens,
            "ephemeral_1h_input_tokens": 0,
        },
        "output_tokens": usage.output_tokens,
        "service_tier": "standard",
    }


def content_json(reply: Reply, tool_id_prefix: str) -> list[dict[str, Any]]:
    """The reply's content blocks as JSON; tool uses get ids ``<prefix>_<index>``."""
    blocks: list[dict[str, Any]] = []
    for index, block in enumerate(reply.blocks):
        match block:
            case TextBlock(text=text):
                blocks.append({"type": "text", "text": text})
            case ToolUseBlock(name=name, input=tool_input):
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": f"{tool_id_prefix}_{index}",
                        "name": name,
                        "input": dict(tool_input),
                    }
                )
    return blocks


@final
@attrs.frozen(kw_only=True)
class Envelope:
    """What the server adds to a script's reply: ids, model and usage."""

    message_id: str
    model: str
    usage: Usage
    tool_id_prefix: str
    """Tool uses get ids ``<prefix>_<block index>``."""


def message_json(reply: Reply, envelope: Envelope) -> dict[str, Any]:
    """The whole message, as a non-streaming reply's body."""
    return {
        "id": envelope.message_id,
        "type": "message",
        "role": "assistant",
        "model": envelope.model,
        "content": content_json(reply, envelope.tool_id_prefix),
        "stop_reason": reply.stop_reason,
        "stop_sequence": None,
        "usage": usage_json(envelope.usage),
    }


def frame(event: str, data: Mapping[str, Any]) -> bytes:
    """One server-sent event: ``event: <name>\\ndata: <json>\\n\\n``."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _chunks(text: str, size: int) -> Iterator[str]:
    for start in range(0, len(text), size):
        yield text[start : start + size]


def _block_frames(
    index: int, block: dict[str, Any], input_chunk: int | None
) -> Iterator[tuple[bytes, int]]:
    start: dict[str, Any]
    if block["type"] == "text":
        start = {"type": "text", "text": ""}
        chunk = input_chunk or _TEXT_CHUNK
        deltas = [{"type": "text_delta", "text": c} for c in list(_chunks(block["text"], chunk))]
        deltas = deltas or [{"type": "text_delta", "text": ""}]
        sizes = [len(d["text"]) for d in deltas]
    else:
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        partial = json.dumps(block["input"])
        pieces = [partial] if input_chunk is None else list(_chunks(partial, input_chunk))
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces]
        sizes = [len(p) for p in pieces]
    yield (
        frame(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": start},
        ),
        0,
    )
    for delta, size in zip(deltas, sizes, strict=True):
        yield (
            frame(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            ),
            size,
        )
    yield frame("content_block_stop", {"type": "content_block_stop", "index": index}), 0


def sized_frames(
    reply: Reply, envelope: Envelope, *, chunk: int | None = None
) -> Iterator[tuple[bytes, int]]:
    """The SSE frames of a streamed reply, each with the characters of output it carries.

    Args:
        reply: what the script answered.
        envelope: ids, model and usage.
        chunk: characters per delta for text and tool input alike; ``None``: text in
            24-character deltas and each tool input in one delta.
    """
    message = message_json(reply, envelope)
    content = message["content"]
    yield (
        frame(
            "message_start",
            {
                "type": "message_start",
                "message": {**message, "content": [], "stop_reason": None},
            },
        ),
        0,
    )
    yield frame("ping", {"type": "ping"}), 0
    for index, block in enumerate(content):
        yield from _block_frames(index, block, chunk)
    yield (
        frame(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
                "usage": usage_json(envelope.usage),
            },
        ),
        0,
    )
    yield frame("message_stop", {"type": "message_stop"}), 0


def stream_frames(reply: Reply, envelope: Envelope) -> Iterator[bytes]:
    """The SSE frames of a streamed reply, in the order the real API sends them."""
    for data, _ in sized_frames(reply, envelope):
        yield data


def output_chars(reply: Reply) -> int:
    """Characters of text and tool input in ``reply`` (what a stream of it carries)."""
    return sum(
        len(block.text) if isinstance(block, TextBlock) else len(json.dumps(dict(block.input)))
        for block in reply.blocks
    )


def error_json(error_type: str, message: str) -> dict[str, Any]:
    """An API error body: ``{"type": "error", "error": {"type": ..., "message": ...}}``."""
    return {"type": "error", "error": {"type": error_type, "message": message}}
