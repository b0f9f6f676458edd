"""One SSH connection to a host (asyncssh), kept up for the run: the only SSH I/O.

A :class:`HostLink` opens the connection, runs commands on it (standard input is how a
secret reaches the host), and keeps reverse port forwards: a listener on the host's
``127.0.0.1`` per orchestrator port the instances there must reach (the hook app, a
loopback API, a loopback git server). Nothing is ever bound on a public address.

When the connection drops (:meth:`maintain` waits for it to close: no polling), callers
of :meth:`run` wait for it to come back; it is opened again with back-off
(:func:`backoff`), each forward is bound again **on the same host port** (the running
instances have those URLs), and the change is reported through ``notify``. The host's tmux
server never depended on the connection, so the instances there kept working.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Iterator
from typing import final

import anyio
import asyncssh
from anyio.abc import TaskStatus

from claude_orchestra.errors import RemoteError
from claude_orchestra.runtimes.remote.hosts import RemoteHost

logger = logging.getLogger(__name__)

_CONNECT_TIMEOUT = 15.0
_COMMAND_TIMEOUT = 120.0
_WAIT_FOR_LINK = 120.0
"""How long a command waits for a dropped connection to come back before it fails."""

Notify = Callable[[str, str], Awaitable[None]]
"""``notify(what, evidence)``: ``what`` is ``"lost"`` or ``"back"``."""


def backoff(first: float = 0.25, cap: float = 10.0) -> Iterator[float]:
    """The waits before each reconnection attempt: doubling from ``first``, at most ``cap``."""
    delay = first
    while True:
        yield delay
        delay = min(cap, delay * 2)


def _options(host: RemoteHost) -> asyncssh.SSHClientConnectionOptions:
    """How to connect: the host's login, key and known hosts (an unknown host key is
    refused), with keep-alives so a silent drop is noticed in seconds."""
    options = asyncssh.SSHClientConnectionOptions(
        port=host.port,
        username=host.user or (),
        client_keys=[os.path.expanduser(host.identity_file)] if host.identity_file else (),
        keepalive_interval=5,
        keepalive_count_max=3,
        connect_timeout=_CONNECT_TIMEOUT,
    )
    if host.known_hosts is None:  # asyncssh's default, ~/.ssh/known_hosts
        return options
    return asyncssh.SSHClientConnectionOptions(
        options=options, known_hosts=os.path.expanduser(host.known_hosts)
    )


@final
class HostLink:
    """The run's connection to one host."""

    def __init__(self, host: RemoteHost) -> None:
        self.host = host
        self._conn: asyncssh.SSHClientConnection | None = None
        self._up = anyio.Event()
        self._ports: dict[int, int] = {}
        """Orchestrator port -> the host's loopback port forwarding to it."""
        self._closing = False
        self._lock = anyio.Lock()

    def __repr__(self) -> str:
        return f"<HostLink {self.host.name} {'up' if self._up.is_set() else 'down'}>"

    @property
    def up(self) -> bool:
        """The connection is open now."""
        return self._up.is_set()

    async def open(self) -> None:
        """Connect (a no-op when connected).

        Raises:
            RemoteError: the host refused or could not be reached.
        """
        async with self._lock:
            if self._conn is None or self._conn.is_closed():
                await self._connect()

    async def _connect(self) -> None:
        host = self.host
        try:
            options = await anyio.to_thread.run_sync(_options, host)  # reads key files
            conn = await asyncssh.connect(host.address, options=options)
        except (OSError, asyncssh.Error) as exc:
            raise RemoteError(host.name, "connect", str(exc) or type(exc).__name__) from exc
        try:  # the same host ports as before: the running instances have those URLs
            for local, remote in sorted(self._ports.items()):
                await conn.forward_remote_port("127.0.0.1", remote, "127.0.0.1", local)
        except (OSError, asyncssh.Error) as exc:
            conn.close()
            raise RemoteError(host.name, "forward", str(exc) or type(exc).__name__) from exc
        self._conn = conn
        self._up.set()
        logger.info("connected to %s (%s)", host.name, host.address, extra={"host": host.name})

    async def forward(self, local_port: int) -> int:
        """The host's loopback port that reaches ``local_port`` here (bound once).

        Raises:
            RemoteError: the host refused the forward.
        """
        if local_port in self._ports:
            return self._ports[local_port]
        conn = await self._connection()
        try:
            listener = await conn.forward_remote_port("127.0.0.1", 0, "127.0.0.1", local_port)
        except (OSError, asyncssh.Error) as exc:
            raise RemoteError(self.host.name, "forward", str(exc)) from exc
        self._ports[local_port] = listener.get_port()
        return self._ports[local_port]

    @property
    def ports(self) -> dict[int, int]:
        """The forwards: orchestrator port -> host port."""
        return dict(self._ports)

    async def _connection(self) -> asyncssh.SSHClientConnection:
        if self._closing:
            raise RemoteError(self.host.name, "connect", "the link is closed")
        with anyio.move_on_after(_WAIT_FOR_LINK):
            await self._up.wait()
        if self._conn is None or not self._up.is_set():
            raise RemoteError(self.host.name, "connect", "not connected (gave up waiting)")
        return self._conn

    async def run(self, command: str, *, stdin: str | None = None, check: bool = True) -> str:
        """Run ``command`` with the login's shell; returns its output.

        Raises:
            RemoteError: it failed (with ``check``), or the host was unreachable too long.
        """
        conn = await self._connection()
        try:
            done = await conn.run(command, input=stdin, timeout=_COMMAND_TIMEOUT, check=False)
        except (OSError, asyncssh.Error) as exc:
            raise RemoteError(self.host.name, command.split(" ", 1)[0], str(exc)) from exc
        if check and done.exit_status != 0:
            stderr = str(done.stderr or "").strip().splitlines()
            reason = stderr[-1] if stderr else f"exit {done.exit_status}"
            raise RemoteError(self.host.name, command.split(" ", 1)[0], reason)
        return str(done.stdout or "")

    async def maintain(self, notify: Notify, *, task_status: TaskStatus[None]) -> None:
        """Keep the connection up until :meth:`close`: report each drop, reconnect with
        back-off, report the return. Started with ``tg.start`` once connected."""
        await self.open()
        task_status.started()
        while not self._closing:
            conn = self._conn
            if conn is None:
                raise RemoteError(self.host.name, "connect", "no connection after open()")
            await conn.wait_closed()
            if self.closing:
                break
            self._up = anyio.Event()
            await notify("lost", f"the SSH connection to {self.host.name} dropped")
            attempts = 0
            for delay in backoff():
                await anyio.sleep(delay)  # back-off between attempts, not synchronisation
                attempts += 1
                try:
                    async with self._lock:
                        await self._connect()
                except RemoteError as exc:
                    logger.warning("%s: reconnecting: %s", self.host.name, exc.reason)
                    continue
                break
            await notify("back", f"reconnected to {self.host.name} after {attempts} attempt(s)")

    @property
    def closing(self) -> bool:
        """:meth:`close` was called: a drop now is the end, not trouble."""
        return self._closing

    async def close(self) -> None:
        """Close the connection and stop reconnecting."""
        self._closing = True
        if self._conn is not None:
            self._conn.close()
            with anyio.move_on_after(5):
                await self._conn.wait_closed()
