"""The broker over real HTTP, in front of the fake Messages API: forwarding, rotation
between requests, usage off the stream, tokens in place of credentials."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest

from claude_orchestra._clock import SystemClock
from claude_orchestra.auth.credentials import Credential, CredentialKind, Secret
from claude_orchestra.auth.rotator import AuthRotator, CredentialStatus
from claude_orchestra.broker import Broker
from claude_orchestra.broker.pool import RotatorPool
from claude_orchestra.costs.budget import BudgetConfig
from claude_orchestra.testing.fake_api import FakeAnthropicAPI, Fault
from claude_orchestra.testing.scripted import EchoScript

from .wire_upstream import upstream_on_the_wire

pytestmark = pytest.mark.anyio

K1 = "sk-ant-broker-test-one-" + "1" * 20
K2 = "sk-ant-broker-test-two-" + "2" * 20
LOGIN = "sk-ant-oat01-broker-test-" + "3" * 20
BODY = {
    "model": "claude-opus-5-5",
    "max_tokens": 100,
    "stream": True,
    "messages": [{"role": "user", "content": [{"type": "text", "text": "hello broker"}]}],
}
INSTANCE_HEADERS = {"anthropic-version": "2023-06-01", "anthropic-beta": "claude-code-20250219"}


def key(name: str, value: str, base_url: str) -> Credential:
    return Credential(
        name=name,
        kind=CredentialKind.ENV,
        env={"ANTHROPIC_API_KEY": Secret(value), "ANTHROPIC_BASE_URL": base_url},
    )


class Rig:
    def __init__(self, fake: FakeAnthropicAPI, broker: Broker, rotator: AuthRotator) -> None:
        self.fake, self.broker, self.rotator = fake, broker, rotator
        self.token = broker.launch_credential("worker-1", 1).environment()["ANTHROPIC_API_KEY"]

    async def post(
        self, body: dict[str, object] = BODY, token: str | None = None
    ) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.broker.base_url, timeout=10) as client:
            return await client.post(
                "/v1/messages?beta=true",
                json=body,
                headers={**INSTANCE_HEADERS, "x-api-key": token or self.token},
            )


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with FakeAnthropicAPI(script=EchoScript()) as fake:
        fake.register("k1", K1)
        fake.register("k2", K2)
        fake.register("login", LOGIN)
        pool = (
            key("k1", K1, fake.base_url),
            key("k2", K2, fake.base_url),
            Credential(
                name="login",
                kind=CredentialKind.OAUTH,
                env={"CLAUDE_CODE_OAUTH_TOKEN": Secret(LOGIN), "ANTHROPIC_BASE_URL": fake.base_url},
            ),
        )
        rotator = AuthRotator(pool=pool, clock=SystemClock())
        rotator.assign_initial(["worker-1", "worker-2"])
        async with Broker(
            RotatorPool(rotator=rotator, clock=SystemClock()), near_limit=0.9
        ) as broker:
            yield Rig(fake, broker, rotator)


async def test_a_stream_passes_through_on_the_real_key_and_its_usage_is_counted(rig: Rig) -> None:
    reply = await rig.post()
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/event-stream")
    assert "message_stop" in reply.text
    (request,) = rig.fake.requests
    assert request.credential == "k1"  # the real key went upstream, not the token
    assert rig.broker.meter.usage() == rig.fake.served_usage()
    (served,) = rig.broker.meter.served
    assert (served.instance, served.credential, served.status, served.error) == (
        "worker-1",
        "k1",
        200,
        None,
    )
    assert served.first_byte is not None
    assert served.first_byte <= served.seconds


async def test_a_429_is_absorbed_on_the_next_key_with_the_same_request(rig: Rig) -> None:
    rig.fake.inject("k1", Fault.rate_limit(retry_after=120), times=1)
    started = time.time()
    reply = await rig.post()
    assert reply.status_code == 200, reply.text
    assert [(r.credential, r.status) for r in rig.fake.requests] == [("k1", 429), ("k2", 200)]
    first, second = rig.fake.requests
    assert first.last_user_text == second.last_user_text == "hello broker"
    standing = rig.rotator.standing("k1")
    assert standing.status is CredentialStatus.COOLING
    assert standing.until is not None
    assert abs(standing.until - (started + 120)) < 5
    # every holder of k1 moved at once, so no other request goes there first
    assert {(m.instance, m.to_credential) for m in rig.broker.pool.moves} == {
        ("worker-1", "k2"),
        ("worker-2", "k2"),
    }
    (served,) = rig.broker.meter.served
    assert (served.credential, served.rotations) == ("k2", 1)
    assert rig.broker.meter.by("credential")["k1"].errors == (("rate_limit", 1),)
    assert rig.broker.meter.usage() == rig.fake.served_usage()


async def test_a_401_retires_the_key_and_a_login_serves_with_its_own_headers(rig: Rig) -> None:
    rig.fake.inject("k1", Fault.auth())
    rig.fake.inject("k2", Fault.auth())
    reply = await rig.post()
    assert reply.status_code == 200, reply.text
    assert [r.credential for r in rig.fake.requests] == ["k1", "k2", "login"]
    assert {rig.rotator.standing(n).status for n in ("k1", "k2")} == {CredentialStatus.INVALID}


async def test_when_every_credential_rests_the_last_refusal_goes_to_the_instance(rig: Rig) -> None:
    for name in ("k1", "k2", "login"):
        rig.fake.inject(name, Fault.rate_limit(retry_after=600))
    reply = await rig.post()
    assert reply.status_code == 429
    assert reply.json()["error"]["type"] == "rate_limit_error"
    assert len(rig.fake.requests) == 3
    again = await rig.post()  # nothing is sent on a resting credential
    assert again.status_code == 429
    assert "resets" in again.json()["error"]["message"]
    assert len(rig.fake.requests) == 3


async def test_an_unknown_or_replaced_token_is_refused_before_anything_is_sent(rig: Rig) -> None:
    assert (await rig.post(token="sk-ant-guess")).status_code == 401
    old = rig.token
    rig.broker.launch_credential("worker-1", 2)  # a new launch: the old token stops working
    assert (await rig.post(token=old)).status_code == 401
    assert rig.fake.requests == ()


async def test_headers_near_a_limit_move_new_requests_before_any_429(rig: Rig) -> None:
    rig.fake.inject("k1", Fault.near_limit(0.95, reset_at=time.time() + 300), times=1)
    assert (await rig.post()).status_code == 200
    assert (await rig.post()).status_code == 200
    assert [(r.credential, r.status) for r in rig.fake.requests] == [("k1", 200), ("k2", 200)]
    (move, *_) = rig.broker.pool.moves
    assert (move.reason, move.to_credential) == ("near_limit", "k2")
    assert rig.rotator.standing("k1").status is CredentialStatus.COOLING


async def test_a_whole_message_and_an_upstream_error_pass_through(rig: Rig) -> None:
    reply = await rig.post({**BODY, "stream": False})
    assert reply.status_code == 200
    assert rig.broker.meter.usage() == rig.fake.served_usage()
    rig.fake.inject("k1", Fault.overloaded(), times=1)
    overloaded = await rig.post()
    assert overloaded.status_code == 529  # not the credential's fault: Claude Code retries
    assert rig.rotator.standing("k1").status is CredentialStatus.AVAILABLE


async def test_the_stream_is_passed_on_as_it_arrives(rig: Rig) -> None:
    rig.fake.inject("k1", Fault.slow(0.15), times=1)
    async with httpx.AsyncClient(base_url=rig.broker.base_url, timeout=10) as client:
        started = time.monotonic()
        async with client.stream(
            "POST", "/v1/messages", json=BODY, headers={**INSTANCE_HEADERS, "x-api-key": rig.token}
        ) as reply:
            chunks = reply.aiter_raw()
            await chunks.__anext__()
            first = time.monotonic() - started
            rest = b"".join([c async for c in chunks])
            total = time.monotonic() - started
    assert b"message_stop" in rest
    assert first < total / 2  # the first frame came long before the last


def head_of(request: bytes) -> dict[str, str]:
    lines = request.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")[1:]
    return {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}


async def test_a_login_gets_a_bearer_token_and_the_oauth_beta_and_nothing_else_is_added() -> None:
    body = json.dumps({"usage": {"input_tokens": 1, "output_tokens": 2}}).encode()
    answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
    answer += b"content-length: %d\r\n\r\n%s" % (len(body), body)
    async with upstream_on_the_wire(answer, hang_up=True) as (url, received):
        login = Credential(
            name="login",
            kind=CredentialKind.OAUTH,
            env={"CLAUDE_CODE_OAUTH_TOKEN": Secret(LOGIN), "ANTHROPIC_BASE_URL": url},
        )
        rotator = AuthRotator(pool=(login,), clock=SystemClock())
        rotator.assign_initial(["worker-1"])
        async with Broker(RotatorPool(rotator=rotator, clock=SystemClock())) as broker:
            token = broker.launch_credential("worker-1", 1).environment()["ANTHROPIC_API_KEY"]
            async with httpx.AsyncClient(base_url=broker.base_url) as client:
                reply = await client.post(
                    "/v1/messages?beta=true",
                    json={**BODY, "stream": False},
                    headers={
                        **INSTANCE_HEADERS,
                        "x-api-key": token,
                        "user-agent": "claude-cli/2.1.328 (external, cli)",
                        "accept": "application/json",
                    },
                )
    assert reply.status_code == 200
    assert reply.json() == {"usage": {"input_tokens": 1, "output_tokens": 2}}
    ((_, request),) = received
    assert request.startswith(b"POST /v1/messages?beta=true HTTP/1.1\r\n")
    headers = head_of(request)
    assert headers["authorization"] == f"Bearer {LOGIN}"
    assert "x-api-key" not in headers
    assert headers["anthropic-beta"] == "claude-code-20250219,oauth-2025-04-20"
    # the instance's own headers, as it sent them; the client adds none of its own
    assert headers["user-agent"] == "claude-cli/2.1.328 (external, cli)"
    assert headers["accept"] == "application/json"
    assert headers["content-type"] == "application/json"
    assert headers["accept-encoding"] == "identity"
    assert json.loads(request.partition(b"\r\n\r\n")[2]) == {**BODY, "stream": False}
    assert token.encode() not in request


async def test_no_request_starts_past_a_budget_and_a_spent_key_is_retired() -> None:
    async with FakeAnthropicAPI(script=EchoScript()) as fake:
        fake.register("k1", K1)
        fake.register("k2", K2)
        pool = (key("k1", K1, fake.base_url), key("k2", K2, fake.base_url))
        rotator = AuthRotator(pool=pool, clock=SystemClock())
        rotator.assign_initial(["worker-1"])
        budget = BudgetConfig(credential_tokens=1, instance_tokens=10**9, tokens=10**9)
        async with Broker(
            RotatorPool(rotator=rotator, clock=SystemClock()), budget=budget
        ) as broker:
            rig = Rig(fake, broker, rotator)
            assert (await rig.post()).status_code == 200  # k1 spends past its 1 token
            assert (await rig.post()).status_code == 200  # so this one goes out on k2
            assert [r.credential for r in fake.requests] == ["k1", "k2"]
            assert rotator.standing("k1").status is CredentialStatus.SPENT
            refused = await rig.post()  # k2 is spent too: nothing left to send on
            assert refused.status_code == 401  # the loop stops an instance with no credential
            assert len(fake.requests) == 2
        spent = fake.served_usage().total
        budget = BudgetConfig(tokens=spent)  # what two requests spend
        rotator = AuthRotator(pool=pool, clock=SystemClock())
        rotator.assign_initial(["worker-1"])
        async with Broker(
            RotatorPool(rotator=rotator, clock=SystemClock()), budget=budget
        ) as broker:
            rig = Rig(fake, broker, rotator)
            assert (await rig.post()).status_code == 200
            assert (await rig.post()).status_code == 200  # the run's spend: below its limit
            over = await rig.post()
            assert over.status_code == 400  # the API's shape; Claude Code does not retry it
            assert over.json()["error"]["type"] == "invalid_request_error"
            assert "the run's budget is spent" in over.json()["error"]["message"]
            assert len(fake.requests) == 4  # nothing reached the fake past the limit


async def test_an_unforwarded_method_gets_a_405_before_its_token_is_read(rig: Rig) -> None:
    async with httpx.AsyncClient(base_url=rig.broker.base_url, timeout=10) as client:
        reply = await client.request("PATCH", "/v1/messages", headers={"x-api-key": rig.token})
    assert reply.status_code == 405
    assert reply.headers["allow"] == "DELETE, GET, HEAD, POST, PUT"
    assert rig.fake.requests == ()


async def test_an_instance_that_hangs_up_mid_stream_has_its_request_kept_as_cut(
    rig: Rig,
) -> None:
    kept = anyio.Event()
    rig.broker.meter.on_served = lambda _: kept.set()
    rig.fake.inject("k1", Fault.slow(0.5), times=1)
    headers = {**INSTANCE_HEADERS, "x-api-key": rig.token}
    async with (
        httpx.AsyncClient(base_url=rig.broker.base_url, timeout=10) as client,
        client.stream("POST", "/v1/messages", json=BODY, headers=headers) as reply,
    ):
        await reply.aiter_raw().__anext__()  # the first frame, then hang up
    with anyio.fail_after(5):
        await kept.wait()
    (served,) = rig.broker.meter.served
    assert (served.credential, served.status, served.error) == ("k1", 200, "cut")
    assert served.usage is not None  # message_start was read before the hang-up


async def test_an_answer_cut_upstream_is_cut_for_the_instance_and_kept_as_cut() -> None:
    start = {"type": "message_start", "message": {"id": "msg_cut", "model": "m"}}
    frame = f"event: message_start\ndata: {json.dumps(start)}\n\n".encode()
    answer = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
    answer += b"transfer-encoding: chunked\r\n\r\n%x\r\n%s\r\n" % (len(frame), frame)
    kept = anyio.Event()
    async with upstream_on_the_wire(answer, hang_up=True) as (url, _):  # before the last chunk
        rotator = AuthRotator(pool=(key("k1", K1, url),), clock=SystemClock())
        rotator.assign_initial(["worker-1"])
        async with Broker(RotatorPool(rotator=rotator, clock=SystemClock())) as broker:
            broker.meter.on_served = lambda _: kept.set()
            token = broker.launch_credential("worker-1", 1).environment()["ANTHROPIC_API_KEY"]
            async with httpx.AsyncClient(base_url=broker.base_url, timeout=10) as client:
                with pytest.raises(httpx.RemoteProtocolError):  # the body never ended
                    await client.post(
                        "/v1/messages", json=BODY, headers={**INSTANCE_HEADERS, "x-api-key": token}
                    )
            with anyio.fail_after(5):
                await kept.wait()
            (served,) = broker.meter.served
    assert (served.status, served.message_id, served.error) == (200, "msg_cut", "cut")
