"""A Claude login the broker holds for its instances: read from its credentials file, and
refreshed before it expires.

Behind the broker no Claude Code runs on the user's login, so nothing else would refresh
it: an expired access token would be answered 401 and the login retired. The pinned
Claude Code refreshes a login by POSTing ``{"grant_type": "refresh_token",
"refresh_token": ..., "client_id": ..., "scope": ...}`` as JSON to
``https://platform.claude.com/v1/oauth/token`` (read from the pinned binary: its
``TOKEN_URL``, ``CLIENT_ID`` and refresh call); the answer holds ``access_token``,
``expires_in`` (seconds) and, since refresh tokens rotate, a new ``refresh_token``.

:class:`LoginKeeper` does the same when the access token has less than
:data:`REFRESH_MARGIN` left, one refresh at a time per file, and writes the new tokens back
into the file (replaced whole, mode 0600, every other field kept), so the user's own Claude
Code goes on with the rotated refresh token instead of one the refresh made invalid. A
refresh that fails leaves the file as it was and is logged (status code only): the
request goes out with the old token, fails as an expired login does, and the login is
retired as before.

A login can also be refused (401) while its expiry looks fine: the token was revoked or
rotated on the server's side, or a clock is off. Told which token was refused, the keeper
refreshes the login whatever its expiry says, once per token (:func:`next_step` decides):
when the file holds another token by then (a refresh while the request was out, ours or
the user's Claude Code's), that one is used and nothing is refreshed; when a refresh from
the refused token was tried already and failed, nothing is tried again. The caller sends
the request again with the new token, and retires the login only if there is none or it
is refused too.

``CLAUDE_ORCHESTRA_OAUTH_TOKEN_URL`` names another token endpoint (https, or http on a
loopback address only, as Claude Code allows): the tests' fake API serves one.
"""

from __future__ import annotations

import enum
import json
import logging
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any, final

import aiohttp
import anyio
import attrs

from claude_orchestra._clock import Clock
from claude_orchestra._safe_files import read_capped, write_private
from claude_orchestra.auth.credentials import Credential, Secret
from claude_orchestra.broker.client import UPSTREAM_ERRORS
from claude_orchestra.errors import UsageError

logger = logging.getLogger(__name__)

TOKEN_URL = "https://platform.claude.com/v1/oauth/token"  # noqa: S105 - an address
"""Where the pinned Claude Code refreshes a Claude login."""
CLIENT_ID = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"
"""The pinned Claude Code's OAuth client id."""
TOKEN_URL_VARIABLE = "CLAUDE_ORCHESTRA_OAUTH_TOKEN_URL"  # noqa: S105 - a name
REFRESH_MARGIN = 300.0
"""Seconds of validity left below which a login is refreshed before its next request."""
REFRESH_TIMEOUT = 30.0
"""Seconds a refresh may take (Claude Code gives it 30 s too)."""
_MAX_FILE = 1024 * 1024


@final
@attrs.frozen(kw_only=True)
class Login:
    """The tokens of a Claude login (``claudeAiOauth`` in a credentials file)."""

    access_token: Secret
    refresh_token: Secret | None = None
    expires_at: float | None = None
    """Wall time (s) the access token expires at, if the file says."""
    scopes: tuple[str, ...] = ()


def parse_login(text: str) -> Login | None:
    """The login in a credentials file's text, or ``None`` when it holds none."""
    try:
        login = json.loads(text).get("claudeAiOauth")
    except (ValueError, AttributeError):
        return None
    if not isinstance(login, dict):
        return None
    access, refresh = login.get("accessToken"), login.get("refreshToken")
    if not isinstance(access, str) or not access:
        return None
    expires, scopes = login.get("expiresAt"), login.get("scopes")
    return Login(
        access_token=Secret(access),
        refresh_token=Secret(refresh) if isinstance(refresh, str) and refresh else None,
        expires_at=expires / 1000 if isinstance(expires, int | float) else None,
        scopes=tuple(s for s in scopes if isinstance(s, str)) if isinstance(scopes, list) else (),
    )


def needs_refresh(login: Login, now: float) -> bool:
    """The login can be refreshed and expires within :data:`REFRESH_MARGIN` of ``now``."""
    if login.refresh_token is None or login.expires_at is None:
        return False
    return login.expires_at - now < REFRESH_MARGIN


@enum.unique
class Step(enum.Enum):
    """What to do with a login before a request is sent on it."""

    SEND = "send"
    """Send with the token the file holds."""
    REFRESH = "refresh"
    """Refresh the login first, then send with the new token."""
    GIVE_UP = "give up"
    """Send nothing: the refused token could not be refreshed."""


def next_step(
    login: Login, now: float, *, refused: Secret | None = None, tried: Secret | None = None
) -> Step:
    """What to do with ``login`` (read from its file just now) before a request.

    Args:
        login: the login the file holds.
        now: the wall time (s).
        refused: the token a request on this login was just answered 401 with, if that
            is why it is asked again.
        tried: the token the last refresh of this file started from (``None``: none yet).
    """
    if refused is not None and login.access_token == refused:
        if login.refresh_token is None or tried == refused:
            return Step.GIVE_UP  # nothing to refresh with, or it was refreshed and failed
        return Step.REFRESH
    return Step.REFRESH if needs_refresh(login, now) else Step.SEND


def refresh_body(login: Login) -> dict[str, str]:
    """What Claude Code sends to refresh ``login`` (its own scopes kept)."""
    if login.refresh_token is None:
        raise ValueError("the login has no refresh token")
    body = {
        "grant_type": "refresh_token",
        "refresh_token": login.refresh_token.reveal(),
        "client_id": CLIENT_ID,
    }
    if login.scopes:
        body["scope"] = " ".join(login.scopes)
    return body


