"""The orchestrator's own git, on real git, against a hostile checkout: nothing an instance
can write into its worktree, its git dir or the clone's config picks the repository, runs
a hook, a helper, a filter or a pager on the host (issue #14, items 1 and 2)."""

from __future__ import annotations

import functools
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import anyio
import anyio.to_thread
import attrs
import pytest

from claude_orchestra._clock import SystemClock
from claude_orchestra.errors import GitError
from claude_orchestra.events import MergeOutcome
from claude_orchestra.git import session as gitsession
from claude_orchestra.git.config import UnsafeGitConfig
from claude_orchestra.git.env import Checkout
from claude_orchestra.git.merge_queue import MergeQueue, MergeRequest
from claude_orchestra.git.repo import GitRepo
from claude_orchestra.git.worktree import Worktree
from claude_orchestra.testing.git_http import GitHttpServer
from claude_orchestra.testing.gitrepos import commit, git, make_origin

from .test_worktree import isolated_git

__all__ = ["isolated_git"]  # the autouse fixture, shared with test_worktree

pytestmark = pytest.mark.anyio


@attrs.frozen
class Trap:
    """A planted program (``evil``) that records every run of it in ``marker``."""

    evil: Path
    marker: Path

    def sprung(self) -> str:
        """What ran (empty: nothing did)."""
        return self.marker.read_text() if self.marker.exists() else ""


@pytest.fixture
def trap(tmp_path: Path) -> Trap:
    marker = tmp_path / "PLANTED-COMMAND-RAN"
    script = tmp_path / "evil.sh"
    script.write_text(f"#!/bin/sh\necho \"$0 $*\" >> '{marker}'\nexit 0\n")
    script.chmod(0o755)
    return Trap(evil=script, marker=marker)


@pytest.fixture
async def repo(tmp_path: Path) -> GitRepo:
    origin = make_origin(tmp_path)
    return await GitRepo.clone(str(origin), tmp_path / "ws" / "repo", branch="main")


@pytest.fixture
async def worker(repo: GitRepo, tmp_path: Path) -> Worktree:
    return await repo.add_worktree(
        tmp_path / "ws" / "worktrees" / "worker-1", branch="worker-1", base="main"
    )


def plant_hooks(git_dir: Path, evil: Path) -> None:
    """Every hook a fetch, push, merge, checkout or status could run."""
    hooks = git_dir / "hooks"
    hooks.mkdir(exist_ok=True)
    for name in (
        "pre-push",
        "post-merge",
        "pre-merge-commit",
        "commit-msg",
        "prepare-commit-msg",
        "post-commit",
        "post-checkout",
        "reference-transaction",
        "fsmonitor-watchman",
        "post-rewrite",
    ):
        (hooks / name).write_text(f"#!/bin/sh\nexec '{evil}' {name}\n")
        (hooks / name).chmod(0o755)


def work(worker: Worktree) -> None:
    """The worker's commit and an untracked file, made before anything is planted (the
    test's own git would obey what is planted)."""
    commit(worker.path, "work.txt", "work\n")
    (worker.path / "untracked.txt").write_text("x\n")


async def exercise(repo: GitRepo, worker: Worktree) -> None:
    """What the orchestrator does to a worker's checkout: status, push, fetch, merge."""
    assert await worker.uncommitted() == ["untracked.txt"]
    await worker.push()
    await repo.fetch()
    assert await repo.commits_ahead("origin/worker-1", "origin/main") == 1
    await worker.sync()
    queue = MergeQueue(
        repo=repo, path=repo.path.parent / "integration", run_branch="main", clock=SystemClock()
    )
    try:
        await queue.prepare()
        request = MergeRequest(instance="worker-1", branch="worker-1", commits=())
        done = await queue.merge(request)
    finally:
        queue.close()
    assert done.outcome is MergeOutcome.MERGED, done.detail
    assert await repo.read_file("origin/main", "work.txt") == "work\n"


