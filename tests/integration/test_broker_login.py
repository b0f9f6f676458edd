"""A Claude login refused (401) while its expiry looked fine, behind the broker: refreshed
once and the same request sent again on it; retired as before only when that fails too.
The broker over real HTTP, in front of the fake API and its token endpoint."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import attrs
import httpx
import pytest

from claude_orchestra._clock import SystemClock
from claude_orchestra.auth.credentials import Credential, CredentialKind, Secret
from claude_orchestra.auth.rotator import AuthRotator, CredentialStatus
from claude_orchestra.broker import Broker
from claude_orchestra.broker.pool import RotatorPool
from claude_orchestra.testing.fake_api import FakeAnthropicAPI, Fault
from claude_orchestra.testing.scripted import EchoScript

pytestmark = pytest.mark.anyio

# The fake API serves only the tokens it knows: it never issued REVOKED, so it answers it
# with the 401 the real API gives a token revoked or rotated on its side; its refresh
# token is honoured when a test issues it.
REVOKED = "sk-ant-oat01-revoked-test-" + "6" * 20
REFRESH = "sk-ant-ort01-revoked-test-" + "7" * 20
KEY = "sk-ant-broker-login-key-" + "8" * 20
BODY = {
    "model": "claude-opus-5-5",
    "max_tokens": 100,
    "stream": True,
    "messages": [{"role": "user", "content": [{"type": "text", "text": "hello login"}]}],
}
INSTANCE_HEADERS = {"anthropic-version": "2023-06-01", "anthropic-beta": "claude-code-20250219"}


@attrs.frozen(kw_only=True)
class Rig:
    fake: FakeAnthropicAPI
    broker: Broker
    rotator: AuthRotator
    path: Path
    """The login's credentials file."""
    before: str = attrs.field(repr=False)
    """Its text before the test."""
    token: str = attrs.field(repr=False)
    """worker-1's broker token."""

    async def post(self) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.broker.base_url, timeout=10) as client:
            return await client.post(
                "/v1/messages?beta=true",
                json=BODY,
                headers={**INSTANCE_HEADERS, "x-api-key": self.token},
            )

    def sent(self) -> list[tuple[str, int | None]]:
        """Who each request upstream went as (``...6666``: the revoked token), and its
        status."""
        return [(r.credential, r.status) for r in self.fake.requests]

    def written(self) -> dict[str, object]:
        oauth: dict[str, object] = json.loads(self.path.read_text())["claudeAiOauth"]
        return oauth


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    """A login valid for a day by its file but revoked upstream, then an API key."""
    path = tmp_path / ".credentials.json"
    oauth = {
        "accessToken": REVOKED,
        "refreshToken": REFRESH,
        "expiresAt": int((time.time() + 86_400) * 1000),
        "scopes": ["user:inference", "user:profile"],
    }
    path.write_text(json.dumps({"claudeAiOauth": oauth}))
    path.chmod(0o600)
    async with FakeAnthropicAPI(script=EchoScript()) as fake:
        fake.register("key", KEY)
        login = Credential(
            name="login",
            kind=CredentialKind.OAUTH,
            env={"ANTHROPIC_BASE_URL": fake.base_url},
            oauth_file=str(path),
        )
        key = Credential(
            name="key",
            kind=CredentialKind.ENV,
            env={"ANTHROPIC_API_KEY": Secret(KEY), "ANTHROPIC_BASE_URL": fake.base_url},
        )
        rotator = AuthRotator(pool=(login, key), clock=SystemClock())
        rotator.assign_initial(["worker-1"])
        pool = RotatorPool(rotator=rotator, clock=SystemClock())
        async with Broker(pool, token_url=f"{fake.base_url}/v1/oauth/token") as broker:
            yield Rig(
                fake=fake,
                broker=broker,
                rotator=rotator,
                path=path,
                before=path.read_text(),
                token=broker.launch_credential("worker-1", 1).environment()["ANTHROPIC_API_KEY"],
            )


async def test_a_revoked_login_is_refreshed_and_serves_the_same_request(rig: Rig) -> None:
    rig.fake.logins.issue("login", REFRESH)
    reply = await rig.post()
    assert reply.status_code == 200, reply.text
    assert "message_stop" in reply.text
    assert rig.sent() == [("...6666", 401), ("login", 200)]
    first, second = rig.fake.requests
    assert first.last_user_text == second.last_user_text == "hello login"
    assert rig.fake.logins.refreshed == ["login"]
    written = rig.written()
    assert written["accessToken"] != REVOKED
    assert written["refreshToken"] != REFRESH  # rotated: the old one is spent
    assert rig.rotator.standing("login").status is CredentialStatus.AVAILABLE
    assert rig.broker.pool.moves == ()
    (served,) = rig.broker.meter.served
    assert (served.credential, served.status, served.rotations) == ("login", 200, 0)
    # the next request goes on the refreshed token, with no refresh
    assert (await rig.post()).status_code == 200
    assert rig.sent()[2:] == [("login", 200)]
    assert rig.fake.logins.refreshed == ["login"]


async def test_requests_refused_at_once_share_one_refresh(rig: Rig) -> None:
    rig.fake.logins.issue("login", REFRESH)
    replies: list[httpx.Response] = []

    async def post() -> None:
        replies.append(await rig.post())

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(post)
    assert [r.status_code for r in replies] == [200] * 3
    assert rig.fake.logins.refreshed == ["login"]
    assert {name for name, _ in rig.sent()} == {"...6666", "login"}
    assert rig.broker.pool.moves == ()


async def test_a_login_whose_refresh_fails_too_is_retired_and_the_next_serves(rig: Rig) -> None:
    # the endpoint honours no refresh token: it answers 400 invalid_grant
    reply = await rig.post()
    assert reply.status_code == 200, reply.text
    assert rig.sent() == [("...6666", 401), ("key", 200)]
    assert rig.path.read_text() == rig.before
    assert rig.rotator.standing("login").status is CredentialStatus.INVALID
    ((instance, origin, target),) = [
        (m.instance, m.from_credential, m.to_credential) for m in rig.broker.pool.moves
    ]
    assert (instance, origin, target) == ("worker-1", "login", "key")
    (served,) = rig.broker.meter.served
    assert (served.credential, served.rotations) == ("key", 1)


async def test_a_login_refused_again_once_refreshed_is_retired_after_one_refresh(
    rig: Rig,
) -> None:
    rig.fake.logins.issue("login", REFRESH)
    rig.fake.inject("login", Fault.auth())  # the refreshed token is refused too
    reply = await rig.post()
    assert reply.status_code == 200, reply.text
    assert rig.sent() == [("...6666", 401), ("login", 401), ("key", 200)]
    assert rig.fake.logins.refreshed == ["login"]  # one refresh, not one per refusal
    assert rig.written()["refreshToken"] != REFRESH  # the rotated tokens are kept all the same
    assert rig.rotator.standing("login").status is CredentialStatus.INVALID
    assert [m.to_credential for m in rig.broker.pool.moves] == ["key"]


async def test_a_login_file_emptied_under_the_broker_is_retired_without_a_request(
    rig: Rig,
) -> None:
    rig.path.write_text("{}")  # the user logged out: no login left in the file
    reply = await rig.post()
    assert reply.status_code == 200, reply.text
    assert rig.sent() == [("key", 200)]  # nothing went upstream on the login
    assert rig.rotator.standing("login").status is CredentialStatus.INVALID
    assert [m.to_credential for m in rig.broker.pool.moves] == ["key"]
