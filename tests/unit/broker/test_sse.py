"""The broker's stream parser: every split of a stream gives the same events and usage."""

from __future__ import annotations

import itertools
import json

from hypothesis import given, note
from hypothesis import strategies as st

from claude_orchestra.broker.reading import AnswerReader, Read
from claude_orchestra.broker.sse import MAX_EVENT_BYTES, SseEvent, SseParser, UsageMeter
from claude_orchestra.costs.transcripts import Usage
from claude_orchestra.testing.messages import Reply, TextBlock, ToolUseBlock
from claude_orchestra.testing.sse import Envelope, frame, sized_frames

_counts = st.integers(0, 10**7)
usages = st.builds(
    Usage,
    input_tokens=_counts,
    output_tokens=_counts,
    cache_creation_input_tokens=_counts,
    cache_read_input_tokens=_counts,
)
texts = st.text(min_size=0, max_size=80)  # any character, multi-byte ones included
blocks = st.one_of(
    st.builds(TextBlock, text=texts),
    st.builds(ToolUseBlock, name=st.just("Bash"), input=st.fixed_dictionaries({"command": texts})),
)
replies = st.lists(blocks, min_size=1, max_size=4).map(lambda b: Reply(blocks=tuple(b)))


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at every offset in ``cuts`` (any offset: mid-line, mid-character)."""
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def stream(reply: Reply, usage: Usage, *, crlf: bool) -> bytes:
    envelope = Envelope(message_id="msg_1", model="m", usage=usage, tool_id_prefix="toolu")
    data = b"".join(f for f, _ in sized_frames(reply, envelope, chunk=7))
    return data.replace(b"\n", b"\r\n") if crlf else data


@given(replies, usages, st.lists(st.integers(0, 10**6), max_size=40), st.booleans())
def test_usage_is_the_same_however_the_stream_is_split(
    reply: Reply, usage: Usage, cuts: list[int], crlf: bool
) -> None:
    data = stream(reply, usage, crlf=crlf)
    pieces = split(data, cuts)
    note(f"{len(pieces)} pieces")
    meter = UsageMeter()
    for piece in pieces:
        meter.feed(piece)
    assert meter.usage == usage
    assert (meter.started, meter.finished, meter.message_id, meter.error) == (
        True,
        True,
        "msg_1",
        None,
    )
    # the broker's reader, fed the same pieces coalesced at other cuts, reads the same
    reader = AnswerReader(streamed=True)
    for batch in split(data, cuts[::2]):
        reader.feed(batch)
    assert reader.read() == Read(usage=usage, model="m", message_id="msg_1", error=None)
    assert reader.size == len(data)


@given(replies, usages, st.lists(st.integers(0, 10**6), max_size=40))
def test_events_are_the_same_however_the_stream_is_split(
    reply: Reply, usage: Usage, cuts: list[int]
) -> None:
    data = stream(reply, usage, crlf=False)
    whole = SseParser().feed(data)
    parser = SseParser()
    pieces = [e for piece in split(data, cuts) for e in parser.feed(piece)]
    assert pieces == whole
    assert [e.name for e in whole][:2] == ["message_start", "ping"]
    assert all(json.loads(e.data)["type"] == e.name for e in whole)


@given(usages, usages)
def test_the_delta_counts_replace_the_start_counts(start: Usage, end: Usage) -> None:
    meter = UsageMeter()
    start_usage = {
        "input_tokens": start.input_tokens,
        "output_tokens": start.output_tokens,
        "cache_creation_input_tokens": start.cache_creation_input_tokens,
        "cache_read_input_tokens": start.cache_read_input_tokens,
    }
    meter.feed(
        frame(
            "message_start", {"type": "message_start", "message": {"id": "m", "usage": start_usage}}
        )
    )
    # the real API's delta carries the cumulative output count (and sometimes the rest)
    meter.feed(
        frame(
            "message_delta",
            {"type": "message_delta", "usage": {"output_tokens": end.output_tokens}},
        )
    )
    assert meter.usage == Usage(
        input_tokens=start.input_tokens,
        output_tokens=end.output_tokens,
        cache_creation_input_tokens=start.cache_creation_input_tokens,
        cache_read_input_tokens=start.cache_read_input_tokens,
    )
    assert not meter.finished


def test_an_error_event_mid_stream_is_named() -> None:
    meter = UsageMeter()
    meter.feed(frame("message_start", {"type": "message_start", "message": {"id": "m"}}))
    meter.feed(frame("error", {"type": "error", "error": {"type": "overloaded_error"}}))
    assert meter.error == "overloaded_error"
    assert not meter.finished


def test_comments_multi_line_data_and_bad_json_are_handled() -> None:
    events = SseParser().feed(b": keep-alive\n\nevent: x\ndata: a\ndata: b\n\ndata: c\n\n")
    assert events == [SseEvent(name="x", data="a\nb"), SseEvent(name="message", data="c")]
    meter = UsageMeter()
    meter.feed(b"event: message_start\ndata: {not json\n\n")
    assert not meter.started


def test_an_endless_line_is_dropped_without_growing() -> None:
    parser = SseParser()
    for _ in range(3):
        assert parser.feed(b"x" * (MAX_EVENT_BYTES // 2)) == []
    assert parser.feed(b"\n\nevent: ok\ndata: 1\n\n") == [SseEvent(name="ok", data="1")]


@given(replies, usages, st.lists(st.integers(0, 10**6), max_size=40))
def test_a_parser_that_wants_usage_events_returns_only_those(
    reply: Reply, usage: Usage, cuts: list[int]
) -> None:
    data = stream(reply, usage, crlf=False)
    wanted = frozenset({"message_start", "message_delta"})
    expected = [e for e in SseParser().feed(data) if e.name in wanted]
    parser = SseParser(wanted=wanted)
    assert [e for piece in split(data, cuts) for e in parser.feed(piece)] == expected
