"""The ``local`` runtime's tmux work on a real private server: each window's process, a
respawn, a SIGTERM, and a window that is not there."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from claude_orchestra.errors import TmuxError
from claude_orchestra.runtimes.claude_home import LaunchSpec
from claude_orchestra.runtimes.tmux import TmuxServer
from claude_orchestra.testing.waiting import wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("tmux_binary")]


def sleeping(tmp_path: Path, seconds: int) -> LaunchSpec:
    return LaunchSpec(command=("sleep", str(seconds)), cwd=tmp_path, env={})


def command_of(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


async def runs(pid: int, command: list[str]) -> None:
    """Return once ``pid`` runs ``command`` (tmux forks the pane's process, which then
    execs it: the pid is known before the command is there; no event tells when)."""
    await wait_until(lambda: command_of(pid) == command)


@pytest.fixture
async def tmux(tmp_path: Path) -> AsyncIterator[TmuxServer]:
    config = tmp_path / "tmux.conf"
    config.write_text("set -g remain-on-exit on\n")
    server = TmuxServer(socket_name=f"test-tmux-{os.getpid()}", config_file=config)
    try:
        yield server
    finally:
        await server.close()


async def test_each_window_reports_its_own_process(tmux: TmuxServer, tmp_path: Path) -> None:
    pids = {}
    for seconds, name in enumerate(("manager", "worker-1", "worker-2"), start=60):
        pids[name] = await tmux.launch(name, sleeping(tmp_path, seconds))
    assert await tmux.window_names() == ["manager", "worker-1", "worker-2"]
    for seconds, name in enumerate(("manager", "worker-1", "worker-2"), start=60):
        await runs(pids[name], ["sleep", str(seconds)])

    again = await tmux.respawn("worker-1", sleeping(tmp_path, 99))
    assert again != pids["worker-1"]
    await runs(again, ["sleep", "99"])
    assert await tmux.window_names() == ["manager", "worker-1", "worker-2"]


async def test_sigterm_reaches_that_window_only_and_a_missing_one_is_an_error(
    tmux: TmuxServer, tmp_path: Path
) -> None:
    manager = await tmux.launch("manager", sleeping(tmp_path, 60))
    worker = await tmux.launch("worker-1", sleeping(tmp_path, 61))
    await runs(worker, ["sleep", "61"])
    await tmux.terminate("worker-1")
    await wait_until(lambda: not Path(f"/proc/{worker}").exists())  # ended, and reaped
    with pytest.raises(TmuxError, match="nope"):
        await tmux.terminate("nope")  # never a signal to some other pane's process
    with pytest.raises(TmuxError):
        await tmux.respawn("nope", sleeping(tmp_path, 5))
    await runs(manager, ["sleep", "60"])  # untouched
    await tmux.terminate("worker-1")  # already ended: nothing to do