def refreshed(login: Login, answer: Any, now: float) -> Login | None:
    """``login`` with the tokens a token endpoint answered, or ``None`` if the answer is
    not a bearer token with a lifetime."""
    if not isinstance(answer, dict):
        return None
    access, refresh = answer.get("access_token"), answer.get("refresh_token")
    lifetime, kind = answer.get("expires_in"), answer.get("token_type", "bearer")
    if not isinstance(access, str) or not access or not isinstance(lifetime, int | float):
        return None
    if not isinstance(kind, str) or kind.lower() != "bearer":
        return None
    return attrs.evolve(
        login,
        access_token=Secret(access),
        refresh_token=Secret(refresh)
        if isinstance(refresh, str) and refresh
        else login.refresh_token,
        expires_at=now + float(lifetime),
    )


def with_login(text: str, login: Login) -> str:
    """A credentials file's ``text`` with ``login``'s tokens in place; the rest kept."""
    whole = json.loads(text)
    oauth = dict(whole["claudeAiOauth"])
    oauth["accessToken"] = login.access_token.reveal()
    if login.refresh_token is not None:
        oauth["refreshToken"] = login.refresh_token.reveal()
    if login.expires_at is not None:
        oauth["expiresAt"] = int(login.expires_at * 1000)
    return json.dumps({**whole, "claudeAiOauth": oauth}, indent=2)


def token_url(environ: Mapping[str, str]) -> str:
    """The token endpoint: Claude Code's, or ``CLAUDE_ORCHESTRA_OAUTH_TOKEN_URL``.

    Raises:
        UsageError: the override is neither https nor http on a loopback address.
    """
    url = environ.get(TOKEN_URL_VARIABLE) or TOKEN_URL
    parts = urllib.parse.urlsplit(url)
    loopback = parts.hostname in {"127.0.0.1", "localhost", "::1"}
    if parts.scheme == "https" or (parts.scheme == "http" and loopback):
        return url
    raise UsageError(TOKEN_URL_VARIABLE, "not https, nor http on a loopback address")


@final
class LoginKeeper:
    """The access token of each login the broker sends requests with, refreshed first when
    it is about to expire or was refused (see the module's docstring)."""

    def __init__(self, client: aiohttp.ClientSession, clock: Clock, url: str = TOKEN_URL) -> None:
        """Refresh through ``client`` at ``url``; ``clock`` tells the wall time."""
        self._client = client
        self._clock = clock
        self._url = url
        self._locks: dict[str, anyio.Lock] = {}
        self._tried: dict[str, Secret] = {}
        """Per file, the token its last refresh started from."""
        self.refreshes = 0
        """Logins refreshed so far."""

    async def access_token(
        self, credential: Credential, *, refused: Secret | None = None
    ) -> Secret | None:
        """The access token of ``credential``'s login, read now (Claude Code may have
        refreshed the file), refreshed first if it is about to expire.

        Args:
            credential: a login kept in a credentials file (else ``None`` is returned).
            refused: the token a request was just answered 401 with: the login is
                refreshed whatever its expiry says, unless the file holds another token
                by now (that one is returned) or a refresh from ``refused`` was tried
                already. ``None`` is returned when no new token came of it.
        """
        if credential.oauth_file is None:
            return None
        path = Path(credential.oauth_file)
        # One refresh at a time per file: a caller that waited here reads what the one
        # before it wrote, so it refreshes nothing that was refreshed while it waited.
        async with self._locks.setdefault(str(path), anyio.Lock()):
            text = await anyio.to_thread.run_sync(_read, path)
            login = None if text is None else parse_login(text)
            if text is None or login is None:
                return None
            forced = refused is not None and login.access_token == refused
            step = next_step(
                login, self._clock.wall(), refused=refused, tried=self._tried.get(str(path))
            )
            if step is Step.GIVE_UP:
                return None
            if step is Step.REFRESH:
                if forced:
                    logger.info("%s: the login was refused (401); refreshing it", credential.name)
                login = await self._refresh(credential.name, path, text, login)
            # a forced refresh that failed leaves the refused token: no use sending it again
            return None if forced and login.access_token == refused else login.access_token

    async def _refresh(self, name: str, path: Path, text: str, login: Login) -> Login:
        self._tried[str(path)] = login.access_token
        try:
            async with self._client.post(
                self._url,
                json=refresh_body(login),
                headers={"content-type": "application/json", "accept": "application/json"},
                timeout=aiohttp.ClientTimeout(total=REFRESH_TIMEOUT),
            ) as answer:
                status, reply = answer.status, await answer.read()
        except UPSTREAM_ERRORS as exc:
            logger.warning("%s: the login could not be refreshed: %s", name, type(exc).__name__)
            return login
        try:
            body = json.loads(reply) if status == 200 else None
        except ValueError:
            body = None
        new = refreshed(login, body, self._clock.wall())
        if new is None:
            logger.warning("%s: the login could not be refreshed (%d)", name, status)
            return login
        await anyio.to_thread.run_sync(write_private, path, with_login(text, new))
        self.refreshes += 1
        left = (new.expires_at or 0.0) - self._clock.wall()
        logger.info("%s: the login was refreshed; it is valid for %.0f s", name, left)
        return new


def _read(path: Path) -> str | None:
    try:
        return read_capped(path, _MAX_FILE).decode("utf-8")
    except (OSError, ValueError):
        return None
