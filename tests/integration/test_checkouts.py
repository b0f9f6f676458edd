"""A run's checkouts: clone, one worktree per worker, and the untracked files they need."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import anyio
import pytest

from claude_orchestra.testing.git_http import GitHttpServer
from claude_orchestra.testing.sample import create_origin
from claude_orchestra.workspace import Workspace, local_checkout, prepare_checkouts

pytestmark = pytest.mark.anyio

IDENTITY = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
}


def checkout_with_local_files(tmp_path: Path) -> Path:
    """A user's own checkout: env files and a local config that git ignores."""
    origin = create_origin(tmp_path / "remote")
    work = tmp_path / "mine"
    env = {**os.environ, **IDENTITY}
    subprocess.run(["git", "clone", "-q", str(origin), str(work)], check=True, env=env)
    (work / ".env").write_text("API_URL=http://localhost\n")
    (work / ".env.local").write_text("DEBUG=1\n")
    (work / "config").mkdir()
    (work / "config" / "local.json").write_text('{"local": true}\n')
    (work / ".worktreeinclude").write_text("# extra local files\nconfig/local.json\n")
    with (work / ".gitignore").open("a") as ignore:
        ignore.write("config/local.json\n")
    subprocess.run(["git", "-C", str(work), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(work), "commit", "-qm", "include"], check=True, env=env)
    subprocess.run(["git", "-C", str(work), "checkout", "-qb", "run"], check=True, env=env)
    return work


async def test_env_files_come_from_the_users_checkout_into_every_worktree(
    tmp_path: Path,
) -> None:
    work = checkout_with_local_files(tmp_path)
    workspace = Workspace(tmp_path / "ws")
    repo, worktrees = await prepare_checkouts(
        workspace, repository=str(work), branch="run", workers=2
    )
    assert repo.path == workspace.repo
    assert sorted(worktrees) == [1, 2]
    for checkout in (workspace.repo, workspace.worktree(1), workspace.worktree(2)):
        assert (checkout / ".env").read_text() == "API_URL=http://localhost\n"
        assert (checkout / ".env.local").read_text() == "DEBUG=1\n"
        assert (checkout / "config" / "local.json").read_text() == '{"local": true}\n'
        assert not (checkout / ".env").is_symlink()
        status = await anyio.run_process(["git", "-C", str(checkout), "status", "--porcelain"])
        assert status.stdout == b""  # copied files stay ignored: nothing to commit by mistake
    assert [worktrees[n].branch for n in (1, 2)] == ["worker-1", "worker-2"]


def test_only_local_working_trees_are_sources(tmp_path: Path) -> None:
    bare = create_origin(tmp_path)
    assert local_checkout(str(bare)) is None
    assert local_checkout("https://example.com/x.git") is None
    work = checkout_with_local_files(tmp_path / "w")
    assert local_checkout(str(work)) == work
    assert local_checkout(f"file://{work}") == work


def checkout_ignoring_nothing(tmp_path: Path) -> Path:
    """A user's checkout whose ``.gitignore`` is empty."""
    origin = create_origin(tmp_path / "remote")
    work = tmp_path / "mine"
    env = {**os.environ, **IDENTITY}
    subprocess.run(["git", "clone", "-q", str(origin), str(work)], check=True, env=env)
    (work / ".gitignore").write_text("")
    subprocess.run(["git", "-C", str(work), "commit", "-qam", "no ignores"], check=True, env=env)
    return work


async def test_copied_env_files_are_never_committed_even_when_the_repo_does_not_ignore_them(
    tmp_path: Path,
) -> None:
    work = checkout_ignoring_nothing(tmp_path)
    (work / ".env").write_text("ANTHROPIC_API_KEY=sk-ant-not-for-git\n")
    workspace = Workspace(tmp_path / "ws")
    _, worktrees = await prepare_checkouts(
        workspace, repository=str(work), branch="main", workers=1
    )
    tree = worktrees[1].path
    assert (tree / ".env").exists()
    await anyio.run_process(["git", "-C", str(tree), "add", "-A"])
    staged = await anyio.run_process(["git", "-C", str(tree), "diff", "--cached", "--name-only"])
    assert b".env" not in staged.stdout
    assert await worktrees[1].uncommitted() == []
    (tree / "new.py").write_text("x = 1\n")
    assert await worktrees[1].uncommitted() == ["new.py"]


async def test_a_token_in_the_repository_url_is_kept_out_of_the_clone_and_worktrees(
    tmp_path: Path,
) -> None:
    create_origin(tmp_path / "served")
    token = "tok3n-not-for-worktrees"
    with GitHttpServer(tmp_path / "served", user="x-access-token", password=token) as server:
        url = server.url("origin.git", with_credentials=True)
        workspace = Workspace(tmp_path / "ws")
        repo, worktrees = await prepare_checkouts(
            workspace, repository=url, branch="main", workers=1
        )
        # the worktree fetches and pushes through git's store helper, reading the file
        tree = worktrees[1]
        (tree.path / "work.txt").write_text("work\n")
        await anyio.run_process(["git", "-C", str(tree.path), "add", "work.txt"])
        await anyio.run_process(
            ["git", "-C", str(tree.path), "commit", "-qm", "work"], env={**os.environ, **IDENTITY}
        )
        await tree.push()
        await repo.fetch()
    assert await repo.commits_ahead("origin/worker-1", "origin/main") == 1
    remote = await anyio.run_process(["git", "-C", str(tree.path), "remote", "-v"])
    assert token not in remote.stdout.decode()
    config = (workspace.repo / ".git" / "config").read_text()
    assert token not in config
    for folder in (workspace.repo, tree.path):
        found = await anyio.run_process(["grep", "-rl", token, str(folder)], check=False)
        assert found.stdout == b""  # nowhere in the clone, its .git or the worktree
    stored = workspace.git_credentials
    assert token in stored.read_text()
    assert stored.stat().st_mode & 0o777 == 0o600
