"""The fake Messages API over real HTTP: frames, errors, faults, the log and the control API."""

from __future__ import annotations

import concurrent.futures
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import attrs
import httpx
import pytest
from starlette.testclient import TestClient

from claude_orchestra.auth.credentials import Secret
from claude_orchestra.costs.transcripts import Usage
from claude_orchestra.testing.fake_api import (
    FakeAnthropicAPI,
    Fault,
    FaultKind,
    Latency,
    main,
)
from claude_orchestra.testing.fake_app import create_app
from claude_orchestra.testing.faults import FaultBook
from claude_orchestra.testing.ledger import RequestLedger
from claude_orchestra.testing.scripted import EchoScript, Script

KEY = "sk-ant-test-alice-0001"
HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}


def messages_body(prompt: str, *, stream: bool = True) -> dict[str, Any]:
    return {
        "model": "claude-test-1",
        "max_tokens": 1000,
        "stream": stream,
        "system": [{"type": "text", "text": "system prompt"}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": prompt}]},
            {"role": "system", "content": " - Primary working directory: /w/x\n"},
        ],
    }


def sse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    """Parse ``event:``/``data:`` frames; every frame must be exactly two lines."""
    events = []
    for chunk in text.split("\n\n"):
        if not chunk:
            continue
        event_line, data_line = chunk.split("\n")
        assert event_line.startswith("event: ")
        assert data_line.startswith("data: ")
        data = json.loads(data_line.removeprefix("data: "))
        assert data["type"] == event_line.removeprefix("event: ")
        events.append((data["type"], data))
    return events


@pytest.fixture
def fake() -> Iterator[FakeAnthropicAPI]:
    with FakeAnthropicAPI(script=EchoScript()) as api:
        api.register("alice", KEY)
        yield api


@pytest.fixture
def client(fake: FakeAnthropicAPI) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.base_url, timeout=10) as http:
        yield http


def post(
    client: httpx.Client, prompt: str, *, stream: bool = True, headers: dict[str, str] = HEADERS
) -> httpx.Response:
    return client.post(
        "/v1/messages?beta=true", json=messages_body(prompt, stream=stream), headers=headers
    )


def test_a_text_reply_streams_the_frames_claude_code_expects(
    fake: FakeAnthropicAPI, client: httpx.Client
) -> None:
    response = post(client, "say hi")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    start = events[0][1]["message"]
    assert start["model"] == "claude-test-1"
    assert start["content"] == []
    text = "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta")
    assert text == "echo: say hi"
    delta = events[-2][1]
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"] == start["usage"]  # the same full usage in both

    [record] = fake.requests
    assert record.credential == "alice"
    assert record.path == "/v1/messages"
    assert record.model == "claude-test-1"
    assert record.last_user_text == "say hi"
    assert record.cwd == "/w/x"
    assert record.status == 200
    assert record.message_id == start["id"]
    assert response.headers["request-id"].startswith("req_fake_")
    assert record.usage == Usage.from_api(delta["usage"])
    assert fake.served_usage() == record.usage


def test_a_tool_use_starts_with_empty_input_and_gets_one_json_delta(
    client: httpx.Client,
) -> None:
    events = sse_events(post(client, "run: ls -la").text)
    start = next(d for n, d in events if n == "content_block_start")
    assert start["content_block"]["type"] == "tool_use"
    assert start["content_block"]["name"] == "Bash"
    assert start["content_block"]["input"] == {}
    assert start["content_block"]["id"].startswith("toolu_fake_")
    [delta] = [d["delta"] for n, d in events if n == "content_block_delta"]
    assert delta["type"] == "input_json_delta"
    assert json.loads(delta["partial_json"])["command"] == "ls -la"
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_stream_false_gets_the_message_json(fake: FakeAnthropicAPI, client: httpx.Client) -> None:
    response = post(client, "run: true", stream=False)
    message = response.json()
    assert message["type"] == "message"
    assert message["stop_reason"] == "tool_use"
    assert message["content"][0]["input"]["command"] == "true"
    assert fake.served_usage() == Usage.from_api(message["usage"])


