"""Closing a host of the ``remote`` runtime on the second host: the run's processes end
before its run folder goes, so none of them can make it again.

``tmux kill-server`` returns as soon as it has hung up on the panes; a process of the run
that was still exiting then (Claude Code writing its transcript) made the folder again
after the ``rm -rf``. Here a process in the run's tmux ignores the hang-up and waits on a
named pipe outside the folder: the test releases it only once ``close`` has returned, and
it then writes into the run folder. It must have been killed by then."""

from __future__ import annotations

import errno
import logging
import os
import secrets
import select
import shlex
from pathlib import Path

import asyncssh
import pytest

from claude_orchestra.runtimes.base import RuntimeContext
from claude_orchestra.runtimes.remote.hosts import RemoteHost
from claude_orchestra.runtimes.remote.runtime import RemoteRuntime
from claude_orchestra.runtimes.tmux import TmuxServer
from claude_orchestra.testing.ssh_host import SshHost

pytestmark = pytest.mark.anyio


def runtime(tmp_path: Path, remote: RemoteHost, socket: str) -> RemoteRuntime:
    context = RuntimeContext(
        socket_name=socket,
        tmux_config=tmp_path / "tmux.conf",
        workspace=tmp_path,
        instances_dir=tmp_path / ".orchestra/instances",
        config_dir=tmp_path,
        repository="https://git.invalid/origin.git",  # no worktree: nothing to push
        remote_hosts=(remote,),
    )
    return RemoteRuntime(local=TmuxServer.attach(socket), context=context, exit_grace=1.0)


async def on_host(host: SshHost, command: str) -> str:
    """Run ``command`` on the host as its user; its output."""
    access = host.access
    async with asyncssh.connect(
        access.address,
        port=access.port,
        username=access.user,
        client_keys=[str(access.identity_file)],
        known_hosts=str(access.known_hosts),
    ) as conn:
        return str((await conn.run(command, check=True)).stdout)


async def start_in_run_tmux(host: SshHost, socket: str, command: str) -> int:
    """``command`` (a shell's) in the run's tmux server on the host, its run folder made;
    the pane's pid."""
    root = host.access.workdir / socket
    tmux = ["tmux", "-L", socket, "new-session", "-d", "-s", "orchestra"]
    started = shlex.join([*tmux, "-P", "-F", "#{pane_pid}", command])
    done = await on_host(host, f"mkdir -p {shlex.quote(str(root / 'repo'))} && {started}")
    return int(done.split()[-1])


def let_go(release: Path) -> bool:
    """Tell the late writer to go on, if it still reads ``release``; whether it did."""
    try:
        fd = os.open(release, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # no reader
            return False
        raise
    os.write(fd, b"go\n")
    os.close(fd)
    return True


def ended(pid: int) -> bool:
    """Whether process ``pid`` (here: the host shares this machine's kernel) has ended
    within 10 seconds."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], 10)[0])
    finally:
        os.close(fd)


async def test_a_process_still_exiting_is_waited_for_then_killed_before_the_folder_goes(
    tmp_path: Path,
    ssh_host: SshHost,
    remote_host: RemoteHost,
    caplog: pytest.LogCaptureFixture,
) -> None:
    socket = f"orchestra-{secrets.token_hex(4)}"
    root = ssh_host.access.workdir / socket
    release = ssh_host.access.home / f"release-{socket}"
    os.mkfifo(release, 0o600)
    os.chown(release, root.parent.stat().st_uid, -1)
    late = root / ".orchestra/instances/worker-1/config/projects/transcript.jsonl"
    writer = (
        f"trap '' HUP; read go < {shlex.quote(str(release))}; "
        f"mkdir -p {shlex.quote(str(late.parent))} && echo late > {shlex.quote(str(late))}"
    )
    pid = await start_in_run_tmux(ssh_host, socket, writer)
    try:
        with caplog.at_level(logging.WARNING):
            await runtime(tmp_path, remote_host, socket).close()
        released = let_go(release)
        assert ended(pid)
        assert not root.exists()
        assert not released  # nobody read the pipe: it had been killed
        assert f"killed pid {pid}: still running 1 s after the hang-up" in caplog.text
    finally:
        release.unlink()


async def test_a_process_that_ends_on_the_hang_up_is_not_killed(
    tmp_path: Path,
    ssh_host: SshHost,
    remote_host: RemoteHost,
    caplog: pytest.LogCaptureFixture,
) -> None:
    socket = f"orchestra-{secrets.token_hex(4)}"
    root = ssh_host.access.workdir / socket
    late = root / ".orchestra/late"
    writer = f"trap 'mkdir -p {shlex.quote(str(late))}; exit 0' HUP; while :; do read x; done"
    pid = await start_in_run_tmux(ssh_host, socket, writer)
    with caplog.at_level(logging.WARNING):
        await runtime(tmp_path, remote_host, socket).close()
    assert ended(pid)
    assert not root.exists()
    assert caplog.text == ""
