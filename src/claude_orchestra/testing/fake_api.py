"""A fake Anthropic Messages API for running the real Claude Code CLI offline.

:class:`FakeAnthropicAPI` serves ``POST /v1/messages`` on 127.0.0.1 the way Claude Code
2.1.328 expects it (see claude-code-facts §2): SSE frames for ``stream: true``, the
message JSON otherwise, a ``request-id`` header, API-shaped errors. A :class:`Script`
decides every reply. Only registered secrets are served: a key or token that no
:meth:`~FakeAnthropicAPI.register` call named gets the real API's 401
``authentication_error`` (logged under its last four characters), unless
``accept_unknown_keys`` is set. Faults are injected per credential, and a small control API
under ``/_fake/`` lets other processes inject faults and read the log and usage.

Use it as a context manager (the server runs on its own event loop in a thread, for plain
tests and subprocesses) or as an async context manager (in the caller's task group)::

    with FakeAnthropicAPI(script=EchoScript()) as fake:
        fake.register("alice", "sk-ant-test-alice")
        fake.inject("alice", Fault.rate_limit(retry_after=3600), times=1)
        ...  # run claude with ANTHROPIC_BASE_URL=fake.base_url
        assert fake.requests[0].status == 429

Replies are instant unless a :class:`~claude_orchestra.testing.latency.Latency` is given:
``FakeAnthropicAPI(latency=Latency(first_token=(1, 3), tokens_per_second=(30, 80),
seed=7))`` answers like a model, a seeded wait for the first token then the output
streamed over several frames.

Standalone: ``python -m claude_orchestra.testing.fake_api --port 0 [--script echo]
[--key NAME=SECRET ...] [--accept-any-key]
[--latency [--first-token 1-3] [--tokens-per-second 30-80] [--seed 0]]`` prints
``listening on http://127.0.0.1:PORT`` and serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import math
import secrets
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Self, final

import anyio
import anyio.from_thread
import attrs
import uvicorn
from anyio.abc import TaskStatus
from anyio.from_thread import BlockingPortal

from claude_orchestra.auth.credentials import Secret
from claude_orchestra.costs.transcripts import Usage
from claude_orchestra.intake.server import bind
from claude_orchestra.testing import fake_app
from claude_orchestra.testing.fake_oauth import FakeLogins
from claude_orchestra.testing.faults import ANY, Fault, FaultBook, FaultKind, FaultRule
from claude_orchestra.testing.latency import Latency
from claude_orchestra.testing.ledger import ApiRequest, RequestLedger
from claude_orchestra.testing.scripted import EchoScript, OrchestraScript, Script

__all__ = [
    "ANY",
    "ApiRequest",
    "FakeAnthropicAPI",
    "Fault",
    "FaultKind",
    "FaultRule",
    "Latency",
    "main",
]

_GRACE = 5
"""Seconds uvicorn waits for running replies at shutdown before cancelling them."""

SCRIPTS: dict[str, Callable[[], Script]] = {"orchestra": OrchestraScript, "echo": EchoScript}
"""Script names for ``--script``."""


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: whoever runs the fake owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@final
@attrs.define(eq=False)
class FakeAnthropicAPI:
    """The fake Messages API server: a scripted model, a request log, injected faults.

    Attributes:
        script: decides every reply; may be swapped while serving.
        host: the address to bind (only loopback unless you mean it).
        port: the port to bind; 0 picks a free one (see :attr:`base_url`).
        latency: model-like timing of every reply; ``None`` (the default) answers at
            once. May be swapped while serving.
        accept_unknown_keys: serve secrets nobody registered too (``False``, the
            default: they get a 401 ``authentication_error``, as from the real API). May
            be changed while serving.
    """

    script: Script = attrs.field(factory=OrchestraScript)
    host: str = "127.0.0.1"
    port: int = 0
    latency: Latency | None = None
    accept_unknown_keys: bool = False
    _ledger: RequestLedger = attrs.field(init=False, repr=False, factory=RequestLedger)
    logins: FakeLogins = attrs.field(
        init=False, repr=False, default=attrs.Factory(lambda s: FakeLogins(s._ledger), True)
    )
    """The OAuth token endpoint's logins: ``logins.issue(name, refresh_token)``."""
    _faults: FaultBook = attrs.field(init=False, repr=False, factory=FaultBook)
    _run_token: str = attrs.field(init=False, repr=False, factory=lambda: secrets.token_hex(3))
    _bound_port: int | None = attrs.field(init=False, repr=False, default=None)
    _server: uvicorn.Server | None = attrs.field(init=False, repr=False, default=None)
    _hang: anyio.Event | None = attrs.field(init=False, repr=False, default=None)
    _closing: bool = attrs.field(init=False, repr=False, default=False)
    _portal: anyio.from_thread.BlockingPortal | None = attrs.field(
        init=False, repr=False, default=None
    )
    _stack: contextlib.ExitStack | None = attrs.field(init=False, repr=False, default=None)
    _astack: contextlib.AsyncExitStack | None = attrs.field(init=False, repr=False, default=None)

    # -- what tests read ----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``, for ``ANTHROPIC_BASE_URL``.

        Raises:
            RuntimeError: the server is not running.
        """
        if self._bound_port is None:
            raise RuntimeError("the fake API is not running")
        return f"http://{self.host}:{self._bound_port}"

    @property
    def requests(self) -> tuple[ApiRequest, ...]:
        """Every request so far, in arrival order (``status`` ``None``: not answered yet)."""
        return self._ledger.requests

    def served_usage(self) -> Usage:
        """Token totals over the replies served in full, each response counted once."""
        return self._ledger.served_usage()

    def wait_for_request(
        self,
        predicate: Callable[[ApiRequest], bool] | None = None,
        *,
        timeout: float = 10.0,
        start: int = 0,
    ) -> ApiRequest:
        """Block until a request (from index ``start``) satisfies ``predicate``.

        Blocking: from async code, call it through ``anyio.to_thread.run_sync``.

        Raises:
            TimeoutError: none did within ``timeout`` seconds.
        """
        return self._ledger.wait_for(predicate or (lambda _: True), timeout=timeout, start=start)

    # -- what tests change --------------------------------------------------------------

    def register(self, name: str, secret: Secret | str) -> None:
        """Name the caller that sends ``secret`` (as ``x-api-key`` or Bearer token); only
        registered secrets are served (see ``accept_unknown_keys``)."""
        self._ledger.register(name, secret)

    def credential_name_for(self, secret: Secret | str) -> str:
        """The name the log and fault targets use for ``secret``."""
        return self._ledger.name_for(secret)

    def inject(
        self, target: str, fault: Fault, *, times: int | None = None, until: float | None = None
    ) -> FaultRule:
        """Make requests from ``target`` (a credential name, or ``"*"``) fail with ``fault``.

        Args:
            target: a registered name, ``...<last 4 chars>`` of an unknown secret, or ``"*"``.
            fault: what goes wrong.
            times: how many requests it hits; ``None`` for no count.
            until: epoch seconds when it ends; ``None`` (and no ``times``): forever.
        """
        rule = FaultRule(target=target, fault=fault, times=times, until=until)
        self._faults.inject(rule)
        return rule

    def clear_faults(self, target: str | None = None) -> None:
        """Remove every injected fault, or only ``target``'s."""
        self._faults.clear(target)

    def faults(self) -> tuple[FaultRule, ...]:
        """The fault rules still active."""
        return self._faults.rules()

    def release_hangs(self) -> None:
        """Let every hung request go on to its normal reply.

        Call it from the thread that started the server: any thread for the sync context
        manager, the event loop's for the async one.
        """
        if self._portal is not None:
            self._portal.call(self._release_in_loop)
        else:
            self._release_in_loop()

    # -- used by the app (on the server's event loop) ----------------------------------

    def _release_in_loop(self) -> None:
        event, self._hang = self._hang, None
        if event is not None:
            event.set()

    async def _wait_hang(self, until: float | None) -> None:
        if self._closing:
            return
        if self._hang is None:
            self._hang = anyio.Event()
        timeout = math.inf if until is None else max(0.0, until - time.time())
        with anyio.move_on_after(timeout):
            await self._hang.wait()

    def _ids(self, number: int) -> tuple[str, str]:
        return f"msg_fake_{self._run_token}_{number}", f"req_fake_{self._run_token}_{number}"

    # -- lifecycle ------------------------------------------------------------------------

    async def _serve(self, *, task_status: TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
        app = fake_app.create_app(
            script=lambda: self.script,
            ledger=self._ledger,
            faults=self._faults,
            ids=self._ids,
            wait_hang=self._wait_hang,
            release_hangs=self._release_in_loop,
            latency=lambda: self.latency,
            accept_unknown=lambda: self.accept_unknown_keys,
            logins=self.logins,
        )
        sock = bind(self.host, self.port)
        try:
            config = uvicorn.Config(
                app,
                log_config=None,
                log_level="warning",
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=_GRACE,
            )
            server = self._server = _QuietServer(config)
            task_status.started(sock.getsockname()[1])
            try:
                await server.serve(sockets=[sock])
            except anyio.get_cancelled_exc_class():
                # Cancelled rather than asked to exit: still close every connection.
                with anyio.CancelScope(shield=True), anyio.move_on_after(_GRACE + 1):
                    await server.shutdown(sockets=[sock])
                raise
        finally:
            sock.close()

    def _begin_shutdown(self) -> None:
        """On the server's loop: answer hung requests, then let uvicorn exit."""
        self._closing = True
        self._release_in_loop()
        if self._server is not None:
            self._server.should_exit = True

    def __enter__(self) -> Self:
        """Start serving on a private event loop in a background thread."""
        if self._bound_port is not None:
            raise RuntimeError("the fake API is already running")
        with contextlib.ExitStack() as stack:
            portal = stack.enter_context(anyio.from_thread.start_blocking_portal("asyncio"))
            future, port = portal.start_task(self._serve)
            stack.callback(self._stop_in_thread, portal, future)
            self._portal, self._bound_port, self._closing = portal, port, False
            self._stack = stack.pop_all()
        return self

    def _stop_in_thread(
        self, portal: BlockingPortal, future: concurrent.futures.Future[None]
    ) -> None:
        portal.call(self._begin_shutdown)
        done, _ = concurrent.futures.wait([future], timeout=_GRACE + 2)
        if not done:
            future.cancel()
        self._portal = None
        self._bound_port = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server and its thread; hung requests are answered first."""
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()

    async def __aenter__(self) -> Self:
        """Start serving in a task group on the current event loop."""
        if self._bound_port is not None:
            raise RuntimeError("the fake API is already running")
        async with contextlib.AsyncExitStack() as stack:
            tg = await stack.enter_async_context(anyio.create_task_group())
            self._closing = False
            self._bound_port = await tg.start(self._serve)
            stack.callback(self._forget_port)
            stack.callback(self._begin_shutdown)
            self._astack = stack.pop_all()
        return self

    def _forget_port(self) -> None:
        self._bound_port = None

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server (hung requests are answered first)."""
        stack, self._astack = self._astack, None
        if stack is not None:
            await stack.__aexit__(exc_type, exc, tb)


async def _serve_until_signal(fake: FakeAnthropicAPI) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with fake:
            print(f"listening on {fake.base_url}", flush=True)
            async for _ in signals:
                break


def _range(text: str) -> tuple[float, float]:
    """``"1-3"`` or ``"2"`` as ``(low, high)``."""
    low, _, high = text.partition("-")
    try:
        return float(low), float(high or low)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW-HIGH or a number, got {text!r}") from None


def _named_key(text: str) -> tuple[str, str]:
    """``"NAME=SECRET"`` as ``(name, secret)``."""
    name, equals, secret = text.partition("=")
    if not (name and equals and secret):
        raise argparse.ArgumentTypeError("expected NAME=SECRET")
    return name, secret


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fake standalone until SIGINT or SIGTERM; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m claude_orchestra.testing.fake_api")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (0: a free one)")
    parser.add_argument("--script", choices=sorted(SCRIPTS), default="orchestra")
    model = Latency()
    timing = parser.add_argument_group("latency", "model-like replies (default: instant)")
    timing.add_argument("--latency", action="store_true", help="answer like a model")
    timing.add_argument(
        "--first-token",
        type=_range,
        metavar="LOW-HIGH",
        help="seconds to the first token, drawn uniformly (1-3)",
    )
    timing.add_argument(
        "--tokens-per-second",
        type=_range,
        metavar="LOW-HIGH",
        help="output rate, drawn uniformly (30-80)",
    )
    timing.add_argument("--seed", type=int, default=0, help="seed of the draws (0)")
    callers = parser.add_argument_group(
        "callers",
        "who is served (default: only secrets registered here or by POST /_fake/credentials)",
    )
    callers.add_argument(
        "--key",
        action="append",
        default=[],
        type=_named_key,
        metavar="NAME=SECRET",
        help="serve SECRET (x-api-key or Bearer token) and log it as NAME; repeatable",
    )
    callers.add_argument(
        "--accept-any-key", action="store_true", help="serve unregistered secrets too"
    )
    args = parser.parse_args(argv)
    latency = None
    if args.latency or args.first_token or args.tokens_per_second:
        try:
            latency = Latency(
                first_token=args.first_token or model.first_token,
                tokens_per_second=args.tokens_per_second or model.tokens_per_second,
                seed=args.seed,
            )
        except ValueError as exc:
            parser.error(str(exc))
    fake = FakeAnthropicAPI(
        script=SCRIPTS[args.script](),
        host=args.host,
        port=args.port,
        latency=latency,
        accept_unknown_keys=args.accept_any_key,
    )
    for name, secret in args.key:
        fake.register(name, secret)
    anyio.run(_serve_until_signal, fake)
    return 0


if __name__ == "__main__":
    sys.exit(main())
