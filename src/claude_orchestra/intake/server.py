"""Serve the hook app under uvicorn, on 127.0.0.1, inside the caller's task group.

The listening socket is bound before :func:`serve` reports readiness, so hooks that fire the
moment an instance starts are queued by the kernel, never refused: ``tg.start(serve, ...)``
returns the port, and every instance starts after that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

import anyio
import uvicorn
from anyio.abc import TaskStatus
from starlette.types import ASGIApp

from claude_orchestra.errors import PrerequisiteError

logger = logging.getLogger(__name__)


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the CLI owns SIGINT and SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket (``port`` 0 picks a free one).

    Raises:
        PrerequisiteError: the port cannot be had (in use, or not allowed).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this. Without it, uvicorn's reply (headers, then body, in
    # two writes) waits on the client's delayed ACK: about 40 ms added to every hook.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        raise PrerequisiteError(
            "hookServerPort",
            f"cannot listen on {host}:{port} ({exc.strerror}); choose another port, "
            "or 0 for a free one",
        ) from exc
    sock.setblocking(False)
    return sock


async def serve(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    sock: socket.socket | None = None,
    name: str = "hook app",
    protocol: type[asyncio.Protocol] | None = None,
    task_status: TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` until cancelled; ``task_status.started`` gets the bound port.

    Pass ``sock`` (from :func:`bind`) to learn about a busy port before starting tasks;
    it is closed when serving ends. ``name`` is what the log calls the server;
    ``protocol``, uvicorn's HTTP protocol class (default: its choice).
    """
    sock = sock or bind(host, port)
    server = _QuietServer(
        uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off", http=protocol or "auto"
        )
    )
    bound_port: int = sock.getsockname()[1]
    logger.info("%s listening on http://%s:%d", name, host, bound_port)
    try:
        task_status.started(bound_port)
        try:
            await server.serve(sockets=[sock])
        finally:
            # Cancelled: let uvicorn close its connections before the loop goes on.
            server.should_exit = True
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await server.shutdown(sockets=[sock])
    finally:
        sock.close()
