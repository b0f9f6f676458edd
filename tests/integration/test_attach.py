"""`claude-orchestra attach`: from a terminal into a run's instance window and back, on a
tmux server standing in for a run's (one session, windows named after the instances)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from claude_orchestra.errors import UsageError
from claude_orchestra.runtimes.attach import RunTmux
from claude_orchestra.workspace import Workspace
from tests.terminal import terminal


@pytest.fixture
def run_workspace(tmp_path: Path, tmux_binary: str) -> Iterator[Path]:
    """A workspace whose run.json names a live tmux server with a manager and a worker."""
    workspace = Workspace(tmp_path / "ws")
    workspace.prepare()
    socket = f"test-attach-{os.getpid()}-{tmp_path.name}"
    tmux = ["tmux", "-L", socket, "-f", "/dev/null"]
    for args in (
        ["new-session", "-d", "-s", "orchestra", "-n", "manager", "echo MANAGER-SCREEN; cat"],
        ["new-window", "-t", "orchestra", "-n", "worker-1", "echo WORKER-ONE-SCREEN; cat"],
    ):
        subprocess.run([*tmux, *args], check=True)
    workspace.write_run_file({"tmuxSocket": socket})
    where = subprocess.run(
        [*tmux, "display-message", "-p", "#{socket_path}"],
        capture_output=True,
        text=True,
        check=True,
    )
    try:
        yield workspace.root
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)
        Path(where.stdout.strip()).unlink(missing_ok=True)  # tmux leaves it behind


def attach(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "claude_orchestra", "attach", *args],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "TMUX"},
    )


@pytest.mark.anyio
async def test_attach_shows_the_instance_window_and_detach_returns(run_workspace: Path) -> None:
    with terminal("attach", cwd=run_workspace) as term:
        await term.wait_for(lambda screen: bool(screen.strip()))  # its prompt
        term.type(f"claude-orchestra attach --workspace {run_workspace} worker-1")
        await term.wait_for(lambda screen: "WORKER-ONE-SCREEN" in screen)
        term.keys("C-b", "d")  # the prefix and d reach the inner tmux client: it detaches
        back = await term.wait_for(lambda screen: "[detached" in screen)
        assert "WORKER-ONE-SCREEN" not in back
        term.type(f"claude-orchestra attach --workspace {run_workspace}")  # the session
        await term.wait_for(lambda screen: "manager" in screen and "worker-1" in screen)
        detach = RunTmux.of(run_workspace).tmux("detach-client", "-s", "orchestra")
        await anyio.run_process(detach)  # as `tmux detach-client` from elsewhere
        await term.wait_for(lambda screen: screen.count("[detached") == 2)


def test_attach_names_what_is_wrong_in_one_line(run_workspace: Path, tmp_path: Path) -> None:
    wrong = attach("--workspace", str(run_workspace), "worker-9")
    assert wrong.returncode == 2
    assert wrong.stderr.strip() == (
        "claude-orchestra: NAME: no instance 'worker-9'; the run has manager, worker-1"
    )
    nothing = attach("--workspace", str(tmp_path / "none"))
    assert nothing.returncode == 2
    assert "holds no run" in nothing.stderr
    printed = attach("--workspace", str(run_workspace), "--print", "manager")
    socket = RunTmux.of(run_workspace).socket
    assert printed.stdout.split() == [
        "tmux",
        "-L",
        socket,
        "attach-session",
        "-t",
        "orchestra:manager",
    ]


def test_inside_tmux_it_switches_its_own_server_refuses_another_or_nests(
    run_workspace: Path,
) -> None:
    run = RunTmux.of(run_workspace)
    own = {"TMUX": f"/tmp/tmux-1000/{run.socket},123,0"}
    assert run.attach_command("manager", environ=own)[3:] == [
        "switch-client",
        "-t",
        "orchestra:manager",
    ]
    other = {"TMUX": "/tmp/tmux-1000/default,123,0"}
    with pytest.raises(UsageError, match="inside tmux already"):
        run.attach_command("manager", environ=other)
    nested = run.attach_command("manager", environ=other, nested=True)
    assert nested[:3] == ["env", "-u", "TMUX"]
    assert nested[3:] == run.tmux("attach-session", "-t", "orchestra:manager")


def test_a_finished_run_says_its_server_is_gone(run_workspace: Path) -> None:
    subprocess.run(RunTmux.of(run_workspace).tmux("kill-server"), check=True)
    gone = attach("--workspace", str(run_workspace), "manager")
    assert gone.returncode == 2
    assert "tmux server is not running" in gone.stderr
