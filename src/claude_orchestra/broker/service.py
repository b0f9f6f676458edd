"""The broker as a run uses it: bound on 127.0.0.1, serving in the run's task group.

:class:`Broker` owns the HTTP client, the tokens and the meter; ``await tg.start(broker.
serve)`` returns once it listens, before any instance starts. Each launch of an instance
gets :meth:`Broker.launch_credential`: the broker's URL and a token of that launch, in the
place of a real credential, so no real key or login reaches an instance's environment or
files. Real credentials stay in this process: the rotator's pool, read here.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self, final

import anyio
import anyio.abc
from anyio.abc import TaskStatus

from claude_orchestra._clock import Clock, SystemClock
from claude_orchestra.auth.credentials import Credential, CredentialKind, Secret
from claude_orchestra.broker.budget import Spent
from claude_orchestra.broker.client import upstream_session
from claude_orchestra.broker.login import TOKEN_URL, LoginKeeper
from claude_orchestra.broker.meter import BrokerMeter
from claude_orchestra.broker.pool import RotatorPool
from claude_orchestra.broker.proxy import BrokerApp, create_broker_app
from claude_orchestra.broker.tokens import BrokerTokens
from claude_orchestra.broker.wire import BatchingHttpToolsProtocol
from claude_orchestra.costs.budget import BudgetConfig
from claude_orchestra.costs.transcripts import DEFAULT_PRICES, Price
from claude_orchestra.intake import server as hookserver

BROKER_CREDENTIAL = "broker"
"""The name of every launch credential (the real one is the rotator's to name)."""


@final
class Broker:
    """A run's credential broker (see :mod:`claude_orchestra.broker`)."""

    def __init__(
        self,
        pool: RotatorPool,
        *,
        clock: Clock | None = None,
        near_limit: float | None = None,
        meter: BrokerMeter | None = None,
        budget: BudgetConfig | None = None,
        prices: Mapping[str, Price] | None = None,
        token_url: str = TOKEN_URL,
    ) -> None:
        """Prepare a broker; nothing listens until :meth:`serve`.

        Args:
            pool: the rotator, as the broker uses it.
            clock: the clock (tests pass a fake one).
            near_limit: move new requests off a credential whose answers report this
                share of a limit used (``None``: only after a 429).
            meter: where served requests are kept (default: a new one).
            budget: limits no request may start past (default: none).
            prices: USD per million tokens by model, for the budget's USD limits.
            token_url: where a Claude login is refreshed (:mod:`.login`).
        """
        self.pool = pool
        self.tokens = BrokerTokens()
        self.meter = meter or BrokerMeter()
        self._clock = clock or SystemClock()
        self._near_limit = near_limit
        self._budget = budget or BudgetConfig()
        self.spent = Spent(prices=dict(prices or DEFAULT_PRICES))
        self._token_url = token_url
        self.logins: LoginKeeper | None = None
        """The logins' keeper, while the broker serves."""
        self._base_url: str | None = None
        self._stack: anyio.abc.TaskGroup | None = None

    def __repr__(self) -> str:
        return f"<Broker {self._base_url or 'not listening'}>"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``.

        Raises:
            RuntimeError: the broker is not listening.
        """
        if self._base_url is None:
            raise RuntimeError("the broker is not listening")
        return self._base_url

    async def serve(self, *, task_status: TaskStatus[str] = anyio.TASK_STATUS_IGNORED) -> None:
        """Listen on a free port of 127.0.0.1 until cancelled; ``task_status.started`` gets
        the base URL."""
        sock = hookserver.bind("127.0.0.1", 0)
        port: int = sock.getsockname()[1]
        async with upstream_session() as client:
            self.logins = LoginKeeper(client, self._clock, self._token_url)
            app = create_broker_app(
                BrokerApp(
                    tokens=self.tokens,
                    pool=self.pool,
                    meter=self.meter,
                    client=client,
                    clock=self._clock,
                    read_login=self.logins.access_token,
                    near_limit=self._near_limit,
                    budget=self._budget,
                    spent=self.spent,
                )
            )
            self._base_url = f"http://127.0.0.1:{port}"
            try:
                # The socket listens already: a request sent the moment this returns waits
                # in the kernel's queue, never refused.
                async with anyio.create_task_group() as tg:
                    tg.start_soon(
                        functools.partial(
                            hookserver.serve,
                            app,
                            sock=sock,
                            name="broker",
                            protocol=BatchingHttpToolsProtocol,
                        )
                    )
                    task_status.started(self._base_url)
            finally:
                self._base_url = None

    def launch_credential(self, instance: str, launch: int) -> Credential:
        """The broker's URL and a new token for ``instance``'s ``launch``-th process (the
        previous launch's token stops working)."""
        token = self.tokens.issue(instance, launch)
        return Credential(
            name=BROKER_CREDENTIAL,
            kind=CredentialKind.API_KEY,
            env={"ANTHROPIC_BASE_URL": self.base_url, "ANTHROPIC_API_KEY": token},
            source="broker",
        )

    def credential_of(self, instance: str) -> Credential:
        """The real credential ``instance`` holds in the rotator."""
        return self.pool.holder(instance)

    def secrets(self) -> tuple[Secret, ...]:
        """Every token issued (for log redaction)."""
        return self.tokens.secrets()

    def as_json(self) -> dict[str, Any]:
        """Requests, tokens, errors and timings per instance and credential, and every
        move between credentials."""
        return {
            **self.meter.as_json(),
            "rotations": [
                {
                    "instance": m.instance,
                    "from_credential": m.from_credential,
                    "to_credential": m.to_credential,
                    "reason": m.reason,
                    "evidence": m.evidence,
                    "at": m.at,
                }
                for m in self.pool.moves
            ],
        }

    async def __aenter__(self) -> Self:
        """Serve in a task group of its own (for tests and scripts)."""
        self._stack = anyio.create_task_group()
        await self._stack.__aenter__()
        await self._stack.start(self.serve)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop serving."""
        group, self._stack = self._stack, None
        if group is not None:
            group.cancel_scope.cancel()
            await group.__aexit__(exc_type, exc, tb)