def test_usage_is_deterministic_and_counted_once_per_response(
    fake: FakeAnthropicAPI, client: httpx.Client
) -> None:
    first = post(client, "same", stream=False).json()["usage"]
    second = post(client, "same", stream=False).json()["usage"]
    assert first == second
    assert first["cache_read_input_tokens"] > 0
    assert first["cache_creation_input_tokens"] > 0
    assert fake.served_usage() == Usage.from_api(first) + Usage.from_api(second)


def test_other_paths_and_bad_bodies_get_api_shaped_errors(client: httpx.Client) -> None:
    missing = client.get("/v1/models", headers=HEADERS)
    assert missing.status_code == 404
    assert missing.json()["type"] == "error"
    assert missing.json()["error"]["type"] == "not_found_error"
    bad = client.post("/v1/messages", content=b"{nope", headers=HEADERS)
    assert bad.status_code == 400
    assert bad.json()["error"]["type"] == "invalid_request_error"


def test_callers_are_named_never_shown(fake: FakeAnthropicAPI, client: httpx.Client) -> None:
    fake.register("bob", Secret("sk-ant-oat01-bob-token"))
    post(client, "a", headers={"authorization": "Bearer sk-ant-oat01-bob-token"})
    post(client, "b", headers={"x-api-key": "sk-ant-unknown-9876"})
    anonymous = post(client, "c", headers={})
    assert [r.credential for r in fake.requests] == ["bob", "...9876", "<none>"]
    assert [r.status for r in fake.requests] == [200, 401, 401]
    assert anonymous.status_code == 401
    assert fake.credential_name_for(KEY) == "alice"
    assert fake.credential_name_for("sk-other-wxyz") == "...wxyz"
    assert "sk-ant" not in repr(fake.requests)


def test_an_unregistered_key_gets_the_apis_401_unless_any_key_is_accepted(
    fake: FakeAnthropicAPI, client: httpx.Client
) -> None:
    stranger = {"x-api-key": "sk-ant-nobody-registered-4321"}
    refused = post(client, "x", headers=stranger)
    assert refused.status_code == 401
    assert refused.json() == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid x-api-key"},
    }
    assert refused.headers["request-id"].startswith("req_fake_")
    bearer = post(client, "x", headers={"authorization": "Bearer sk-ant-oat01-nobody"})
    assert bearer.status_code == 401
    assert fake.served_usage() == Usage()  # nothing was served to either
    fake.accept_unknown_keys = True
    assert post(client, "x", headers=stranger).status_code == 200
    fake.accept_unknown_keys = False
    fake.register("stranger", stranger["x-api-key"])
    assert post(client, "x", headers=stranger).status_code == 200
    assert [(r.credential, r.status) for r in fake.requests] == [
        ("...4321", 401),
        ("...body", 401),
        ("...4321", 200),
        ("stranger", 200),
    ]


def test_rate_limit_for_one_caller_a_number_of_times(
    fake: FakeAnthropicAPI, client: httpx.Client
) -> None:
    fake.register("bob", "sk-someone-else")
    fake.inject("alice", Fault.rate_limit(retry_after=3600, should_retry=False), times=2)
    other = post(client, "x", headers={"x-api-key": "sk-someone-else"})
    limited = [post(client, "x") for _ in range(2)]
    after = post(client, "x")
    assert other.status_code == 200
    assert [r.status_code for r in limited] == [429, 429]
    assert limited[0].headers["retry-after"] == "3600"
    assert limited[0].headers["x-should-retry"] == "false"
    assert limited[0].headers["request-id"].startswith("req_fake_")
    assert limited[0].json()["error"]["type"] == "rate_limit_error"
    assert after.status_code == 200
    assert [r.fault for r in fake.requests] == [
        None,
        FaultKind.RATE_LIMIT,
        FaultKind.RATE_LIMIT,
        None,
    ]
    assert fake.served_usage() == sum(
        (r.usage for r in fake.requests if r.usage is not None), Usage()
    )
    assert fake.requests[1].usage is None


