"""Who may see the dashboard: whoever holds the run's dashboard token.

The token is random per run and is not any hook secret. The URL ``run`` prints carries it as
``?token=``; the page answers that with a redirect that moves it into an ``HttpOnly``,
``SameSite=Strict`` cookie scoped to ``/dashboard`` (so it leaves the address bar and the
history, and the page's scripts never see it). Every dashboard route accepts the cookie, the
query parameter or ``Authorization: Bearer <token>``; nothing presented is a 401, a wrong
token a 403. Tokens are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import final

import attrs
from starlette.requests import Request

from claude_orchestra.auth.credentials import Secret

PREFIX = "/dashboard"
"""Where the dashboard's routes live on the hook server."""


def _new_token() -> Secret:
    return Secret(secrets.token_urlsafe(32))


@final
@attrs.define(eq=False, repr=False)
class DashboardAccess:
    """The run's dashboard token, and the check every route makes."""

    token: Secret = attrs.field(factory=_new_token)

    def __repr__(self) -> str:
        return "<DashboardAccess>"

    @property
    def cookie(self) -> str:
        """The cookie's name: one per run (cookies ignore ports, and two runs on one host
        must not overwrite each other's), derived from the token without revealing it."""
        digest = hashlib.sha256(self.token.reveal().encode()).hexdigest()[:12]
        return f"orchestra-dashboard-{digest}"

    def presented(self, request: Request) -> str | None:
        """The token the request offers (query, header or cookie), if any."""
        authorization = request.headers.get("authorization", "")
        if authorization.startswith("Bearer "):
            return authorization.removeprefix("Bearer ")
        return request.query_params.get("token") or request.cookies.get(self.cookie)

    def status(self, request: Request) -> int:
        """200 when the request holds the token, 401 when it offers none, 403 when it
        offers another."""
        offered = self.presented(request)
        if not offered:
            return 401
        expected = self.token.reveal().encode()
        return 200 if hmac.compare_digest(offered.encode(), expected) else 403

    def url(self, port: int) -> str:
        """The URL to open: it carries the token."""
        return f"http://127.0.0.1:{port}{PREFIX}/?token={self.token.reveal()}"
