"""The broker's HTTP side: a Starlette app that forwards each request upstream.

Every request is authenticated by its broker token (:mod:`~claude_orchestra.broker.tokens`),
then sent upstream with the credential the pool names for the instance
(:mod:`~claude_orchestra.broker.upstream`). An answer that blames the credential before a
byte of it was passed on (:func:`~claude_orchestra.broker.rules.judge`) is reported to the
pool and the same request is sent again on the instance's next credential; anything else
is passed on chunk by chunk as it arrives, its usage read on the way
(:class:`~claude_orchestra.broker.sse.UsageMeter`). The I/O of the broker is here and
nowhere else.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import final

import attrs
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from claude_orchestra._clock import Clock
from claude_orchestra.broker.meter import BrokerMeter, Served
from claude_orchestra.broker.pool import RotatorPool
from claude_orchestra.broker.rules import (
    MAX_ERROR_BYTES,
    Rotate,
    error_message,
    judge,
    pressure,
)
from claude_orchestra.broker.sse import UsageMeter
from claude_orchestra.broker.tokens import BrokerTokens, Holder, presented_token
from claude_orchestra.broker.upstream import (
    downstream_headers,
    upstream_headers,
    upstream_url,
)
from claude_orchestra.credentials import Credential, Secret
from claude_orchestra.transcripts import Usage

logger = logging.getLogger(__name__)

ReadLogin = Callable[[Credential], Awaitable[Secret | None]]
"""Reads the access token of a login kept in a credentials file."""


def api_error(
    status: int, kind: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """An error in the API's own shape, so Claude Code reads it as the API's."""
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def resting_reply(retry_at: float | None, now: float) -> Response:
    """The 429 for an instance whose every credential rests: its reset time in words
    Claude Code shows and the orchestrator reads back, rounded up to the minute."""
    if retry_at is None:
        return api_error(401, "authentication_error", "no valid credential left in the run")
    minute = math.ceil(retry_at / 60) * 60
    shown = dt.datetime.fromtimestamp(minute, dt.UTC).strftime("%I:%M%p").lstrip("0").lower()
    wait = max(1, math.ceil(retry_at - now))
    return api_error(
        429,
        "rate_limit_error",
        f"every credential of the run is resting; the first resets {shown} (UTC)",
        {"retry-after": str(wait), "x-should-retry": "false"},
    )


@final
@attrs.frozen(kw_only=True)
class BrokerApp:
    """The request handler and what it needs."""

    tokens: BrokerTokens
    pool: RotatorPool
    meter: BrokerMeter
    client: httpx.AsyncClient
    clock: Clock
    read_login: ReadLogin
    near_limit: float | None = None
    """Move new requests off a credential that reports this share of a limit used."""

    async def handle(self, request: Request) -> Response:
        """Forward one request, rotating before anything streamed when the credential
        fails."""
        started = self.clock.now()
        holder = self.tokens.holder(presented_token(dict(request.headers)))
        if holder is None:
            return api_error(401, "authentication_error", "invalid x-api-key")
        body = await request.body()
        failures = 0
        refused: tuple[int, dict[str, str], bytes] | None = None
        tried: set[str] = set()
        while True:
            credential = self.pool.route(holder.instance)
            if credential is None or credential.name in tried:
                self._keep(holder, None, started, failures, status=429, error="resting")
                if refused is not None:  # what the last credential said, as it said it
                    status, headers, error = refused
                    return Response(error, status_code=status, headers=headers)
                return resting_reply(self.pool.retry_at(), self.clock.wall())
            tried.add(credential.name)
            try:
                upstream = await self._send(request, body, credential)
            except httpx.HTTPError as exc:
                logger.warning("broker: %s: upstream unreachable: %s", credential.name, exc)
                self._keep(holder, credential, started, failures, status=502, error="unreachable")
                return api_error(502, "api_error", f"upstream unreachable: {type(exc).__name__}")
            if upstream.status_code >= 400:
                error = await _read_capped(upstream)
                verdict = judge(
                    upstream.status_code, upstream.headers, error, now=self.clock.wall()
                )
                headers = downstream_headers(upstream.headers.items())
                if isinstance(verdict, Rotate):
                    failures += 1
                    self.meter.refused(credential.name, verdict.kind.value)
                    refused = (upstream.status_code, headers, error)
                    self.pool.failed(
                        holder.instance,
                        credential.name,
                        verdict.kind,
                        reset_at=verdict.reset_at,
                        detail=verdict.detail,
                    )
                    continue
                kind = _error_kind(error)
                self._keep(
                    holder, credential, started, failures, status=upstream.status_code, error=kind
                )
                return Response(error, status_code=upstream.status_code, headers=headers)
            self._watch_pressure(holder, credential, upstream.headers)
            return StreamingResponse(
                self._relay(upstream, holder, credential, started, failures),
                status_code=upstream.status_code,
                headers=downstream_headers(upstream.headers.items()),
            )

    async def _send(self, request: Request, body: bytes, credential: Credential) -> httpx.Response:
        login = await self.read_login(credential) if credential.oauth_file else None
        outgoing = self.client.build_request(
            request.method,
            upstream_url(credential, request.url.path, request.url.query),
            headers=upstream_headers(request.headers.items(), credential, oauth_token=login),
            content=body,
        )
        return await self.client.send(outgoing, stream=True)

    def _watch_pressure(
        self, holder: Holder, credential: Credential, headers: httpx.Headers
    ) -> None:
        if self.near_limit is None:
            return
        seen = pressure(headers, now=self.clock.wall())
        if seen is not None and seen.used >= self.near_limit:
            self.pool.strained(
                holder.instance,
                credential.name,
                used=seen.used,
                reset_at=seen.reset_at,
                threshold=self.near_limit,
            )

    async def _relay(
        self,
        upstream: httpx.Response,
        holder: Holder,
        credential: Credential,
        started: float,
        failures: int,
    ) -> AsyncIterator[bytes]:
        """Pass the answer on as it comes; keep its record however it ends."""
        meter = UsageMeter()
        streamed = "text/event-stream" in upstream.headers.get("content-type", "")
        first: float | None = None
        size = 0
        whole = bytearray()
        try:
            async for chunk in upstream.aiter_raw():
                if first is None:
                    first = self.clock.now() - started
                size += len(chunk)
                if streamed:
                    meter.feed(chunk)
                elif len(whole) < MAX_ERROR_BYTES * 64:
                    whole += chunk
                yield chunk
        finally:
            await upstream.aclose()
            if streamed:
                usage = meter.usage if meter.started else None
                error = f"stream:{meter.error}" if meter.error else None
                if not meter.finished:
                    error = error or "cut"
            else:
                usage, error = _message_usage(bytes(whole)), None
            self.meter.keep(
                Served(
                    instance=holder.instance,
                    credential=credential.name,
                    status=upstream.status_code,
                    usage=usage,
                    error=error,
                    rotations=failures,
                    first_byte=first,
                    seconds=self.clock.now() - started,
                    size=size,
                )
            )

    def _keep(
        self,
        holder: Holder,
        credential: Credential | None,
        started: float,
        failures: int,
        *,
        status: int,
        error: str | None,
    ) -> None:
        self.meter.keep(
            Served(
                instance=holder.instance,
                credential=credential.name if credential else None,
                status=status,
                error=error,
                rotations=failures,
                seconds=self.clock.now() - started,
            )
        )


async def _read_capped(response: httpx.Response) -> bytes:
    """An error answer's body (capped), the connection released."""
    data = bytearray()
    try:
        async for chunk in response.aiter_raw():
            data += chunk
            if len(data) >= MAX_ERROR_BYTES:
                break
    finally:
        await response.aclose()
    return bytes(data[:MAX_ERROR_BYTES])


def _error_kind(body: bytes) -> str:
    kind, _ = error_message(body)
    return kind or "error"


def _message_usage(body: bytes) -> Usage | None:
    """The usage of a whole (non-streamed) message."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    usage = data.get("usage") if isinstance(data, dict) else None
    return Usage.from_api(usage) if isinstance(usage, dict) else None


def create_broker_app(handler: BrokerApp) -> Starlette:
    """The ASGI app: every path is forwarded (Claude Code uses ``/v1/messages``)."""
    return Starlette(
        routes=[Route("/{path:path}", handler.handle, methods=["GET", "POST", "PUT", "DELETE"])]
    )