# ---- keys a -c on the command line neutralises: the run goes on, nothing runs -------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("core.fsmonitor", "{evil}"),
        ("core.hooksPath", "{hooks}"),
        ("core.sshCommand", "{evil}"),
        ("core.pager", "{evil}"),
        ("core.editor", "{evil}"),
        ("core.askPass", "{evil}"),
        ("credential.helper", "!{evil}"),
        ("commit.gpgSign", "true"),
    ],
)
async def test_a_command_planted_in_the_clone_config_never_runs(
    repo: GitRepo, worker: Worktree, trap: Trap, key: str, value: str
) -> None:
    work(worker)
    hooks = repo.path / ".git" / "evil-hooks"
    hooks.mkdir()
    plant_hooks(hooks.parent, trap.evil)
    (hooks.parent / "hooks").rename(hooks)
    git(repo.path, "config", key, value.format(evil=trap.evil, hooks=hooks))
    git(repo.path, "config", "core.untrackedCache", "true")
    with anyio.fail_after(60):
        await exercise(repo, worker)
    assert not trap.sprung()


async def test_hooks_in_the_clone_never_run(repo: GitRepo, worker: Worktree, trap: Trap) -> None:
    work(worker)
    plant_hooks(repo.path / ".git", trap.evil)
    with anyio.fail_after(60):
        await exercise(repo, worker)
    assert not trap.sprung()


# ---- keys no -c can undo: the operation is refused before git runs -----------------------


@pytest.mark.parametrize(
    "planted",
    [
        ["include.path", "{included}"],
        ["includeIf.gitdir:/.path", "{included}"],
        ["filter.evil.clean", "{evil}"],
        ["filter.evil.smudge", "{evil}"],
        ["filter.evil.process", "{evil}"],
        ["merge.evil.driver", "{evil} %O %A %B"],
        ["diff.evil.textconv", "{evil}"],
        ["diff.external", "{evil}"],
        ["gpg.program", "{evil}"],
        ["core.gitProxy", "{evil}"],
        ["remote.origin.uploadpack", "{evil}"],
        ["remote.origin.receivepack", "{evil}"],
        ["url./nowhere.insteadOf", "{origin}"],
        ["credential.https://x.helper", "!{evil}"],
        ["uploadpack.packObjectsHook", "{evil}"],
    ],
)
async def test_a_key_no_override_undoes_makes_every_operation_refuse(
    repo: GitRepo,
    worker: Worktree,
    trap: Trap,
    tmp_path: Path,
    planted: list[str],
) -> None:
    included = tmp_path / "included.cfg"
    included.write_text(f"[core]\n\tfsmonitor = {trap.evil}\n")
    key, value = planted
    origin = git(repo.path, "config", "remote.origin.url")
    git(repo.path, "config", key, value.format(evil=trap.evil, included=included, origin=origin))
    (worker.path / ".gitattributes").write_text("* filter=evil merge=evil diff=evil\n")
    for operation in (repo.fetch, worker.uncommitted, worker.push, worker.sync):
        first = re.escape(key.split(".")[0])
        with anyio.fail_after(30), pytest.raises(UnsafeGitConfig, match=f"(?i){first}"):
            await operation()
    assert not trap.sprung()


async def test_a_key_planted_between_two_operations_is_refused_by_the_second(
    repo: GitRepo, worker: Worktree, trap: Trap
) -> None:
    # git parses each config content once (no process per check while it is unchanged);
    # the file itself is read before every operation, so a change is seen at once
    await worker.uncommitted()
    (worker.path / ".gitattributes").write_text("* diff=evil\n")
    git(repo.path, "config", "diff.evil.textconv", trap.evil)
    with anyio.fail_after(30), pytest.raises(UnsafeGitConfig, match=r"diff\.evil\.textconv"):
        await worker.uncommitted()
    assert not trap.sprung()


