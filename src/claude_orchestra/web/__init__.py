"""The web dashboard: the run's live view in a browser, served by the run's hook server.

Off unless asked for (``run --dashboard``, or ``"dashboard": true`` in
``orchestrator.json``); then ``run`` prints a URL on 127.0.0.1 carrying a per-run random
token. The page shows what ``watch`` shows, from the same
:class:`~claude_orchestra.runmodel.RunModel`, pushed to the browser as server-sent events
each time the run publishes its status; plus the merges and incidents as a timeline, every
instance's screen and the spend over time.

What it owns: :mod:`.access` (the token, the cookie, the refusals), :mod:`.feed` (the latest
status document and who waits for the next), :mod:`.view` (the pure model-to-page step),
:mod:`.app` (the routes) and :mod:`.dashboard` (the piece the orchestrator holds). The page
and its assets are package data under ``static/``: no build step, no CDN. It may import the
run model, credentials and starlette; nothing of the loop.
"""

from __future__ import annotations

from claude_orchestra.web.dashboard import Dashboard

__all__ = ["Dashboard"]
