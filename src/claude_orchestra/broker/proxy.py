"""The broker's HTTP side: a Starlette app that forwards each request upstream.

Every request is authenticated by its broker token (:mod:`~claude_orchestra.broker.tokens`),
then sent upstream with the credential the pool names for the instance
(:mod:`~claude_orchestra.broker.upstream`). An answer that blames the credential before a
byte of it was passed on (:func:`~claude_orchestra.broker.rules.judge`) is reported to the
pool and the same request is sent again on the instance's next credential, except that a
login kept in a credentials file and answered 401 is first refreshed, once, and the
request sent again on it (:func:`~claude_orchestra.broker.rules.refresh_first`); anything else
is passed on as it arrives (:func:`~claude_orchestra.broker.asgi.send_stream`: whatever
came since the last write, in one write), its usage read on the way
(:class:`~claude_orchestra.broker.reading.AnswerReader`). :class:`BrokerApp` is the ASGI
app itself, with no framework between it and the server: every request takes the same
path, so routing and middleware would only add work to each one. The I/O of the broker
is here and in :mod:`~claude_orchestra.broker.asgi`, nowhere else.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol, final

import aiohttp
import attrs
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from claude_orchestra._clock import Clock
from claude_orchestra.auth.credentials import Credential, Secret
from claude_orchestra.broker.asgi import ClientGone, Incoming, incoming, read_body, send_stream
from claude_orchestra.broker.budget import Refuse, Retire, Spent, admit
from claude_orchestra.broker.client import UPSTREAM_ERRORS
from claude_orchestra.broker.meter import BrokerMeter, Served
from claude_orchestra.broker.pool import RotatorPool
from claude_orchestra.broker.reading import AnswerReader, Read
from claude_orchestra.broker.rules import (
    MAX_ERROR_BYTES,
    Rotate,
    error_message,
    judge,
    pressure,
    refresh_first,
)
from claude_orchestra.broker.tokens import BrokerTokens, Holder, presented_token
from claude_orchestra.broker.upstream import (
    downstream_headers,
    upstream_headers,
    upstream_url,
)
from claude_orchestra.costs.budget import BudgetConfig
from claude_orchestra.events import FailureKind

logger = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 64 * 1024 * 1024
"""The largest request body an instance may send (a hostile one could send any size)."""
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE"})
"""The methods forwarded (Claude Code uses ``POST /v1/messages``); others get a 405."""


class ReadLogin(Protocol):
    """Reads the access token of a login kept in a credentials file (see
    :meth:`~claude_orchestra.broker.login.LoginKeeper.access_token`)."""

    async def __call__(
        self, credential: Credential, *, refused: Secret | None = None
    ) -> Secret | None:
        """The login's token; given ``refused`` (a token just answered 401), a new one
        (refreshed once), or ``None`` when there is none."""
        ...


Answer = Callable[[Scope, Receive, Send], Awaitable[None]]
"""What an instance is answered with: a whole response, or a stream passed on."""


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
        return api_error(
            401, "authentication_error", "no usable credential left in the run (invalid or spent)"
        )
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
@attrs.define(kw_only=True)
class _Attempt:
    """One request of an instance, across the credentials it is tried on."""

    holder: Holder
    started: float
    body: bytes
    failures: int = 0
    """Credentials that refused it so far."""
    refused: tuple[int, dict[str, str], bytes] | None = None
    """The last refusal: status, headers, body."""
    tried: set[str] = attrs.field(factory=set)


@final
@attrs.frozen(kw_only=True)
class _Refusal:
    """An answer that blames the credential, nothing of it passed on yet."""

    verdict: Rotate
    status: int
    headers: dict[str, str]
    body: bytes


def _no_login(credential: Credential, reason: str) -> _Refusal:
    """The refusal of a login whose credentials file holds no usable login (unreadable,
    emptied, or refused and not refreshed): nothing is sent; the login is retired."""
    logger.warning("broker: %s: no login to send with: %s", credential.name, reason)
    body = b'{"type":"error","error":{"type":"authentication_error","message":"no login"}}'
    return _Refusal(
        verdict=Rotate(kind=FailureKind.AUTHENTICATION_FAILED, reset_at=None, detail=reason),
        status=401,
        headers={"content-type": "application/json"},
        body=body,
    )


@final
@attrs.frozen(kw_only=True)
class BrokerApp:
    """The request handler and what it needs."""

    tokens: BrokerTokens
    pool: RotatorPool
    meter: BrokerMeter
    client: aiohttp.ClientSession
    clock: Clock
    read_login: ReadLogin
    near_limit: float | None = None
    """Move new requests off a credential that reports this share of a limit used."""
    budget: BudgetConfig = attrs.field(factory=BudgetConfig)
    """Limits no request may start past."""
    spent: Spent = attrs.field(factory=Spent)
    """What went through so far, for the budget."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI app: every path is forwarded."""
        if scope["type"] != "http":  # the server runs without lifespan; nothing else comes
            return
        request = incoming(scope)
        if request.method not in METHODS:
            allowed = ", ".join(sorted(METHODS))
            answer: Answer = Response("Method Not Allowed", 405, headers={"allow": allowed})
        else:
            try:
                answer = await self.handle(request, receive)
            except ClientGone:
                return
        await answer(scope, receive, send)

    async def handle(self, request: Incoming, receive: Receive) -> Answer:
        """Forward one request, rotating before anything streamed when the credential
        fails.

        Raises:
            ClientGone: the instance hung up before its request's body was read.
        """
        holder = self.tokens.holder(presented_token(request.header))
        if holder is None:
            return api_error(401, "authentication_error", "invalid x-api-key")
        body = await read_body(receive, MAX_REQUEST_BYTES)
        if body is None:
            return api_error(413, "request_too_large", "request body too large")
        attempt = _Attempt(holder=holder, started=self.clock.now(), body=body)
        while True:
            credential = self.pool.route(holder.instance)
            if credential is None or credential.name in attempt.tried:
                return self._give_up(attempt)
            attempt.tried.add(credential.name)
            gate = admit(self.budget, self.spent, holder.instance, credential.name)
            if isinstance(gate, Retire):
                self.pool.retire(holder.instance, credential.name, gate.reason)
                continue
            if isinstance(gate, Refuse):
                self._keep(attempt, credential, status=400, error="budget")
                return api_error(400, "invalid_request_error", f"claude-orchestra: {gate.reason}")
            answer = await self._try(request, attempt, credential)
            if answer is not None:
                return answer

    def _give_up(self, attempt: _Attempt) -> Response:
        """No credential is left to try: what the last one said, as it said it, else a 429
        naming the first reset."""
        if attempt.refused is not None:
            status, headers, error = attempt.refused
            self._keep(attempt, None, status=status, error="exhausted")
            return Response(error, status_code=status, headers=headers)
        reply = resting_reply(self.pool.retry_at(), self.clock.wall())
        self._keep(attempt, None, status=reply.status_code, error="exhausted")
        return reply

    async def _try(
        self, request: Incoming, attempt: _Attempt, credential: Credential
    ) -> Answer | None:
        """Send the request on ``credential``: its answer, or ``None`` when the credential
        failed before anything streamed (it was reported; try the next). A login refused
        with a 401 is refreshed once and the request sent again on it first."""
        login = await self.read_login(credential) if credential.oauth_file else None
        answer = await self._ask(request, attempt, credential, login)
        if isinstance(answer, _Refusal) and refresh_first(answer.verdict, login=login is not None):
            logger.info(
                "broker: %s: the login was answered %d; refreshing it to send again",
                credential.name,
                answer.status,
            )
            login = await self.read_login(credential, refused=login)
            if login is not None:
                answer = await self._ask(request, attempt, credential, login)
        if not isinstance(answer, _Refusal):
            return answer
        attempt.failures += 1
        attempt.refused = (answer.status, answer.headers, answer.body)
        self.meter.refused(credential.name, answer.verdict.kind.value)
        self.pool.failed(
            attempt.holder.instance,
            credential.name,
            answer.verdict.kind,
            reset_at=answer.verdict.reset_at,
            detail=answer.verdict.detail,
        )
        return None

    async def _ask(
        self, request: Incoming, attempt: _Attempt, credential: Credential, login: Secret | None
    ) -> Answer | _Refusal:
        """Send the request once on ``credential`` (with ``login``, a login's token): the
        answer to pass on, or the refusal that blames the credential."""
        try:
            sent = upstream_headers(request.headers, credential, oauth_token=login)
        except ValueError as exc:  # a login's file that holds no login (any more)
            return _no_login(credential, str(exc))
        try:
            upstream = await self._send(request, attempt.body, credential, sent)
        except UPSTREAM_ERRORS as exc:
            logger.warning("broker: %s: upstream unreachable: %r", credential.name, exc)
            self._keep(attempt, credential, status=502, error="unreachable")
            return api_error(502, "api_error", f"upstream unreachable: {type(exc).__name__}")
        headers = downstream_headers(upstream.headers.items())
        if upstream.status < 400:
            self._watch_pressure(attempt.holder, credential, upstream.headers)
            return functools.partial(
                self._relay,
                upstream=upstream,
                attempt=attempt,
                credential=credential,
                headers=headers,
            )
        error = await _read_capped(upstream)
        verdict = judge(upstream.status, upstream.headers, error, now=self.clock.wall())
        if not isinstance(verdict, Rotate):
            self._keep(attempt, credential, status=upstream.status, error=_error_kind(error))
            return Response(error, status_code=upstream.status, headers=headers)
        return _Refusal(verdict=verdict, status=upstream.status, headers=headers, body=error)

    async def _send(
        self, request: Incoming, body: bytes, credential: Credential, headers: dict[str, str]
    ) -> aiohttp.ClientResponse:
        return await self.client.request(
            request.method,
            upstream_url(credential, request.path, request.query),
            headers=headers,
            data=body or None,
            allow_redirects=False,
        )

    def _watch_pressure(
        self, holder: Holder, credential: Credential, headers: Mapping[str, str]
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
        _scope: Scope,
        receive: Receive,
        send: Send,
        *,
        upstream: aiohttp.ClientResponse,
        attempt: _Attempt,
        credential: Credential,
        headers: dict[str, str],
    ) -> None:
        """Pass the answer on as it comes; keep its record however it ends."""
        reader = AnswerReader(
            streamed="text/event-stream" in upstream.headers.get("content-type", "")
        )
        first: list[float] = []

        def passing(data: bytes) -> None:
            if not first:
                first.append(self.clock.now() - attempt.started)
            reader.feed(data)

        try:
            await send_stream(
                send,
                receive,
                status=upstream.status,
                headers=headers.items(),
                chunks=upstream.content.iter_any(),
                on_batch=passing,
            )
        finally:
            read = reader.read()
            if read.usage is not None:
                self.spent.add(attempt.holder.instance, credential.name, read.model, read.usage)
            self._keep(
                attempt,
                credential,
                status=upstream.status,
                read=read,
                first_byte=first[0] if first else None,
                size=reader.size,
            )
            upstream.close()  # cut: its connection closed (read to its end: pooled already)

    def _keep(
        self,
        attempt: _Attempt,
        credential: Credential | None,
        *,
        status: int,
        error: str | None = None,
        read: Read | None = None,
        first_byte: float | None = None,
        size: int = 0,
    ) -> None:
        read = read or Read(error=error)
        self.meter.keep(
            Served(
                instance=attempt.holder.instance,
                credential=credential.name if credential else None,
                status=status,
                usage=read.usage,
                message_id=read.message_id,
                model=read.model,
                error=read.error,
                rotations=attempt.failures,
                first_byte=first_byte,
                seconds=self.clock.now() - attempt.started,
                size=size,
            )
        )


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    """An error answer's body (capped), the connection released."""
    data = bytearray()
    try:
        async for chunk in response.content.iter_any():
            data += chunk
            if len(data) >= MAX_ERROR_BYTES:
                break
    finally:
        response.close()
    return bytes(data[:MAX_ERROR_BYTES])


def _error_kind(body: bytes) -> str:
    kind, _ = error_message(body)
    return kind or "error"


def create_broker_app(handler: BrokerApp) -> ASGIApp:
    """The ASGI app: every path is forwarded (Claude Code uses ``/v1/messages``)."""
    return handler
