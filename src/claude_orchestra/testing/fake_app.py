"""The fake Messages API's Starlette app: ``/v1/messages`` and the ``/_fake/`` control API.

Built by :class:`~claude_orchestra.testing.fake_api.FakeAnthropicAPI`, which owns the state
the app reads and changes. Control routes (no authentication: the fake listens on
loopback only)::

    POST   /_fake/faults       {"target": "*", "fault": {"kind": "rate_limit", ...},
                                "times": 1, "until": null}          -> 201, the rule
    GET    /_fake/faults       the active rules
    DELETE /_fake/faults       [?target=name] remove rules
    POST   /_fake/release      answer every hung request
    POST   /_fake/credentials  {"name": ..., "secret": ...} name a caller
    GET    /_fake/requests     the request log
    GET    /_fake/usage        the served usage totals
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import attrs
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from claude_orchestra.testing.fake_oauth import FakeLogins
from claude_orchestra.testing.faults import (
    FaultBook,
    FaultKind,
    FaultRule,
    rule_from_json,
    rule_to_json,
)
from claude_orchestra.testing.latency import Latency
from claude_orchestra.testing.ledger import (
    NO_CREDENTIAL,
    ApiRequest,
    RequestLedger,
    request_to_json,
)
from claude_orchestra.testing.messages import MessagesRequest, parse_request
from claude_orchestra.testing.scripted import Script
from claude_orchestra.testing.sse import (
    Envelope,
    error_json,
    message_json,
    output_chars,
    sized_frames,
    usage_for,
)

logger = logging.getLogger(__name__)

CLIENT_GONE = 499
"""The status logged for a hung request whose client had left when it was released."""


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(error_json(kind, message), status_code=status, headers=headers)


@attrs.frozen(kw_only=True)
class _Messages:
    """The ``POST /v1/messages`` handler and what it needs from its owner."""

    script: Callable[[], Script]
    ledger: RequestLedger
    faults: FaultBook
    ids: Callable[[int], tuple[str, str]]
    wait_hang: Callable[[float | None], Awaitable[None]]
    latency: Callable[[], Latency | None]
    sleep: Callable[[float], Awaitable[None]]
    accept_unknown: Callable[[], bool]

    async def handle(self, request: Request) -> Response:
        """Answer one request: log it, apply a fault, else the script's reply."""
        caller = self.ledger.caller(request.headers)
        record = self.ledger.arrive(credential=caller, path=request.url.path)
        message_id, request_id = self.ids(record.number)
        try:
            body = json.loads(await request.body())
            parsed = parse_request(body)
        except (ValueError, TypeError, AttributeError) as exc:
            self.ledger.update(record, status=400)
            return _error(400, "invalid_request_error", f"invalid request body: {exc}")
        record = self.ledger.update(
            record,
            model=parsed.model,
            last_user_text=parsed.last_user_text,
            typed_prompts=parsed.typed_prompts,
            session_id=request.headers.get("x-claude-code-session-id"),
            cwd=parsed.cwd,
            stream=parsed.stream,
        )
        headers = {"request-id": request_id}
        if caller == NO_CREDENTIAL:
            self.ledger.update(record, status=401)
            return _error(401, "authentication_error", "x-api-key header is required", headers)
        if not self.accept_unknown() and not self.ledger.is_registered(caller):
            self.ledger.update(record, status=401)
            return _error(401, "authentication_error", "invalid x-api-key", headers)
        rule = self.faults.take(caller, time.time())
        delay = 0.0
        if rule is not None:
            record = self.ledger.update(record, fault=rule.fault.kind)
            error = rule.fault.error_reply(time.time())
            if error is not None:
                self.ledger.update(record, status=error.status)
                return JSONResponse(
                    dict(error.body), status_code=error.status, headers={**headers, **error.headers}
                )
            if rule.fault.kind is FaultKind.HANG:
                await self.wait_hang(rule.until)
                if await request.is_disconnected():  # gave up waiting: nothing is served
                    self.ledger.update(record, status=CLIENT_GONE)
                    return Response(status_code=CLIENT_GONE)
            delay = rule.fault.delay if rule.fault.kind is FaultKind.SLOW else 0.0
            headers |= rule.fault.limit_headers(time.time())
        return await self._answer(
            record=record,
            body=body,
            parsed=parsed,
            message_id=message_id,
            headers=headers,
            delay=delay,
        )

    async def _answer(
        self,
        *,
        record: ApiRequest,
        body: dict[str, Any],
        parsed: MessagesRequest,
        message_id: str,
        headers: dict[str, str],
        delay: float,
    ) -> Response:
        try:
            reply = self.script().respond(parsed)
        except Exception as exc:  # a broken script is a 500 for the CLI, logged for the test
            logger.exception("the fake API's script failed on request %d", record.number)
            self.ledger.update(record, status=500)
            return _error(500, "api_error", f"script failed: {exc!r}", headers)
        usage = usage_for(body, reply)
        model = parsed.model or "claude-fake"
        envelope = Envelope(
            message_id=message_id,
            model=model,
            usage=usage,
            tool_id_prefix=f"toolu_fake_{message_id.removeprefix('msg_fake_')}",
        )
        latency = self.latency()
        pace = None if latency is None else latency.pace(record.number)
        if not parsed.stream:
            wait = delay + (0.0 if pace is None else pace.total(output_chars(reply)))
            if wait:
                await self.sleep(wait)  # the delay is the behaviour under test
            self.ledger.update(record, status=200, usage=usage, message_id=message_id)
            return JSONResponse(message_json(reply, envelope), headers=headers)
        record = self.ledger.update(record, status=200, message_id=message_id)
        chunk = None if latency is None else latency.chunk_chars
        parts = list(sized_frames(reply, envelope, chunk=chunk))
        waits = [delay if index else 0.0 for index in range(len(parts))]
        if pace is not None:
            waits = [w + p for w, p in zip(waits, pace.delays([s for _, s in parts]), strict=True)]

        async def frames() -> AsyncIterator[bytes]:
            for (data, _), wait in zip(parts, waits, strict=True):
                if wait:
                    await self.sleep(wait)  # the delay is the behaviour under test
                yield data
            self.ledger.update(record, usage=usage)  # sent in full: now it counts

        return StreamingResponse(
            frames(),
            media_type="text/event-stream",
            headers=headers | {"cache-control": "no-cache"},
        )


