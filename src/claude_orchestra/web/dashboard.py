"""The dashboard as the orchestrator holds it: the token, the feed, and how to read screens.

The orchestrator makes one when the config asks for it, mounts :meth:`Dashboard.app` in
front of the hook app, hands the status board's documents to :attr:`Dashboard.feed` and
calls :meth:`Dashboard.started` once the port is known (the URL is written to a private
file and given to the caller's callback, never to a log). The feed closes itself on the
document that carries the run's outcome, so open event streams finish before the server
stops.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, final

import attrs
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp

from claude_orchestra._clock import Clock, SystemClock
from claude_orchestra._safe_files import write_private
from claude_orchestra.auth.credentials import Secret, redact_tree
from claude_orchestra.errors import OrchestraError
from claude_orchestra.runmodel import RunModel
from claude_orchestra.web.access import PREFIX, DashboardAccess
from claude_orchestra.web.app import dashboard_routes
from claude_orchestra.web.feed import DashboardFeed
from claude_orchestra.web.view import page_state, screens_state

logger = logging.getLogger(__name__)

SCREEN_INTERVAL = 2.0
"""Seconds between two readings of the screens while a page is open (screens fire no
event; the run's status is pushed as it changes, not on this beat)."""


@final
@attrs.define(eq=False, repr=False)
class Dashboard:
    """One run's web dashboard."""

    capture: Callable[[str], Awaitable[str]]
    """Reads an instance's screen (the runtime's ``capture``)."""
    secrets: Callable[[], Iterable[Secret]] = tuple
    """The run's secrets now: redacted from everything the page is sent."""
    clock: Clock = attrs.field(factory=SystemClock)
    url_file: Path | None = None
    """Where :meth:`started` keeps the URL (a 0600 file), for a person who lost it."""
    screen_interval: float = SCREEN_INTERVAL
    access: DashboardAccess = attrs.field(factory=DashboardAccess)
    feed: DashboardFeed = attrs.field(factory=DashboardFeed)

    def __repr__(self) -> str:
        return f"<Dashboard {self.feed!r}>"

    def app(self, hooks: ASGIApp) -> Starlette:
        """The hook server's app: the dashboard under ``/dashboard``, ``hooks`` for the rest."""
        return Starlette(
            routes=[Mount(PREFIX, routes=dashboard_routes(self)), Mount("", app=hooks)]
        )

    def started(self, port: int) -> str:
        """The server listens on ``port``: keep the URL in :attr:`url_file` and return it."""
        url = self.access.url(port)
        if self.url_file is not None:
            write_private(self.url_file, url + "\n")
        return url

    def close(self) -> None:
        """No status will follow (the feed also closes itself on the one with an outcome):
        streams send the last status and finish."""
        self.feed.close()

    def run_state(self) -> dict[str, Any] | None:
        """The page's data from the latest status (``None`` before the first one)."""
        document = self.feed.latest
        if document is None:
            return None
        state = page_state(RunModel.from_document(document), self.clock.wall())
        return self._redacted(state)

    async def screens(self) -> dict[str, Any]:
        """Every instance's screen now (empty for one that cannot be read)."""
        document = self.feed.latest
        names = [] if document is None else RunModel.from_document(document).instances
        screens = {}
        for name in (i.name for i in names):
            try:
                screens[name] = await self.capture(name)
            except OrchestraError as exc:
                logger.debug("no screen of %s for the dashboard: %s", name, exc)
                screens[name] = ""
        return self._redacted(screens_state(screens, self.clock.wall()))

    def _redacted(self, value: dict[str, Any]) -> dict[str, Any]:
        redacted: dict[str, Any] = redact_tree(value, self.secrets())
        return redacted