async def test_a_second_origin_url_is_refused(repo: GitRepo, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    elsewhere = make_origin(tmp_path / "elsewhere")
    git(repo.path, "config", "--add", "remote.origin.url", str(elsewhere))
    with pytest.raises(UnsafeGitConfig, match="more than one"):
        await repo.fetch()


async def test_another_origin_url_is_refused(repo: GitRepo, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    elsewhere = make_origin(tmp_path / "elsewhere")
    git(repo.path, "config", "remote.origin.url", str(elsewhere))
    with pytest.raises(UnsafeGitConfig, match="not the clone's origin"):
        await repo.push("main", "pushed-elsewhere")
    assert "pushed-elsewhere" not in git(elsewhere, "branch", "--list")


@pytest.mark.parametrize("kind", ["symlink", "fifo"])
async def test_a_config_that_is_no_regular_file_is_refused_without_blocking(
    repo: GitRepo, tmp_path: Path, kind: str
) -> None:
    config = repo.path / ".git" / "config"
    config.unlink()
    if kind == "symlink":
        config.symlink_to("/dev/zero")
    else:
        os.mkfifo(config)
    with anyio.fail_after(10), pytest.raises(UnsafeGitConfig):
        await repo.fetch()


# ---- where: the worktree's .git file and its git dir's commondir are never followed -----


def hostile_repository(root: Path, evil: Path) -> Path:
    """A git dir whose config and hooks run ``evil``."""
    git(root, "init", "-q", "-b", "main", str(root / "hostile"))
    hostile = root / "hostile" / ".git"
    (hostile / "config").write_text(
        f"[core]\n\trepositoryformatversion = 0\n\tfsmonitor = {evil}\n"
        f"\thooksPath = {hostile / 'hooks'}\n[include]\n\tpath = {hostile / 'more'}\n"
    )
    plant_hooks(hostile, evil)
    return hostile


@pytest.mark.parametrize(
    "target", ["hostile", "orchestra", "slash", "clone-git-dir", "relative-garbage"]
)
async def test_a_rewritten_dot_git_file_steers_no_host_git(
    repo: GitRepo, worker: Worktree, trap: Trap, tmp_path: Path, target: str
) -> None:
    points_to = {
        "hostile": hostile_repository(tmp_path, trap.evil),
        "orchestra": tmp_path / "ws" / ".orchestra",
        "slash": Path("/"),
        "clone-git-dir": repo.path / ".git",
        "relative-garbage": Path("../../nowhere"),
    }[target]
    work(worker)
    (worker.path / ".git").write_text(f"gitdir: {points_to}\n")
    with anyio.fail_after(60):
        await exercise(repo, worker)
    assert not trap.sprung()
    assert git(tmp_path / "origin.git", "log", "-1", "--format=%s", "worker-1") == "write work.txt"


async def test_a_rewritten_commondir_is_refused(
    repo: GitRepo, worker: Worktree, trap: Trap, tmp_path: Path
) -> None:
    # GIT_COMMON_DIR is not enough: git's ref store reads the commondir file itself.
    hostile = hostile_repository(tmp_path, trap.evil)
    work(worker)
    private = repo.path / ".git" / "worktrees" / "worker-1"
    (private / "commondir").write_text(f"{hostile}\n")
    for operation in (worker.uncommitted, worker.push, worker.remove):
        with anyio.fail_after(30), pytest.raises(UnsafeGitConfig, match="does not name"):
            await operation()
    assert not trap.sprung()
    (private / "commondir").write_text("../..\n")  # as git wrote it
    assert await worker.uncommitted() == ["untracked.txt"]


async def test_a_private_worktree_config_is_ignored_while_git_ignores_it(
    repo: GitRepo, worker: Worktree, trap: Trap
) -> None:
    work(worker)
    private = repo.path / ".git" / "worktrees" / "worker-1"
    (private / "config.worktree").write_text(f'[filter "evil"]\n\tclean = {trap.evil}\n')
    with anyio.fail_after(60):
        await exercise(repo, worker)
    assert not trap.sprung()


async def test_a_worktree_config_is_checked_when_git_would_read_it(
    repo: GitRepo, worker: Worktree, trap: Trap
) -> None:
    git(repo.path, "config", "extensions.worktreeConfig", "true")
    private = repo.path / ".git" / "worktrees" / "worker-1"
    (private / "config.worktree").write_text(f"[include]\n\tpath = {trap.evil}\n")
    with pytest.raises(UnsafeGitConfig, match=r"include\.path"):
        await worker.uncommitted()
    assert not trap.sprung()


async def test_a_worktree_git_dir_git_did_not_name_as_expected_is_refused(
    repo: GitRepo, tmp_path: Path
) -> None:
    # Git names a linked worktree's git dir after its folder, numbered on a clash.
    (repo.path / ".git" / "worktrees" / "worker-1").mkdir(parents=True)
    (repo.path / ".git" / "worktrees" / "worker-1" / "gitdir").write_text("/elsewhere/.git\n")
    (repo.path / ".git" / "worktrees" / "worker-1" / "locked").write_text("held\n")
    with pytest.raises(GitError, match="git dir"):
        await repo.add_worktree(
            tmp_path / "ws" / "worktrees" / "worker-1", branch="worker-1", base="main"
        )


async def test_the_host_environment_reaches_no_git_program(
    repo: GitRepo, worker: Worktree, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-never-to-git")
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "nowhere"))
    checkout = repo.linked(worker.path)
    env = checkout.environment()
    assert "ANTHROPIC_API_KEY" not in env
    assert env["GIT_DIR"] == str(repo.path / ".git" / "worktrees" / "worker-1")
    assert env["GIT_CONFIG_GLOBAL"] == os.devnull
    assert await worker.uncommitted() == []


async def test_an_ssh_command_in_the_config_is_never_used(repo: GitRepo, trap: Trap) -> None:
    git(repo.path, "config", "core.sshCommand", str(trap.evil))
    run: Callable[[], tuple[int, str, str]] = functools.partial(
        _ls_remote, repo.checkout, "ssh://127.0.0.1:9/nothing.git"
    )
    status, _, _ = await anyio.to_thread.run_sync(run)
    assert status != 0  # plain ssh found no server on port 9
    assert not trap.sprung()


def _ls_remote(checkout: Checkout, url: str) -> tuple[int, str, str]:
    with gitsession.session(checkout, "ls-remote") as s:
        return s.try_run("ls-remote", url, timeout=20)


# ---- the orchestrator's own credential helper: quoted, and the only one ------------------


@pytest.mark.parametrize("folder", ["a workspace with spaces", "ws;touch INJECTED;#"])
async def test_the_credential_helper_path_is_quoted(
    tmp_path: Path, trap: Trap, folder: str
) -> None:
    served = tmp_path / "served"
    served.mkdir()
    make_origin(served)
    workspace = tmp_path / folder
    workspace.mkdir()
    with GitHttpServer(served, user="x-access-token", password="tok-123456789") as server:
        repo = await GitRepo.clone(
            server.url("origin.git", with_credentials=True),
            workspace / "repo",
            branch="main",
            credentials_file=workspace / ".orchestra" / "git-credentials",
            network_timeout=60,
        )
        git(repo.path, "config", "--add", "credential.helper", f"!{trap.evil}")
        commit(repo.path, "pushed.txt", "over https\n")
        with anyio.fail_after(60):
            await repo.push("HEAD", "main")
            await repo.fetch()
    assert git(served / "origin.git", "log", "-1", "--format=%s", "main") == "write pushed.txt"
    injected = [workspace, tmp_path, Path(), repo.path]
    assert not [folder for folder in injected if (folder / "INJECTED").exists()]
    assert not trap.sprung()
    helpers = git(repo.path, "config", "--get-all", "credential.helper").splitlines()
    assert helpers[-2] == f"store --file='{workspace / '.orchestra' / 'git-credentials'}'"


def test_a_checkout_names_its_dirs_from_the_layout_alone(tmp_path: Path) -> None:
    clone = Checkout.clone(tmp_path / "repo")
    linked = clone.linked(tmp_path / "worktrees" / "worker-2")
    assert linked.git_dir == tmp_path / "repo" / ".git" / "worktrees" / "worker-2"
    assert linked.common_dir == tmp_path / "repo" / ".git"
    assert not (tmp_path / "worktrees").exists()  # nothing was read to know it


def test_no_subprocess_is_left_when_git_is_killed_at_its_deadline(tmp_path: Path) -> None:
    from claude_orchestra.git import env as gitenv

    status, _, err = gitenv.run(
        ["sh", "-c", "sleep 31.4159 & wait"],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
        timeout=0.5,
    )
    assert status == -9
    assert "did not complete in 0.5 secs" in err
    left = subprocess.run(["pgrep", "-f", "sleep 31.4159"], capture_output=True, check=False)
    assert left.returncode == 1 or not left.stdout.strip()


async def test_hooks_planted_in_a_local_origin_never_run_when_the_host_pushes(
    repo: GitRepo, worker: Worktree, trap: Trap, tmp_path: Path
) -> None:
    # The sandbox lets a worker write a local origin (its pushes need it): the receiving
    # side of the orchestrator's own push runs on the host, in that repository.
    work(worker)
    origin = tmp_path / "origin.git"
    plant_hooks(origin, trap.evil)
    for name in ("pre-receive", "update", "post-receive", "post-update", "proc-receive"):
        (origin / "hooks" / name).write_text(f"#!/bin/sh\nexec '{trap.evil}' {name}\n")
        (origin / "hooks" / name).chmod(0o755)
    with anyio.fail_after(60):
        await exercise(repo, worker)
        await worker.preserve("kept")
    assert not trap.sprung()