def create_app(
    *,
    script: Callable[[], Script],
    ledger: RequestLedger,
    faults: FaultBook,
    ids: Callable[[int], tuple[str, str]],
    wait_hang: Callable[[float | None], Awaitable[None]],
    release_hangs: Callable[[], None],
    latency: Callable[[], Latency | None] = lambda: None,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    accept_unknown: Callable[[], bool] = lambda: False,
    logins: FakeLogins | None = None,
) -> Starlette:
    """The fake's ASGI app over its owner's state.

    Args:
        script: returns the script to answer with (read per request, so it can change).
        ledger: the request log and credential names.
        faults: the injected fault rules.
        ids: a request number's message id and request id.
        wait_hang: waits until hung requests are released or the given epoch time.
        release_hangs: answers every hung request (called on the server's loop).
        latency: returns the latency model to answer with, or ``None`` for instant
            replies (read per request, so it can change).
        sleep: waits a number of seconds (a test may record the waits instead).
        accept_unknown: returns whether a secret nobody registered is served (read per
            request); by default it is refused with a 401 ``authentication_error``, as
            the real API refuses a key it never issued.
        logins: the OAuth token endpoint's logins (default: none honoured).
    """

    async def post_fault(request: Request) -> Response:
        try:
            rule: FaultRule = rule_from_json(json.loads(await request.body()))
            faults.inject(rule)
        except ValueError as exc:
            return _error(400, "invalid_request_error", str(exc))
        return JSONResponse(rule_to_json(rule), status_code=201)

    async def get_faults(_: Request) -> Response:
        return JSONResponse([rule_to_json(r) for r in faults.rules()])

    async def delete_faults(request: Request) -> Response:
        faults.clear(request.query_params.get("target"))
        return Response(status_code=204)

    async def release(_: Request) -> Response:
        release_hangs()
        return Response(status_code=204)

    async def post_credential(request: Request) -> Response:
        try:
            data = json.loads(await request.body())
            ledger.register(str(data["name"]), str(data["secret"]))
        except (ValueError, TypeError, KeyError) as exc:
            return _error(400, "invalid_request_error", f"need name and secret: {exc}")
        return Response(status_code=204)

    async def get_requests(_: Request) -> Response:
        return JSONResponse([request_to_json(r) for r in ledger.requests])

    async def get_usage(_: Request) -> Response:
        return JSONResponse(attrs.asdict(ledger.served_usage()))

    async def http_error(_: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        kind = "not_found_error" if status == 404 else "invalid_request_error"
        return _error(status, kind, str(getattr(exc, "detail", exc)))

    messages = _Messages(
        script=script,
        ledger=ledger,
        faults=faults,
        ids=ids,
        wait_hang=wait_hang,
        latency=latency,
        sleep=sleep,
        accept_unknown=accept_unknown,
    )
    return Starlette(
        routes=[
            Route("/v1/messages", messages.handle, methods=["POST"]),
            Route("/v1/oauth/token", (logins or FakeLogins(ledger)).handle, methods=["POST"]),
            Route("/_fake/faults", post_fault, methods=["POST"]),
            Route("/_fake/faults", get_faults, methods=["GET"]),
            Route("/_fake/faults", delete_faults, methods=["DELETE"]),
            Route("/_fake/release", release, methods=["POST"]),
            Route("/_fake/credentials", post_credential, methods=["POST"]),
            Route("/_fake/requests", get_requests, methods=["GET"]),
            Route("/_fake/usage", get_usage, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error},
    )
