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

``CLAUDE_ORCHESTRA_OAUTH_TOKEN_URL`` names another token endpoint (https, or http on a
loopback address only, as Claude Code allows): the tests' fake API serves one.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any, final

import anyio
import attrs
import httpx

from claude_orchestra._clock import Clock
from claude_orchestra._safe_files import read_capped, write_private
from claude_orchestra.auth.credentials import Credential, Secret
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
    it is about to expire (see the module's docstring)."""

    def __init__(self, client: httpx.AsyncClient, clock: Clock, url: str = TOKEN_URL) -> None:
        """Refresh through ``client`` at ``url``; ``clock`` tells the wall time."""
        self._client = client
        self._clock = clock
        self._url = url
        self._locks: dict[str, anyio.Lock] = {}
        self.refreshes = 0
        """Logins refreshed so far."""

    async def access_token(self, credential: Credential) -> Secret | None:
        """The access token of ``credential``'s login, read now (Claude Code may have
        refreshed the file), refreshed first if it is about to expire."""
        if credential.oauth_file is None:
            return None
        path = Path(credential.oauth_file)
        async with self._locks.setdefault(str(path), anyio.Lock()):
            text = await anyio.to_thread.run_sync(_read, path)
            login = None if text is None else parse_login(text)
            if text is None or login is None:
                return None
            if needs_refresh(login, self._clock.wall()):
                login = await self._refresh(credential.name, path, text, login)
            return login.access_token

    async def _refresh(self, name: str, path: Path, text: str, login: Login) -> Login:
        try:
            answer = await self._client.post(
                self._url, json=refresh_body(login), timeout=REFRESH_TIMEOUT
            )
        except httpx.HTTPError as exc:
            logger.warning("%s: the login could not be refreshed: %s", name, type(exc).__name__)
            return login
        try:
            body = answer.json() if answer.status_code == 200 else None
        except ValueError:
            body = None
        new = refreshed(login, body, self._clock.wall())
        if new is None:
            logger.warning("%s: the login could not be refreshed (%d)", name, answer.status_code)
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
