"""A Claude login behind the broker (:mod:`claude_orchestra.broker.login`): refreshed
before it expires, as the pinned Claude Code refreshes it, and written back to its file;
over real HTTP against the fake API's token endpoint."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import anyio
import attrs
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from claude_orchestra._clock import SystemClock
from claude_orchestra.auth.credentials import Credential, CredentialKind, Secret
from claude_orchestra.auth.rotator import AuthRotator
from claude_orchestra.broker import Broker
from claude_orchestra.broker.client import upstream_session
from claude_orchestra.broker.login import (
    CLIENT_ID,
    REFRESH_MARGIN,
    TOKEN_URL,
    Login,
    LoginKeeper,
    Step,
    needs_refresh,
    next_step,
    parse_login,
    refresh_body,
    refreshed,
    token_url,
    with_login,
)
from claude_orchestra.broker.pool import RotatorPool
from claude_orchestra.errors import UsageError
from claude_orchestra.testing import fake_oauth
from claude_orchestra.testing.fake_api import FakeAnthropicAPI
from claude_orchestra.testing.scripted import EchoScript

from .test_proxy import BODY, INSTANCE_HEADERS

pytestmark = pytest.mark.anyio

OLD = "sk-ant-oat01-login-test-" + "4" * 20
REFRESH = "sk-ant-ort01-login-test-" + "5" * 20
SCOPES = ["user:inference", "user:profile", "user:sessions:claude_code"]


def login_file(path: Path, *, expires_in: float, refresh: str | None = REFRESH) -> dict[str, Any]:
    oauth: dict[str, object] = {
        "accessToken": OLD,
        "expiresAt": int((time.time() + expires_in) * 1000),
        "scopes": SCOPES,
        "subscriptionType": "max",
        "rateLimitTier": "default_claude_max_20x",
    }
    if refresh is not None:
        oauth["refreshToken"] = refresh
    whole = {"claudeAiOauth": oauth, "otherTool": {"kept": True}}
    path.write_text(json.dumps(whole))
    path.chmod(0o600)
    return whole


def test_a_login_is_read_with_its_expiry_in_seconds() -> None:
    text = json.dumps(
        {
            "claudeAiOauth": {
                "accessToken": OLD,
                "refreshToken": REFRESH,
                "expiresAt": 1_700_000_000_000,
                "scopes": SCOPES,
            }
        }
    )
    login = parse_login(text)
    assert login == Login(
        access_token=Secret(OLD),
        refresh_token=Secret(REFRESH),
        expires_at=1_700_000_000.0,
        scopes=tuple(SCOPES),
    )
    assert login.access_token.reveal() == OLD
    for broken in ("", "[]", "{}", '{"claudeAiOauth": {"accessToken": ""}}', "nope"):
        assert parse_login(broken) is None


def test_only_a_login_that_can_be_refreshed_and_expires_soon_is_refreshed() -> None:
    soon = Login(access_token=Secret(OLD), refresh_token=Secret(REFRESH), expires_at=1000.0)
    assert needs_refresh(soon, 1000.0 - REFRESH_MARGIN + 1)
    assert needs_refresh(soon, 2000.0)  # expired already
    assert not needs_refresh(soon, 1000.0 - REFRESH_MARGIN - 1)
    assert not needs_refresh(Login(access_token=Secret(OLD), expires_at=1000.0), 2000.0)
    assert not needs_refresh(Login(access_token=Secret(OLD), refresh_token=Secret(REFRESH)), 1e12)


def test_a_refused_token_is_refreshed_whatever_its_expiry_once_and_only_if_still_held() -> None:
    now = 1000.0
    far = Login(access_token=Secret(OLD), refresh_token=Secret(REFRESH), expires_at=1e10)
    assert next_step(far, now) is Step.SEND
    assert next_step(far, now, refused=Secret(OLD)) is Step.REFRESH
    assert next_step(far, now, refused=Secret(OLD), tried=Secret("before")) is Step.REFRESH
    # a refresh from the refused token was tried, and the file still holds it: it failed
    assert next_step(far, now, refused=Secret(OLD), tried=Secret(OLD)) is Step.GIVE_UP
    assert next_step(far, now, tried=Secret(OLD)) is Step.SEND  # a new request: as before
    # the file holds another token by now (refreshed while the request was out): sent as is,
    # refreshed first only if it is about to expire
    assert next_step(far, now, refused=Secret("gone"), tried=Secret("gone")) is Step.SEND
    soon = attrs.evolve(far, expires_at=now + 1)
    assert next_step(soon, now, refused=Secret("gone")) is Step.REFRESH
    cannot = attrs.evolve(far, refresh_token=None)
    assert next_step(cannot, now, refused=Secret(OLD)) is Step.GIVE_UP


def test_the_refresh_asks_as_claude_code_does() -> None:
    login = Login(access_token=Secret(OLD), refresh_token=Secret(REFRESH), scopes=tuple(SCOPES))
    assert refresh_body(login) == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH,
        "client_id": CLIENT_ID,
        "scope": " ".join(SCOPES),
    }
    assert CLIENT_ID == fake_oauth.CLIENT_ID  # the id the endpoint knows Claude Code by
    with pytest.raises(ValueError, match="no refresh token"):
        refresh_body(Login(access_token=Secret(OLD)))


def test_an_answer_gives_new_tokens_and_a_rotated_refresh_token_only_if_it_sends_one() -> None:
    login = Login(access_token=Secret(OLD), refresh_token=Secret(REFRESH), expires_at=1.0)
    new = refreshed(login, {"access_token": "a2", "refresh_token": "r2", "expires_in": 60}, 100.0)
    assert new == login_with(login, "a2", "r2", 160.0)
    kept = refreshed(login, {"access_token": "a2", "expires_in": 60, "token_type": "Bearer"}, 0.0)
    assert kept is not None
    assert kept.refresh_token == Secret(REFRESH)
    bad: object
    for bad in (
        None,
        [],
        {},
        {"access_token": "a2"},
        {"expires_in": 60},
        {"access_token": "a2", "expires_in": 60, "token_type": "mac"},
    ):
        assert refreshed(login, bad, 0.0) is None


def login_with(login: Login, access: str, refresh: str, expires_at: float) -> Login:
    return Login(
        access_token=Secret(access),
        refresh_token=Secret(refresh),
        expires_at=expires_at,
        scopes=login.scopes,
    )


@given(
    extra=st.dictionaries(
        st.text(min_size=1).filter(lambda k: k != "claudeAiOauth"), st.integers()
    ),
    fields=st.dictionaries(
        st.sampled_from(["subscriptionType", "rateLimitTier", "scopes", "other"]), st.text()
    ),
    access=st.text(min_size=1),
    refresh=st.text(min_size=1),
    expires_at=st.floats(min_value=0, max_value=4e9),
)
def test_writing_a_login_back_changes_its_tokens_and_nothing_else(
    extra: dict[str, int], fields: dict[str, str], access: str, refresh: str, expires_at: float
) -> None:
    before = {**extra, "claudeAiOauth": {"accessToken": "old", "refreshToken": "r", **fields}}
    login = Login(access_token=Secret(access), refresh_token=Secret(refresh), expires_at=expires_at)
    after = json.loads(with_login(json.dumps(before), login))
    assert {k: v for k, v in after.items() if k != "claudeAiOauth"} == extra
    oauth = after["claudeAiOauth"]
    assert oauth == {
        **fields,
        "accessToken": access,
        "refreshToken": refresh,
        "expiresAt": int(expires_at * 1000),
    }


def test_the_token_endpoint_is_claude_codes_unless_a_safe_one_is_named() -> None:
    assert token_url({}) == TOKEN_URL
    for url in ("https://login.example/v1/oauth/token", "http://127.0.0.1:9/v1/oauth/token"):
        assert token_url({"CLAUDE_ORCHESTRA_OAUTH_TOKEN_URL": url}) == url
    for url in ("http://login.example/v1/oauth/token", "ftp://127.0.0.1/x", "nonsense"):
        with pytest.raises(UsageError, match="CLAUDE_ORCHESTRA_OAUTH_TOKEN_URL: not https"):
            token_url({"CLAUDE_ORCHESTRA_OAUTH_TOKEN_URL": url})


def oauth(path: Path, base_url: str) -> Credential:
    return Credential(
        name="login",
        kind=CredentialKind.OAUTH,
        env={"ANTHROPIC_BASE_URL": base_url},
        oauth_file=str(path),
    )


async def test_an_expiring_login_is_refreshed_once_and_written_back(tmp_path: Path) -> None:
    path = tmp_path / ".credentials.json"
    before = login_file(path, expires_in=60)
    async with FakeAnthropicAPI(script=EchoScript()) as fake:
        fake.logins.issue("login", REFRESH)
        url = f"{fake.base_url}/v1/oauth/token"
        async with upstream_session() as client:
            keeper = LoginKeeper(client, SystemClock(), url)
            first = await keeper.access_token(oauth(path, fake.base_url))
            second = await keeper.access_token(oauth(path, fake.base_url))
    assert first is not None
    assert first.reveal() != OLD
    assert second == first  # valid for an hour now: not refreshed again
    assert keeper.refreshes == 1
    assert fake.logins.refreshed == ["login"]
    after = json.loads(path.read_text())
    assert after["otherTool"] == before["otherTool"]
    written = after["claudeAiOauth"]
    assert written["accessToken"] == first.reveal()
    assert written["refreshToken"] not in {REFRESH, first.reveal()}  # rotated
    assert written["expiresAt"] / 1000 - time.time() > fake_oauth.LIFETIME - 60
    assert {k: written[k] for k in ("scopes", "subscriptionType", "rateLimitTier")} == {
        k: before["claudeAiOauth"][k] for k in ("scopes", "subscriptionType", "rateLimitTier")
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_a_refused_refresh_leaves_the_file_and_the_token_as_they_were(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / ".credentials.json"
    login_file(path, expires_in=60)
    text = path.read_text()
    # the endpoint honours no refresh token: it answers 400 invalid_grant
    async with FakeAnthropicAPI(script=EchoScript()) as fake, upstream_session() as client:
        keeper = LoginKeeper(client, SystemClock(), f"{fake.base_url}/v1/oauth/token")
        token = await keeper.access_token(oauth(path, fake.base_url))
    assert token == Secret(OLD)
    assert path.read_text() == text
    assert keeper.refreshes == 0
    assert "login: the login could not be refreshed (400)" in caplog.text
    assert REFRESH not in caplog.text
    assert OLD not in caplog.text


def counting_client() -> tuple[aiohttp.ClientSession, list[str]]:
    """A client, and the paths of the requests it sent (every call to the endpoint, however
    it was answered)."""
    calls: list[str] = []

    async def count(
        _: aiohttp.ClientSession, __: SimpleNamespace, sent: aiohttp.TraceRequestStartParams
    ) -> None:
        calls.append(sent.url.path)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(count)
    return aiohttp.ClientSession(trace_configs=[trace]), calls


async def refused_at_once(
    keeper: LoginKeeper, credential: Credential, refused: Secret, times: int
) -> list[Secret | None]:
    """What ``times`` requests refused with ``refused`` at the same moment are given."""
    tokens: list[Secret | None] = []

    async def ask() -> None:
        tokens.append(await keeper.access_token(credential, refused=refused))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for _ in range(times):
                tg.start_soon(ask)
    return tokens


async def test_a_refused_login_is_refreshed_even_when_its_expiry_is_far(tmp_path: Path) -> None:
    path = tmp_path / ".credentials.json"
    login_file(path, expires_in=86_400)
    async with FakeAnthropicAPI(script=EchoScript()) as fake, upstream_session() as client:
        fake.logins.issue("login", REFRESH)
        keeper = LoginKeeper(client, SystemClock(), f"{fake.base_url}/v1/oauth/token")
        credential = oauth(path, fake.base_url)
        unrefused = await keeper.access_token(credential)
        new = await keeper.access_token(credential, refused=Secret(OLD))
    assert unrefused == Secret(OLD)  # valid for a day: not refreshed until refused
    assert new is not None
    assert new != Secret(OLD)
    assert fake.logins.refreshed == ["login"]
    written = json.loads(path.read_text())["claudeAiOauth"]
    assert written["accessToken"] == new.reveal()
    assert written["refreshToken"] != REFRESH  # rotated
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_refusals_of_one_login_at_once_make_one_refresh_and_share_its_token(
    tmp_path: Path,
) -> None:
    path = tmp_path / ".credentials.json"
    login_file(path, expires_in=86_400)
    client, calls = counting_client()
    async with FakeAnthropicAPI(script=EchoScript()) as fake, client:
        fake.logins.issue("login", REFRESH)
        keeper = LoginKeeper(client, SystemClock(), f"{fake.base_url}/v1/oauth/token")
        credential = oauth(path, fake.base_url)
        tokens = await refused_at_once(keeper, credential, Secret(OLD), 5)
        late = await keeper.access_token(credential, refused=Secret(OLD))  # one still out
        (new,) = set(tokens)
        assert new is not None
        assert len(calls) == 1
        # at most one forced refresh per token, not per login: the new one gets its own
        newer = await keeper.access_token(credential, refused=new)
    assert new != Secret(OLD)
    assert late == new
    assert newer not in {None, new}
    assert calls == ["/v1/oauth/token"] * 2
    assert fake.logins.refreshed == ["login", "login"]
    assert keeper.refreshes == 2


async def test_a_failed_forced_refresh_leaves_the_file_as_it_was_and_is_not_tried_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / ".credentials.json"
    login_file(path, expires_in=86_400)
    text = path.read_text()
    client, calls = counting_client()
    # the endpoint honours no refresh token: it answers 400 invalid_grant
    async with FakeAnthropicAPI(script=EchoScript()) as fake, client:
        keeper = LoginKeeper(client, SystemClock(), f"{fake.base_url}/v1/oauth/token")
        credential = oauth(path, fake.base_url)
        tokens = await refused_at_once(keeper, credential, Secret(OLD), 3)
        again = await keeper.access_token(credential, refused=Secret(OLD))
        unrefused = await keeper.access_token(credential)
    assert tokens == [None, None, None]  # no token worth sending the request again with
    assert again is None
    assert unrefused == Secret(OLD)  # a new request goes out as before a refusal
    assert len(calls) == 1
    assert path.read_text() == text
    assert keeper.refreshes == 0
    assert "login: the login could not be refreshed (400)" in caplog.text
    for secret in (OLD, REFRESH):
        assert secret not in caplog.text


async def test_behind_the_broker_an_expiring_login_serves_its_request_refreshed(
    tmp_path: Path,
) -> None:
    """The instance's request goes upstream with the refreshed token: no 401, no move."""
    path = tmp_path / ".credentials.json"
    login_file(path, expires_in=30)
    async with FakeAnthropicAPI(script=EchoScript()) as fake:
        fake.register("stale", OLD)  # served, but named apart: the log tells which was sent
        fake.logins.issue("login", REFRESH)
        rotator = AuthRotator(pool=(oauth(path, fake.base_url),), clock=SystemClock())
        rotator.assign_initial(["worker-1"])
        url = f"{fake.base_url}/v1/oauth/token"
        pool = RotatorPool(rotator=rotator, clock=SystemClock())
        async with Broker(pool, token_url=url) as broker:
            token = broker.launch_credential("worker-1", 1).environment()["ANTHROPIC_API_KEY"]
            async with httpx.AsyncClient(base_url=broker.base_url, timeout=10) as client:
                answers = [
                    await client.post(
                        "/v1/messages?beta=true",
                        json=BODY,
                        headers={**INSTANCE_HEADERS, "x-api-key": token},
                    )
                    for _ in range(2)
                ]
            assert broker.logins is not None
            assert broker.logins.refreshes == 1
    assert [a.status_code for a in answers] == [200, 200]
    assert [r.credential for r in fake.requests] == ["login", "login"]
    assert pool.moves == ()
