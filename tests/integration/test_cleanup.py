"""`claude-orchestra cleanup` removes a run's leftovers but never unmerged work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from claude_orchestra import cleanup_workspace
from claude_orchestra.git.repo import GitRepo
from claude_orchestra.runtimes.tmux import TmuxServer
from claude_orchestra.testing.sample import create_origin
from claude_orchestra.workspace import Workspace

pytestmark = pytest.mark.anyio

IDENTITY = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
}


def cleanup(workspace: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "claude_orchestra", "cleanup", "--workspace", str(workspace)],
        capture_output=True,
        text=True,
        check=False,
    )


async def test_an_unmerged_worktree_stays_until_its_commits_are_on_origin(
    tmp_path: Path, tmux_binary: str
) -> None:
    origin = create_origin(tmp_path)
    workspace = Workspace(tmp_path / "ws")
    workspace.prepare()
    repo = await GitRepo.clone(str(origin), workspace.repo, branch="main")
    tree = await repo.add_worktree(workspace.worktree(1), branch="worker-1", base="main")
    (tree.path / "work.txt").write_text("unmerged work\n")
    env = {**os.environ, **IDENTITY}
    await anyio.run_process(["git", "add", "work.txt"], cwd=tree.path, env=env)
    await anyio.run_process(["git", "commit", "-q", "-m", "work"], cwd=tree.path, env=env)
    # a tmux server standing in for the run's instances
    workspace.tmux_config.write_text("set -g remain-on-exit on\n")
    server = TmuxServer(
        socket_name=f"test-cleanup-{os.getpid()}", config_file=workspace.tmux_config
    )
    server_proc = await anyio.run_process(
        ["tmux", "-L", server.socket_name, "-f", str(workspace.tmux_config), "new-session", "-d"]
    )
    assert server_proc.returncode == 0
    workspace.write_run_file({"tmuxSocket": server.socket_name, "branch": "main"})

    refused = await anyio.to_thread.run_sync(cleanup, workspace.root)
    assert refused.returncode == 1
    assert "kept" in refused.stderr
    assert "worker-1 has 1 commit(s) that are neither merged nor preserved" in refused.stderr
    assert (tree.path / "work.txt").exists()
    assert not await server.alive()  # the run's processes are gone either way

    await tree.push()
    done = await anyio.to_thread.run_sync(cleanup, workspace.root)
    assert done.returncode == 0, done.stderr
    assert not tree.path.exists()
    assert workspace.repo.exists()  # the clone and the report stay
    shown = await anyio.run_process(
        ["git", "--git-dir", str(origin), "log", "--oneline", "worker-1"]
    )
    assert b"work" in shown.stdout


def test_cleanup_of_a_folder_that_holds_no_run_is_a_usage_error(tmp_path: Path) -> None:
    result = cleanup(tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().endswith("holds no claude-orchestra run")


async def test_cleanup_removes_only_folders_of_the_workspace_layout(tmp_path: Path) -> None:
    # `git worktree list` reads each worktree's `gitdir` file, which its instance can
    # rewrite: a folder outside the layout that git lists is never removed.
    origin = create_origin(tmp_path)
    workspace = Workspace(tmp_path / "ws")
    workspace.prepare()
    repo = await GitRepo.clone(str(origin), workspace.repo, branch="main")
    await repo.add_worktree(workspace.worktree(1), branch="worker-1", base="main")
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me\n")
    private = workspace.repo / ".git" / "worktrees" / "worker-1"
    (private / "gitdir").write_text(f"{victim / '.git'}\n")
    (victim / ".git").write_text(f"gitdir: {private}\n")
    workspace.write_run_file({"branch": "main"})
    kept = await cleanup_workspace(workspace.root)  # the library's call, as the CLI makes it
    assert kept == [f"kept {victim}: not a checkout of this workspace"]
    assert (victim / "precious.txt").read_text() == "keep me\n"
