"""The hook app: authenticate, parse, enqueue, reply. Nothing else.

Claude Code's hooks POST their JSON to ``/hooks/<instance>/<launch>``; the relay that runs
each process, and tmux's ``pane-died`` hook, POST its exit to
``/panes/<instance>/<launch>/died``. Every request must carry the token issued for that
instance's launch (:class:`~claude_orchestra.intake.keys.HookKeys`) as
``Authorization: Bearer <token>``, else 401; the token is checked before the body is read.
A body over :data:`MAX_BODY` bytes is a 413 (it is read in chunks and dropped at the cap); a
body that is not a payload we understand is a 400 with the reason. The handler never does
git or tmux work and never crashes the app. The reply to a hook is ``{}`` ("no opinion"):
decisions are made by the orchestrator's loop, which receives each event through one memory
stream.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from claude_orchestra import strict_json
from claude_orchestra._clock import Clock
from claude_orchestra.errors import HookPayloadError
from claude_orchestra.events import Deliver, Event, PaneDied, parse_hook_event
from claude_orchestra.intake.keys import HookKeys

logger = logging.getLogger(__name__)

MAX_BODY = 4 * 1024 * 1024
"""The largest hook body accepted, in bytes."""

_LAUNCH = re.compile(r"[1-9][0-9]{0,8}")
_MAX_PROCESS_NUMBER = 2**31 - 1


class _TooLarge(Exception):
    """The body passed :data:`MAX_BODY` while it was read."""


def create_hook_app(*, keys: HookKeys, deliver: Deliver, clock: Clock) -> Starlette:
    """Build the ASGI app.

    Args:
        keys: the tokens issued per instance and launch; a request must present its own.
        deliver: awaited with each parsed event (backpressure reaches the hook's caller).
        clock: stamps each event with its receive time.
    """

    async def guarded(request: Request, build: Callable[[str, int, Any], Event]) -> Response:
        instance = request.path_params["instance"]
        raw_launch = request.path_params["launch"]
        launch = int(raw_launch) if _LAUNCH.fullmatch(raw_launch) else 0
        if not keys.accepts(instance, launch, request.headers.get("authorization", "")):
            return JSONResponse({"error": "unauthorised"}, status_code=401)
        try:
            body = await _read_body(request)
        except _TooLarge:
            return JSONResponse({"error": f"body larger than {MAX_BODY} bytes"}, status_code=413)
        try:
            event = build(instance, launch, _decode(body))
        except HookPayloadError as exc:
            logger.warning("rejected hook payload for %s: %s", instance, exc)
            return JSONResponse({"error": str(exc)}, status_code=400)
        await deliver(event)
        return JSONResponse({})

    async def hook(request: Request) -> Response:
        return await guarded(
            request,
            lambda instance, launch, body: parse_hook_event(
                instance, body, at=clock.now(), launch=launch
            ),
        )

    async def pane_died(request: Request) -> Response:
        def build(instance: str, launch: int, body: Any) -> Event:
            if not isinstance(body, dict):
                raise HookPayloadError("body", "must be a JSON object")
            pid = _optional_int(body, "pid")
            if pid is None or pid < 1:
                raise HookPayloadError("pid", "a positive process id is required")
            return PaneDied(
                instance=instance,
                at=clock.now(),
                launch=launch,
                exit_status=_optional_int(body, "status"),
                signal=_optional_int(body, "signal"),
                pid=pid,
            )

        return await guarded(request, build)

    async def health(_: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            Route("/hooks/{instance}/{launch}", hook, methods=["POST"]),
            Route("/panes/{instance}/{launch}/died", pane_died, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )


async def _read_body(request: Request) -> bytes:
    """The body, read in chunks; raises :class:`_TooLarge` as soon as it passes the cap."""
    declared = request.headers.get("content-length", "")
    if len(declared) > 12 or (declared.isdigit() and int(declared) > MAX_BODY):
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _decode(body: bytes) -> Any:
    try:
        return strict_json.loads(body)
    except ValueError as exc:  # StrictJSONError, UnicodeDecodeError
        raise HookPayloadError("body", f"not JSON we accept ({exc})") from exc


def _optional_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise HookPayloadError(key, "must be an integer")
    if isinstance(value, str) and not re.fullmatch(r"-?[0-9]{1,10}", value):
        raise HookPayloadError(key, "must be an integer")
    number = int(value)
    if abs(number) > _MAX_PROCESS_NUMBER:
        raise HookPayloadError(key, "out of range")
    return number