@pytest.mark.parametrize(
    ("fault", "status", "kind"),
    [
        (Fault.overloaded(), 529, "overloaded_error"),
        (Fault.auth(), 401, "authentication_error"),
        (Fault.usage_limit(reset_at=1_900_000_000.5), 429, "rate_limit_error"),
    ],
)
def test_error_faults(
    fake: FakeAnthropicAPI, client: httpx.Client, fault: Fault, status: int, kind: str
) -> None:
    fake.inject("*", fault)
    response = post(client, "x")
    assert response.status_code == status
    assert response.json()["type"] == "error"
    assert response.json()["error"]["type"] == kind
    if fault.kind is FaultKind.USAGE_LIMIT:
        assert response.headers["anthropic-ratelimit-unified-status"] == "rejected"
        assert response.headers["anthropic-ratelimit-unified-reset"] == "1900000000"
        assert response.headers["anthropic-ratelimit-unified-representative-claim"] == "five_hour"
    assert post(client, "again").status_code == status, "no count: forever"
    fake.clear_faults()
    assert post(client, "again").status_code == 200


def test_a_rule_ends_at_its_until_time(fake: FakeAnthropicAPI, client: httpx.Client) -> None:
    fake.inject("*", Fault.overloaded(), until=time.time() - 1)
    assert post(client, "x").status_code == 200
    assert fake.faults() == ()


def test_a_hang_holds_the_request_until_released(
    fake: FakeAnthropicAPI, client: httpx.Client
) -> None:
    fake.inject("alice", Fault.hang(), times=1)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(post, client, "wait")
        hung = fake.wait_for_request(lambda r: r.fault is FaultKind.HANG)
        assert hung.status is None
        assert not pending.done()
        fake.release_hangs()
        response = pending.result(timeout=10)
    assert response.status_code == 200
    assert fake.requests[0].status == 200


def test_a_hang_ends_with_its_rule_and_a_gone_client_is_served_nothing(
    fake: FakeAnthropicAPI,
) -> None:
    fake.inject("*", Fault.hang(), until=time.time() + 1.0)
    with httpx.Client(base_url=fake.base_url, timeout=0.3) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            post(impatient, "x")
        gone = fake.wait_for_request(lambda r: r.status is not None, timeout=10)
    assert gone.status == 499
    assert gone.usage is None
    assert fake.served_usage() == Usage()


def test_slow_replies_space_their_frames(fake: FakeAnthropicAPI, client: httpx.Client) -> None:
    fake.inject("*", Fault.slow(0.05), times=1)
    started = time.monotonic()
    frames = len(sse_events(post(client, "slowly").text))
    assert time.monotonic() - started >= 0.05 * (frames - 1)
    assert fake.requests[0].fault is FaultKind.SLOW


LONG_COMMAND = "run: printf '%s\\n' " + " ".join(f"word-{n}" for n in range(30))


