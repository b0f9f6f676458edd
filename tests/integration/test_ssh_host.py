"""The second host the remote runtime's tests use: reachable over SSH as its own user,
in its own network namespace, with reverse port forwards bound on its loopback only."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

import asyncssh
import pytest

from claude_orchestra.testing.ssh_host import HostAccess, SshHost

pytestmark = pytest.mark.anyio


def connect(access: HostAccess) -> AbstractAsyncContextManager[asyncssh.SSHClientConnection]:
    """A connection to the second host as its user, its host key known."""
    return asyncssh.connect(
        access.address,
        port=access.port,
        username=access.user,
        client_keys=[str(access.identity_file)],
        known_hosts=str(access.known_hosts),
    )


async def test_the_second_host_runs_commands_as_its_own_user(ssh_host: SshHost) -> None:
    access = ssh_host.access
    async with connect(access) as conn:
        done = await conn.run("id -un; echo $HOME; test -d work && echo work", check=True)
        assert str(done.stdout).split() == [access.user, str(access.home), "work"]


async def test_a_reverse_forward_reaches_this_host_from_the_second_hosts_loopback(
    ssh_host: SshHost,
) -> None:
    import anyio

    async def serve(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            await stream.send(b"hello from the orchestrator\n")
            await stream.send_eof()

    access = ssh_host.access
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, serve)
        async with connect(access) as conn:
            forward = await conn.forward_remote_port("127.0.0.1", 0, "127.0.0.1", port)
            remote_port = forward.get_port()
            script = (
                "import socket,sys; s=socket.create_connection(('127.0.0.1', int(sys.argv[1])));"
                " print(s.recv(100).decode().strip())"
            )
            done = await conn.run(f'python3 -c "{script}" {remote_port}', check=True)
            assert str(done.stdout).strip() == "hello from the orchestrator"
            # the namespace's public side has no such listener
            public = await conn.run(
                f"python3 -c \"import socket; socket.create_connection(('{access.address}',"
                f' {remote_port}), timeout=2)"',
                check=False,
            )
            assert public.exit_status != 0
        tg.cancel_scope.cancel()
