"""The fake API's OAuth token endpoint (``POST /v1/oauth/token``): it refreshes the Claude
logins a test gives it, as the real one answers the pinned Claude Code's refresh call
(see :mod:`claude_orchestra.broker.login`)."""

from __future__ import annotations

import secrets
import threading
from typing import final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from claude_orchestra.testing.ledger import RequestLedger

CLIENT_ID = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"
"""The client id the real endpoint knows the pinned Claude Code by (read from its binary;
kept apart from the broker's copy, so a broker sending another is refused here)."""
LIFETIME = 3600
"""Seconds a refreshed access token is valid for."""


@final
class FakeLogins:
    """Refresh tokens the endpoint honours, each once (they rotate, as the real ones do);
    each refresh registers its new access token under the login's name."""

    def __init__(self, ledger: RequestLedger) -> None:
        self._ledger = ledger
        self._lock = threading.Lock()
        self._names: dict[str, str] = {}
        self.refreshed: list[str] = []
        """The names of the logins refreshed, in order."""

    def issue(self, name: str, refresh_token: str) -> None:
        """Honour ``refresh_token`` for the login ``name`` (its requests are logged under
        ``name``)."""
        with self._lock:
            self._names[refresh_token] = name

    async def handle(self, request: Request) -> Response:
        """Answer a refresh: new tokens, or the OAuth error the real endpoint would give."""
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("grant_type") != "refresh_token":
            return _error("unsupported_grant_type")
        if body.get("client_id") != CLIENT_ID:
            return _error("invalid_client", status=401)
        with self._lock:
            name = self._names.pop(str(body.get("refresh_token")), None)
            if name is None:
                return _error("invalid_grant")
            access = f"sk-ant-oat01-fake-{secrets.token_hex(16)}"
            refresh = f"sk-ant-ort01-fake-{secrets.token_hex(16)}"
            self._names[refresh] = name
            self.refreshed.append(name)
        self._ledger.register(name, access)
        answer = {
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": LIFETIME,
            "token_type": "Bearer",
            "scope": body.get("scope", ""),
        }
        return JSONResponse(answer)


def _error(kind: str, *, status: int = 400) -> Response:
    return JSONResponse({"error": kind, "error_description": kind.replace("_", " ")}, status)
