"""What the broker reads off an answer: a stream cut short, an error event, a whole message."""

from __future__ import annotations

import json

from claude_orchestra.broker.reading import MAX_MESSAGE_BYTES, AnswerReader, Read, message_read
from claude_orchestra.costs.transcripts import Usage
from claude_orchestra.testing.sse import frame


def test_a_stream_that_ends_before_message_stop_is_cut() -> None:
    reader = AnswerReader(streamed=True)
    start = {"id": "msg_1", "model": "m", "usage": {"input_tokens": 3, "output_tokens": 1}}
    reader.feed(frame("message_start", {"type": "message_start", "message": start}))
    assert reader.read() == Read(
        usage=Usage(input_tokens=3, output_tokens=1), model="m", message_id="msg_1", error="cut"
    )
    reader.feed(frame("error", {"type": "error", "error": {"type": "overloaded_error"}}))
    assert reader.read().error == "stream:overloaded_error"
    assert AnswerReader(streamed=True).read() == Read(error="cut")  # nothing came


def test_a_whole_message_is_read_once_it_ended_and_kept_only_up_to_its_cap() -> None:
    body = json.dumps({"id": "msg_2", "model": "m", "usage": {"output_tokens": 7}}).encode()
    reader = AnswerReader(streamed=False)
    for n in range(0, len(body), 5):
        reader.feed(body[n : n + 5])
    assert reader.read() == Read(usage=Usage(output_tokens=7), model="m", message_id="msg_2")
    huge = AnswerReader(streamed=False)
    huge.feed(b" " * MAX_MESSAGE_BYTES)
    huge.feed(body)
    assert huge.size == MAX_MESSAGE_BYTES + len(body)
    assert huge.read() == Read()  # past the cap: not read, but passed on all the same


def test_a_body_that_is_not_a_message_reads_as_nothing() -> None:
    assert message_read(b"not json") == Read()
    assert message_read(b"[1, 2]") == Read()
    assert message_read(b'{"usage": 3, "model": 4, "id": null}') == Read()
