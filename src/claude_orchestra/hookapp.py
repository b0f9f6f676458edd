"""The hook app: authenticate, parse, enqueue, reply. Nothing else.

Claude Code's hooks POST their JSON to ``/hooks/<instance>/<launch>``; tmux's ``pane-died``
hook POSTs to ``/panes/<instance>/died``. Every request must carry the run's secret as
``Authorization: Bearer <secret>``, else 401. A body that is not a payload we understand is
a 400 with the reason; the handler never does git or tmux work and never crashes the app.
The reply to a hook is ``{}`` ("no opinion"): decisions are made by the orchestrator's loop,
which receives each event through one memory stream.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Container
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from claude_orchestra._clock import Clock
from claude_orchestra.credentials import Secret
from claude_orchestra.errors import HookPayloadError
from claude_orchestra.events import Event, PaneDied, parse_hook_event

logger = logging.getLogger(__name__)

Deliver = Callable[[Event], Awaitable[None]]
"""Where parsed events go: the send side of the orchestrator's event stream."""

_MAX_BODY = 4 * 1024 * 1024


def create_hook_app(
    *,
    secret: Secret,
    deliver: Deliver,
    instances: Container[str],
    clock: Clock,
) -> Starlette:
    """Build the ASGI app.

    Args:
        secret: the per-run secret every request must present.
        deliver: awaited with each parsed event (backpressure reaches the hook's caller).
        instances: the instance names the run knows; others get 404.
        clock: stamps each event with its receive time.
    """
    expected = f"Bearer {secret.reveal()}".encode()

    def authorised(request: Request) -> bool:
        given = request.headers.get("authorization", "").encode()
        return hmac.compare_digest(given, expected)

    async def read_json(request: Request) -> Any:
        body = await request.body()
        if len(body) > _MAX_BODY:
            raise HookPayloadError("body", f"larger than {_MAX_BODY} bytes")
        try:
            return json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise HookPayloadError("body", f"not JSON ({exc})") from exc

    async def guarded(request: Request, build: Callable[[str, Any], Event]) -> Response:
        if not authorised(request):
            return JSONResponse({"error": "unauthorised"}, status_code=401)
        instance = request.path_params["instance"]
        if instance not in instances:
            return JSONResponse({"error": f"unknown instance {instance[:40]!r}"}, status_code=404)
        try:
            event = build(instance, await read_json(request))
        except HookPayloadError as exc:
            logger.warning("rejected hook payload for %s: %s", instance, exc)
            return JSONResponse({"error": str(exc)}, status_code=400)
        await deliver(event)
        return JSONResponse({})

    async def hook(request: Request) -> Response:
        launch = request.path_params.get("launch", 0)
        return await guarded(
            request,
            lambda instance, body: parse_hook_event(instance, body, at=clock.now(), launch=launch),
        )

    async def pane_died(request: Request) -> Response:
        def build(instance: str, body: Any) -> Event:
            if not isinstance(body, dict):
                raise HookPayloadError("body", "must be a JSON object")
            return PaneDied(
                instance=instance,
                at=clock.now(),
                exit_status=_optional_int(body, "status"),
                signal=_optional_int(body, "signal"),
                pid=_optional_int(body, "pid"),
            )

        return await guarded(request, build)

    async def health(_: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/hooks/{instance}/{launch:int}", hook, methods=["POST"]),
            Route("/hooks/{instance}", hook, methods=["POST"]),
            Route("/panes/{instance}/died", pane_died, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )


def _optional_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise HookPayloadError(key, "must be an integer")
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise HookPayloadError(key, "must be an integer") from exc
