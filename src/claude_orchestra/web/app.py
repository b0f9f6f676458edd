"""The dashboard's routes, under ``/dashboard`` on the hook server. Every one checks the
token first (:mod:`.access`) and answers with headers that keep the page to itself: no
caching, no framing, no referrer, and a content security policy that allows only its own
script, style and event stream.

``GET /dashboard/``         the page (with ``?token=``: a redirect that sets the cookie)
``GET /dashboard/static/F`` its script and style sheet (package data)
``GET /dashboard/state``    the page's data once, as JSON (for scripts and curl)
``GET /dashboard/events``   the same, live: server-sent events ``run``, ``screens``, ``end``
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from typing import Any, Protocol

import anyio
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import BaseRoute, Route

from claude_orchestra.web.access import PREFIX, DashboardAccess
from claude_orchestra.web.feed import DashboardFeed


class DashboardSource(Protocol):
    """What the routes serve from (:class:`~claude_orchestra.web.dashboard.Dashboard`,
    which mounts them: the routes depend on this, not on it)."""

    @property
    def access(self) -> DashboardAccess:
        """Who may see the page (the token and its cookie)."""
        ...

    @property
    def feed(self) -> DashboardFeed:
        """The run's published statuses."""
        ...

    @property
    def screen_interval(self) -> float:
        """Seconds between two readings of the screens while a page is open."""
        ...

    def run_state(self) -> dict[str, Any] | None:
        """The page's data from the latest status."""
        ...

    async def screens(self) -> dict[str, Any]:
        """Every instance's screen text."""
        ...


Handler = Callable[[Request], Awaitable[Response]]

ASSETS = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
"""The files under ``static/`` the page loads, and their types (nothing else is served)."""

HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
"""Sent with every dashboard response, refusals included."""

_REFUSALS = {
    401: "this dashboard needs the token in the URL `claude-orchestra run` printed\n",
    403: "wrong dashboard token\n",
}


def _static(name: str) -> bytes:
    return (resources.files("claude_orchestra.web") / "static" / name).read_bytes()


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def dashboard_routes(dashboard: DashboardSource) -> list[BaseRoute]:
    """The routes, relative to :data:`~claude_orchestra.web.access.PREFIX` (mount them
    there)."""
    access = dashboard.access

    def guarded(handler: Handler) -> Handler:
        async def guard(request: Request) -> Response:
            status = access.status(request)
            response = (
                await handler(request)
                if status == 200
                else PlainTextResponse(_REFUSALS[status], status_code=status)
            )
            response.headers.update(HEADERS)
            return response

        return guard

    async def page(request: Request) -> Response:
        if "token" in request.query_params:  # from the printed URL: into the cookie
            moved = RedirectResponse(f"{PREFIX}/", status_code=303)
            moved.set_cookie(
                access.cookie,
                access.token.reveal(),
                path=PREFIX,
                httponly=True,
                samesite="strict",
            )
            return moved
        return Response(_static("index.html"), media_type="text/html; charset=utf-8")

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            return PlainTextResponse("not found\n", status_code=404)
        return Response(_static(name), media_type=ASSETS[name])

    async def state(_: Request) -> Response:
        return JSONResponse({"run": dashboard.run_state(), **(await dashboard.screens())})

    async def events(_: Request) -> Response:
        return StreamingResponse(
            _stream(dashboard),
            media_type="text/event-stream",
            headers={"X-Accel-Buffering": "no"},
        )

    return [
        Route("/", guarded(page), methods=["GET"]),
        Route("/static/{name}", guarded(asset), methods=["GET"]),
        Route("/state", guarded(state), methods=["GET"]),
        Route("/events", guarded(events), methods=["GET"]),
    ]


async def _stream(dashboard: DashboardSource) -> AsyncIterator[str]:
    """One browser's events: ``run`` whenever the run publishes a new status, ``screens``
    when a pane's text changed (read on each status and every few seconds: screens fire no
    event), and ``end`` once the run has ended (the page then stops reconnecting)."""
    feed = dashboard.feed
    sent_version = -1
    sent_screens: dict[str, Any] | None = None
    yield "retry: 3000\n\n"
    while True:
        closed = feed.closed  # read first: a last document published before it is sent
        if feed.version != sent_version:
            run = dashboard.run_state()
            sent_version = feed.version
            if run is not None:
                yield _sse("run", run)
        if closed:
            yield _sse("end", {})
            return
        screens = await dashboard.screens()
        if screens != sent_screens:
            sent_screens = screens
            yield _sse("screens", screens)
        with anyio.move_on_after(dashboard.screen_interval):
            await feed.wait_beyond(sent_version)