@attrs.define
class RecordedWaits:
    """The fake's injected sleep: records each wait and returns at once."""

    waits: list[float] = attrs.Factory(list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def latency_app(latency: Latency | None, waits: RecordedWaits) -> tuple[TestClient, RequestLedger]:
    ledger = RequestLedger()
    ledger.register("alice", KEY)

    async def no_hang(_: float | None) -> None:
        return None

    app = create_app(
        script=EchoScript,
        ledger=ledger,
        faults=FaultBook(),
        ids=lambda n: (f"msg_fake_t_{n}", f"req_fake_t_{n}"),
        wait_hang=no_hang,
        release_hangs=lambda: None,
        latency=lambda: latency,
        sleep=waits,
    )
    return TestClient(app), ledger


def test_latency_waits_for_the_first_token_then_streams_each_delta_at_the_drawn_rate() -> None:
    latency = Latency(seed=3)
    waits = RecordedWaits()
    client, ledger = latency_app(latency, waits)
    with client:
        response = client.post("/v1/messages", json=messages_body(LONG_COMMAND), headers=HEADERS)
    events = sse_events(response.text)
    deltas = [d["delta"]["partial_json"] for n, d in events if n == "content_block_delta"]
    assert len(deltas) > 3, "the tool input is streamed over several frames, not one"
    assert max(len(d) for d in deltas) <= latency.chunk_chars
    assert json.loads("".join(deltas))["command"].startswith("printf")
    pace = latency.pace(1)
    assert 1.0 <= pace.first_token <= 3.0
    assert 30 <= pace.tokens_per_second <= 80
    assert len(waits.waits) == 1 + len(deltas), "one wait for the first token, one per delta"
    assert waits.waits[0] == pace.first_token
    assert waits.waits[1:] == [pace.seconds_for(len(d)) for d in deltas]
    assert sum(waits.waits) == pytest.approx(pace.total(sum(len(d) for d in deltas)))
    assert ledger.requests[0].status == 200


def test_a_non_streamed_reply_waits_its_whole_time_once() -> None:
    latency = Latency(seed=4)
    waits = RecordedWaits()
    client, _ = latency_app(latency, waits)
    with client:
        body = messages_body("say hi", stream=False)
        message = client.post("/v1/messages", json=body, headers=HEADERS).json()
    assert message["content"][0]["text"] == "echo: say hi"
    assert waits.waits == [latency.pace(1).total(len("echo: say hi"))]


def test_latency_changes_the_timing_only_not_the_reply_or_the_usage() -> None:
    served = []
    for latency in (None, Latency(seed=5)):
        waits = RecordedWaits()
        client, ledger = latency_app(latency, waits)
        with client:
            texts = [
                client.post("/v1/messages", json=messages_body(p), headers=HEADERS).text
                for p in ("say hi", LONG_COMMAND)
            ]
        assert bool(waits.waits) is (latency is not None)
        replies = []
        for text in texts:
            events = sse_events(text)
            pieces = [d["delta"] for n, d in events if n == "content_block_delta"]
            replies.append("".join(p.get("text", p.get("partial_json", "")) for p in pieces))
            usage = Usage.from_api(events[-2][1]["usage"])
            assert usage == Usage.from_api(events[0][1]["message"]["usage"])
        served.append((replies, ledger.served_usage()))
        assert ledger.served_usage() == sum(
            (r.usage for r in ledger.requests if r.usage is not None), Usage()
        )
    assert served[0] == served[1]


def test_a_served_stream_with_latency_takes_at_least_its_drawn_time() -> None:
    latency = Latency(first_token=(0.05, 0.1), tokens_per_second=(2000, 4000), seed=6)
    with FakeAnthropicAPI(script=EchoScript(), latency=latency) as fake:
        fake.register("alice", KEY)
        with httpx.Client(base_url=fake.base_url, timeout=10) as http:
            started = time.monotonic()
            events = sse_events(post(http, LONG_COMMAND).text)
            elapsed = time.monotonic() - started
        deltas = [d["delta"]["partial_json"] for n, d in events if n == "content_block_delta"]
        assert len(deltas) > 3
        assert elapsed >= latency.pace(1).total(sum(len(d) for d in deltas))
        [record] = fake.requests
        assert fake.served_usage() == record.usage == Usage.from_api(events[-2][1]["usage"])


@pytest.mark.parametrize(
    "argv",
    [
        ["--first-token", "3-1"],
        ["--tokens-per-second", "0-5"],
        ["--first-token", "x"],
        ["--key", "no-secret"],
        ["--key", "=sk-no-name"],
    ],
)
def test_the_standalone_refuses_impossible_options(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2


def test_the_control_api(fake: FakeAnthropicAPI, client: httpx.Client) -> None:
    rule = {"target": "carol", "fault": {"kind": "rate_limit", "retry_after": 3600}, "times": 1}
    created = client.post("/_fake/faults", json=rule)
    assert created.status_code == 201
    assert created.json()["fault"]["kind"] == "rate_limit"
    assert (
        client.post("/_fake/credentials", json={"name": "carol", "secret": "sk-c"}).status_code
        == 204
    )
    assert client.get("/_fake/faults").json()[0]["target"] == "carol"
    assert post(client, "x", headers={"x-api-key": "sk-c"}).status_code == 429
    client.post("/_fake/faults", json={"target": "*", "fault": {"kind": "auth"}})
    assert client.delete("/_fake/faults").status_code == 204
    assert post(client, "x").status_code == 200
    log = client.get("/_fake/requests").json()
    assert [(r["credential"], r["status"], r["fault"]) for r in log] == [
        ("carol", 429, "rate_limit"),
        ("alice", 200, None),
    ]
    assert client.get("/_fake/usage").json() == {
        "input_tokens": fake.served_usage().input_tokens,
        "output_tokens": fake.served_usage().output_tokens,
        "cache_creation_input_tokens": fake.served_usage().cache_creation_input_tokens,
        "cache_read_input_tokens": fake.served_usage().cache_read_input_tokens,
    }
    bad = client.post("/_fake/faults", json={"target": "*", "fault": {"kind": "meteor"}})
    assert bad.status_code == 400
    assert client.post("/_fake/faults", json={"target": "*"}).status_code == 400
    assert client.post("/_fake/release").status_code == 204


def test_a_broken_script_is_a_500(fake: FakeAnthropicAPI, client: httpx.Client) -> None:
    class Broken:
        def respond(self, request: object) -> Any:
            raise RuntimeError("boom")

    script: Script = Broken()
    fake.script = script
    response = post(client, "x")
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "api_error"


def test_the_sync_server_leaves_no_thread_and_stops_with_a_hung_request() -> None:
    before = set(threading.enumerate())
    with (
        concurrent.futures.ThreadPoolExecutor(1) as pool,
        httpx.Client(timeout=10) as http,
    ):
        with FakeAnthropicAPI() as fake:
            fake.register("alice", KEY)
            fake.inject("*", Fault.hang())
            http.base_url = httpx.URL(fake.base_url)
            pending = pool.submit(post, http, "x")
            fake.wait_for_request()
        # Leaving the block answered the hung request before the server stopped.
        assert pending.result(timeout=10).status_code == 200
    assert set(threading.enumerate()) <= before
    with pytest.raises(RuntimeError, match="not running"):
        _ = fake.base_url


@pytest.mark.anyio
async def test_the_async_context_manager_serves_on_the_current_loop() -> None:
    async with FakeAnthropicAPI(script=EchoScript()) as fake:
        fake.register("alice", KEY)
        fake.inject("*", Fault.hang(), times=1)
        responses: list[httpx.Response] = []
        async with (
            httpx.AsyncClient(base_url=fake.base_url, timeout=10) as http,
            anyio.create_task_group() as tg,
        ):

            async def send() -> None:
                body = messages_body("hello", stream=False)
                responses.append(await http.post("/v1/messages", json=body, headers=HEADERS))

            tg.start_soon(send)
            with anyio.fail_after(10):
                await anyio.to_thread.run_sync(fake.wait_for_request)
            fake.release_hangs()
        assert responses[0].json()["content"][0]["text"] == "echo: hello"


@pytest.mark.parametrize("fake_api_script", [EchoScript()])
def test_the_fixture_takes_the_script_from_fake_api_script(
    fake_api: FakeAnthropicAPI, fake_api_key: str
) -> None:
    with httpx.Client(base_url=fake_api.base_url, timeout=10) as http:
        body = messages_body("hi", stream=False)
        message = http.post("/v1/messages", json=body, headers={"x-api-key": fake_api_key})
    assert message.json()["content"][0]["text"] == "echo: hi"
    assert fake_api.requests[0].credential == "fake-api"


def test_the_fixture_defaults_to_the_orchestra_script_and_serves_its_key_only(
    fake_api: FakeAnthropicAPI, fake_api_key: str
) -> None:
    with httpx.Client(base_url=fake_api.base_url, timeout=10) as http:
        body = messages_body("hi", stream=False)
        message = http.post("/v1/messages", json=body, headers={"x-api-key": fake_api_key})
        other = http.post("/v1/messages", json=body, headers=HEADERS)
    assert "scripted model" in message.json()["content"][0]["text"]
    assert other.status_code == 401


@pytest.mark.parametrize(
    "latency", [[], ["--latency", "--first-token", "0.01-0.02", "--tokens-per-second", "999"]]
)
def test_standalone_prints_its_address_and_stops_on_sigterm(latency: list[str]) -> None:
    command = [
        *(sys.executable, "-m", "claude_orchestra.testing.fake_api", "--port", "0"),
        *("--key", f"alice={KEY}", *latency),
    ]
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as proc:
        try:
            assert proc.stdout is not None
            with selectors.DefaultSelector() as selector:
                selector.register(proc.stdout, selectors.EVENT_READ)
                assert selector.select(timeout=20), "no address printed within 20 s"
            line = proc.stdout.readline().strip()
            assert line.startswith("listening on http://127.0.0.1:")
            url = line.removeprefix("listening on ")
            with httpx.Client(base_url=url, timeout=10) as http:
                body = messages_body("hi", stream=False)
                reply = http.post("/v1/messages", json=body, headers=HEADERS).json()
                assert "scripted model" in reply["content"][0]["text"]
                stranger = {"x-api-key": "sk-ant-stranger"}
                assert http.post("/v1/messages", json=body, headers=stranger).status_code == 401
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
