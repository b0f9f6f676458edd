"""The git adapter on real git: a local bare ``origin``, a main clone and worktrees."""

from __future__ import annotations

import functools
import shutil
import socket
import traceback
from pathlib import Path

import anyio
import anyio.from_thread
import anyio.to_thread
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (
    run_state_machine_as_test,
)

from claude_orchestra._clock import SystemClock
from claude_orchestra.errors import ConfigError, GitError, MergeConflict, UnmergedWorkError
from claude_orchestra.events import MergeFinished, MergeOutcome
from claude_orchestra.git.merge_queue import MergeQueue, MergeRequest
from claude_orchestra.git.repo import GitRepo
from claude_orchestra.git.session import PRESERVED_PREFIX, tracking
from claude_orchestra.git.worktree import Worktree, WorktreeView
from claude_orchestra.git.worktree_files import copy_worktree_files
from claude_orchestra.testing.gitrepos import advance_main, commit, git, is_clean, make_origin
from claude_orchestra.testing.machines import MergeQueueMachine, NoCommitLost

pytestmark = pytest.mark.anyio

SECRET = "SECRETTOKEN123"


# ---- helpers: plain git, run by the tests themselves --------------------------------------


@pytest.fixture(autouse=True)
def isolated_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Git as on a fresh machine: no user or system config, a fixed identity."""
    config = tmp_path_factory.mktemp("home") / ".gitconfig"
    config.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Orchestra Test")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.invalid")


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    return make_origin(tmp_path)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return tmp_path / "ws"


@pytest.fixture
async def repo(origin: Path, workspace: Path) -> GitRepo:
    return await GitRepo.clone(str(origin), workspace / "repo", branch="main")


@pytest.fixture
async def worker(repo: GitRepo, workspace: Path) -> Worktree:
    return await repo.add_worktree(
        workspace / "worktrees" / "worker-1", branch="worker-1", base="main"
    )


# ---- clone --------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["path", "file-url"])
async def test_clone_checks_out_the_branch(origin: Path, workspace: Path, form: str) -> None:
    url = str(origin) if form == "path" else origin.as_uri()
    repo = await GitRepo.clone(url, workspace / "repo", branch="main")

    assert repo.path == workspace / "repo"
    assert git(repo.path, "symbolic-ref", "--short", "HEAD") == "main"
    assert await repo.read_file("origin/main", "README.md") == "hello\n"
    assert await repo.read_file("origin/main", "WORKER_1_TASK_LIST.md") is None
    assert await repo.list_files("origin/main", "*.md") == ["README.md"]
    assert await repo.remote_branches() == {"main": git(origin, "rev-parse", "main")}
    assert GitRepo.open(workspace / "repo").path == repo.path


async def test_shallow_clone_sees_every_branch(origin: Path, workspace: Path) -> None:
    git(origin, "branch", "other", "main")
    repo = await GitRepo.clone(origin.as_uri(), workspace / "repo", branch="main", depth=1)
    assert set(await repo.remote_branches()) == {"main", "other"}


async def test_clone_of_a_missing_branch_says_so(origin: Path, workspace: Path) -> None:
    with pytest.raises(GitError, match="origin has no branch 'nope'") as caught:
        await GitRepo.clone(str(origin), workspace / "repo", branch="nope")
    assert caught.value.op == "clone"
    assert not (workspace / "repo").exists()


async def test_clone_refuses_a_non_empty_destination(origin: Path, workspace: Path) -> None:
    (workspace / "repo").mkdir(parents=True)
    (workspace / "repo" / "keep.txt").write_text("mine")
    with pytest.raises(GitError, match="not an empty directory"):
        await GitRepo.clone(str(origin), workspace / "repo", branch="main")
    assert (workspace / "repo" / "keep.txt").read_text() == "mine"


def test_open_refuses_a_directory_without_a_clone(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="not a git clone"):
        GitRepo.open(tmp_path)


async def test_read_file_of_a_missing_ref_is_an_error(repo: GitRepo) -> None:
    with pytest.raises(GitError, match="unknown revision 'origin/nope'"):
        await repo.read_file("origin/nope", "README.md")


async def test_set_identity_writes_the_clone_config(repo: GitRepo) -> None:
    await repo.set_identity(name="Orchestra", email="orchestra@example.invalid")
    assert git(repo.path, "config", "--local", "user.name") == "Orchestra"
    assert git(repo.path, "config", "--local", "user.email") == "orchestra@example.invalid"


# ---- credentials never leak ----------------------------------------------------------------


def _all_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc)


@pytest.mark.parametrize(
    "url",
    [
        f"http://user:{SECRET}@127.0.0.1:1/x.git",
        f"https://{SECRET}@127.0.0.1:1/x.git",
    ],
)
async def test_a_token_in_the_url_never_reaches_an_error(workspace: Path, url: str) -> None:
    with anyio.fail_after(30), pytest.raises(GitError) as caught:
        await GitRepo.clone(url, workspace / "repo", branch="main", network_timeout=20)
    assert SECRET not in _all_text(caught.value)
    assert caught.value.reason


async def test_a_clone_that_hangs_is_killed_at_its_deadline(workspace: Path) -> None:
    with socket.socket() as server:  # accepts connections (backlog) but never answers
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        url = f"http://user:{SECRET}@127.0.0.1:{server.getsockname()[1]}/x.git"
        with anyio.fail_after(20), pytest.raises(GitError, match="timed out after 1 s") as caught:
            await GitRepo.clone(url, workspace / "repo", branch="main", network_timeout=1)
    assert SECRET not in _all_text(caught.value)
    assert not (workspace / "repo").exists()  # the partial clone is gone


async def test_fetch_and_push_to_an_unreachable_origin_hide_the_token(repo: GitRepo) -> None:
    git(repo.path, "remote", "set-url", "origin", f"http://user:{SECRET}@127.0.0.1:1/x.git")
    with anyio.fail_after(30):
        with pytest.raises(GitError) as fetched:
            await repo.fetch()
        with pytest.raises(GitError) as pushed:
            await repo.push("main", "main")
        with pytest.raises(GitError) as preserved:
            await repo.preserve("main", "x")
    for caught in (fetched, pushed, preserved):
        assert SECRET not in _all_text(caught.value)


# ---- worktrees -----------------------------------------------------------------------------


async def test_add_worktree_creates_the_branch_at_origin_base(
    repo: GitRepo, worker: Worktree, workspace: Path
) -> None:
    assert worker.snapshot() == WorktreeView(
        path=workspace / "worktrees" / "worker-1", branch="worker-1", base="main"
    )
    assert git(worker.path, "symbolic-ref", "--short", "HEAD") == "worker-1"
    assert git(worker.path, "rev-parse", "HEAD") == git(repo.path, "rev-parse", "origin/main")
    listed = await repo.worktrees()
    assert [(w.path, w.branch, w.is_main) for w in listed] == [
        (repo.path, "main", True),
        (worker.path, "worker-1", False),
    ]
    # Adding it again (a resumed run) reuses it.
    again = await repo.add_worktree(worker.path, branch="worker-1", base="main")
    assert again.snapshot() == worker.snapshot()


async def test_add_worktree_reuses_an_existing_branch_without_resetting_it(
    repo: GitRepo, worker: Worktree
) -> None:
    sha = commit(worker.path, "work.txt", "work\n")
    shutil.rmtree(worker.path)  # a crashed run left the branch but lost the directory
    again = await repo.add_worktree(worker.path, branch="worker-1", base="main")
    assert git(again.path, "rev-parse", "HEAD") == sha


async def test_add_worktree_takes_the_branch_from_origin_on_a_fresh_clone(
    worker: Worktree, origin: Path, tmp_path: Path
) -> None:
    sha = commit(worker.path, "work.txt", "work\n")
    await worker.push()
    fresh = await GitRepo.clone(str(origin), tmp_path / "ws2" / "repo", branch="main")
    resumed = await fresh.add_worktree(tmp_path / "ws2" / "w1", branch="worker-1", base="main")
    assert git(resumed.path, "rev-parse", "HEAD") == sha


async def test_add_worktree_refuses_a_branch_checked_out_elsewhere(
    repo: GitRepo, worker: Worktree, workspace: Path
) -> None:
    with pytest.raises(GitError, match="worker-1"):
        await repo.add_worktree(workspace / "worktrees" / "other", branch="worker-1", base="main")
    with pytest.raises(GitError, match="already a worktree on branch worker-1"):
        await repo.add_worktree(worker.path, branch="worker-2", base="main")


async def test_worktrees_are_created_while_others_are_in_use(
    repo: GitRepo, worker: Worktree, workspace: Path
) -> None:
    created: list[Worktree] = []

    async def add(n: int) -> None:
        path = workspace / "worktrees" / f"worker-{n}"
        created.append(await repo.add_worktree(path, branch=f"worker-{n}", base="main"))

    async def work() -> None:
        for i in range(3):
            await anyio.to_thread.run_sync(functools.partial(commit, worker.path, f"f{i}", "x"))
            await worker.sync()
            await worker.push()

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(work)
            for n in (2, 3, 4):
                tg.start_soon(add, n)
    assert sorted(w.branch for w in created) == ["worker-2", "worker-3", "worker-4"]
    assert await worker.commits_ahead() == 3
    assert len(await repo.worktrees()) == 5


async def test_commit_push_and_commits_ahead(repo: GitRepo, worker: Worktree) -> None:
    first = commit(worker.path, "a.txt", "a\n")
    second = commit(worker.path, "b.txt", "b\n")
    assert await worker.commits_ahead() == 2
    assert await repo.commits_ahead("origin/worker-1", "origin/main") == 0  # not pushed yet
    assert not await repo.is_reachable_on_origin(second)

    await worker.push()

    assert (await repo.remote_branches())["worker-1"] == second
    assert await repo.commits_ahead("origin/worker-1", "origin/main") == 2
    assert await repo.commit_ids("origin/worker-1", "origin/main") == [first, second]
    assert await repo.is_reachable_on_origin(first)
    assert not await repo.is_reachable_on_origin("0" * 40)
    assert git(worker.path, "rev-parse", "--abbrev-ref", "@{upstream}") == "origin/worker-1"


async def test_a_rejected_push_is_an_error_and_never_forced(
    repo: GitRepo, worker: Worktree, origin: Path, tmp_path: Path
) -> None:
    commit(worker.path, "a.txt", "a\n")
    await worker.push()
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", "-b", "worker-1", str(origin), str(other))
    theirs = commit(other, "theirs.txt", "theirs\n")
    git(other, "push", "-q", "origin", "worker-1")
    commit(worker.path, "mine.txt", "mine\n")

    with pytest.raises(GitError, match="rejected") as caught:
        await worker.push()
    assert caught.value.op == "push refs/heads/worker-1"
    assert git(origin, "rev-parse", "worker-1") == theirs


# ---- sync ----------------------------------------------------------------------------------


async def test_sync_brings_new_run_branch_commits(repo: GitRepo, worker: Worktree) -> None:
    mine = commit(worker.path, "mine.txt", "mine\n")
    await advance_main(repo, "news.txt", "news\n")

    await worker.sync()

    assert (worker.path / "news.txt").read_text() == "news\n"
    assert git(worker.path, "rev-list", "--count", "--merges", "origin/main..HEAD") == "1"
    assert git(worker.path, "merge-base", "--is-ancestor", mine, "HEAD") == ""
    assert await worker.commits_ahead() == 2  # the worker's commit and the merge


async def test_sync_fast_forwards_a_branch_without_commits(repo: GitRepo, worker: Worktree) -> None:
    news = await advance_main(repo, "news.txt", "news\n")
    await worker.sync()
    assert git(worker.path, "rev-parse", "HEAD") == news
    assert await worker.commits_ahead() == 0


async def test_sync_conflict_is_aborted_and_names_the_file(repo: GitRepo, worker: Worktree) -> None:
    mine = commit(worker.path, "shared.txt", "worker\n")
    await advance_main(repo, "shared.txt", "manager\n")

    with pytest.raises(MergeConflict) as caught:
        await worker.sync()

    assert caught.value.files == ("shared.txt",)
    assert caught.value.branch == tracking("main")
    assert "conflicts in shared.txt" in str(caught.value)
    assert is_clean(worker.path)
    assert git(worker.path, "rev-parse", "HEAD") == mine
    assert (worker.path / "shared.txt").read_text() == "worker\n"


async def test_sync_refuses_uncommitted_tracked_changes(repo: GitRepo, worker: Worktree) -> None:
    await advance_main(repo, "news.txt", "news\n")
    (worker.path / "README.md").write_text("edited\n")
    with pytest.raises(GitError, match=r"uncommitted changes to tracked files: README\.md"):
        await worker.sync()
    assert (worker.path / "README.md").read_text() == "edited\n"


async def test_merge_in_the_main_clone(repo: GitRepo, worker: Worktree) -> None:
    commit(worker.path, "a.txt", "a\n")
    await repo.merge("worker-1")
    await repo.push("main", "main")
    assert await repo.read_file("origin/main", "a.txt") == "a\n"


async def test_merge_conflict_in_the_main_clone_is_aborted(repo: GitRepo, worker: Worktree) -> None:
    commit(worker.path, "shared.txt", "worker\n")
    before = await advance_main(repo, "shared.txt", "manager\n")
    with pytest.raises(MergeConflict) as caught:
        await repo.merge("worker-1")
    assert caught.value.files == ("shared.txt",)
    assert is_clean(repo.path)
    assert git(repo.path, "rev-parse", "HEAD") == before


# ---- preserve and remove -------------------------------------------------------------------


async def test_preserve_pins_the_tip_on_origin(
    repo: GitRepo, worker: Worktree, origin: Path
) -> None:
    sha = commit(worker.path, "a.txt", "a\n")
    assert not await repo.is_reachable_on_origin(sha)

    ref = await worker.preserve("worker-1/attempt-1")

    assert ref == f"{PRESERVED_PREFIX}worker-1/attempt-1"
    assert git(origin, "rev-parse", ref) == sha
    assert await repo.is_reachable_on_origin(sha)
    await repo.fetch()  # the local mirror survives a pruning fetch
    assert await repo.is_reachable_on_origin(sha)


async def test_preserve_refuses_a_bad_name(repo: GitRepo) -> None:
    with pytest.raises(ValueError, match="not a valid git ref name"):
        await repo.preserve("main", "../x")


async def test_remove_refuses_unmerged_work_until_merged(repo: GitRepo, worker: Worktree) -> None:
    commit(worker.path, "a.txt", "a\n")
    commit(worker.path, "b.txt", "b\n")

    with pytest.raises(UnmergedWorkError) as caught:
        await worker.remove()
    assert caught.value.commits == 2
    assert caught.value.branch == "worker-1"
    assert worker.path.is_dir()

    await repo.merge("worker-1")
    await repo.push("main", "main")
    await worker.remove()

    assert not worker.path.exists()
    assert [w.path for w in await repo.worktrees()] == [repo.path]
    assert git(repo.path, "rev-parse", "--verify", "worker-1")  # the branch stays


@pytest.mark.parametrize("how", ["preserve", "push"])
async def test_remove_succeeds_once_the_work_is_on_origin(worker: Worktree, how: str) -> None:
    commit(worker.path, "a.txt", "a\n")
    (worker.path / "scratch.txt").write_text("untracked files are not work\n")
    if how == "preserve":
        await worker.preserve("worker-1/final")
    else:
        await worker.push()
    await worker.remove()
    assert not worker.path.exists()


async def test_remove_refuses_uncommitted_tracked_changes(worker: Worktree) -> None:
    (worker.path / "README.md").write_text("edited\n")
    with pytest.raises(GitError, match="uncommitted changes to tracked files") as caught:
        await worker.remove()
    assert not isinstance(caught.value, UnmergedWorkError)
    assert (worker.path / "README.md").read_text() == "edited\n"


async def test_remove_counts_commits_on_a_detached_head(worker: Worktree) -> None:
    git(worker.path, "checkout", "-q", "--detach")
    commit(worker.path, "a.txt", "a\n")
    with pytest.raises(UnmergedWorkError):
        await worker.remove()


async def test_remove_of_a_vanished_directory_forgets_it(repo: GitRepo, worker: Worktree) -> None:
    shutil.rmtree(worker.path)
    await worker.remove()
    assert [w.path for w in await repo.worktrees()] == [repo.path]


# ---- local files ---------------------------------------------------------------------------


async def test_copy_worktree_files_into_a_real_worktree(repo: GitRepo, workspace: Path) -> None:
    (repo.path / ".gitignore").write_text(".env\n.env.local\nconfig/\n*.key\n")
    (repo.path / ".worktreeinclude").write_text("# local files\nconfig\n*.key\n\n")
    git(repo.path, "add", ".gitignore", ".worktreeinclude")
    git(repo.path, "commit", "-q", "-m", "ignore local files")
    await repo.push("main", "main")
    (repo.path / ".env").write_text("A=1\n")
    (repo.path / ".env.local").write_text("B=2\n")
    (repo.path / "config" / "deep").mkdir(parents=True)
    (repo.path / "config" / "deep" / "x.json").write_text("{}")
    (repo.path / "api.key").write_text("k")

    await repo.fetch()
    worker = await repo.add_worktree(
        workspace / "worktrees" / "worker-1", branch="worker-1", base="main"
    )
    copied = await anyio.to_thread.run_sync(copy_worktree_files, repo.path, worker.path)

    assert copied == [Path(".env"), Path(".env.local"), Path("api.key"), Path("config/deep/x.json")]
    assert (worker.path / "config" / "deep" / "x.json").read_text() == "{}"
    assert not (worker.path / ".env").is_symlink()
    assert git(worker.path, "status", "--porcelain") == ""  # ignored: nothing to commit


async def test_copy_worktree_files_refuses_escaping_paths(repo: GitRepo, worker: Worktree) -> None:
    (repo.path / ".worktreeinclude").write_text("../x\n")
    with pytest.raises(ConfigError, match=r"line 1: \.\./x: escapes the repository"):
        copy_worktree_files(repo.path, worker.path)


# ---- no commit is ever lost ------------------------------------------------------------------


def test_no_commit_is_ever_lost() -> None:
    run_state_machine_as_test(
        NoCommitLost,
        settings=settings(
            max_examples=10,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


async def test_a_rejected_push_preserves_the_tip_instead(
    repo: GitRepo, worker: Worktree, origin: Path, tmp_path: Path
) -> None:
    commit(worker.path, "a.txt", "a\n")
    assert await worker.push_or_preserve() is None  # an accepted push preserves nothing
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", "-b", "worker-1", str(origin), str(other))
    theirs = commit(other, "theirs.txt", "theirs\n")
    git(other, "push", "-q", "origin", "worker-1")
    mine = commit(worker.path, "mine.txt", "mine\n")

    ref = await worker.push_or_preserve()

    assert ref == f"{PRESERVED_PREFIX}worker-1/{mine[:12]}"
    assert git(origin, "rev-parse", ref) == mine  # the work is on origin
    assert git(origin, "rev-parse", "worker-1") == theirs  # and nothing was forced
    assert await repo.is_reachable_on_origin(mine)


# ---- the merge queue ----------------------------------------------------------------------


async def outcome_of(queue: MergeQueue, worker: Worktree) -> MergeFinished:
    """Push the worker's branch, queue it, and return what the queue reported."""
    await worker.push()
    send, receive = anyio.create_memory_object_stream[MergeFinished](4)
    async with send, receive, anyio.create_task_group() as tg:
        tg.start_soon(queue.run, send.send)
        queue.enqueue(MergeRequest(instance="worker-1", branch="worker-1", commits=("x",)))
        with anyio.fail_after(60):
            finished = await receive.receive()
        tg.cancel_scope.cancel()
    return finished


def make_queue(repo: GitRepo, workspace: Path, test: str | None = None) -> MergeQueue:
    return MergeQueue(
        repo=repo,
        path=workspace / "integration",
        run_branch="main",
        clock=SystemClock(),
        test_command=test,
    )


async def test_a_clean_branch_is_merged_tested_and_pushed(
    repo: GitRepo, worker: Worktree, origin: Path, workspace: Path
) -> None:
    sha = commit(worker.path, "a.txt", "a\n")
    await advance_main(repo, "news.txt", "news\n")  # not a fast-forward: a real merge
    finished = await outcome_of(make_queue(repo, workspace, "test -f a.txt"), worker)
    assert finished.outcome is MergeOutcome.MERGED
    assert git(origin, "rev-parse", "main") == finished.sha
    assert git(origin, "merge-base", "--is-ancestor", sha, "main") == ""
    assert is_clean(workspace / "integration")


async def test_branches_that_finished_while_the_queue_was_busy_share_one_push(
    repo: GitRepo, worker: Worktree, origin: Path, workspace: Path
) -> None:
    second = await repo.add_worktree(
        workspace / "worktrees" / "worker-2", branch="worker-2", base="main"
    )
    third = await repo.add_worktree(
        workspace / "worktrees" / "worker-3", branch="worker-3", base="main"
    )
    commit(worker.path, "a.txt", "a\n")
    commit(second.path, "shared.txt", "mine\n")
    commit(third.path, "c.txt", "c\n")
    await advance_main(repo, "shared.txt", "theirs\n")  # worker-2 conflicts with main
    for tree in (worker, second, third):
        await tree.push()
    queue = make_queue(repo, workspace, "test ! -f broken.txt")
    send, receive = anyio.create_memory_object_stream[MergeFinished](4)
    async with send, receive, anyio.create_task_group() as tg:
        for n in (1, 2, 3):  # all three waiting before the queue takes the first
            queue.enqueue(MergeRequest(instance=f"worker-{n}", branch=f"worker-{n}", commits=()))
        tg.start_soon(queue.run, send.send)
        with anyio.fail_after(60):
            results = [await receive.receive() for _ in range(3)]
        tg.cancel_scope.cancel()
    assert [r.outcome for r in results] == [
        MergeOutcome.MERGED,
        MergeOutcome.CONFLICT,
        MergeOutcome.MERGED,
    ]
    assert results[0].sha == results[2].sha == git(origin, "rev-parse", "main")
    tree = git(origin, "ls-tree", "--name-only", "main").split()
    assert {"a.txt", "c.txt"} <= set(tree)
    assert git(origin, "show", "main:shared.txt") == "theirs"
    assert is_clean(workspace / "integration")


async def test_a_conflict_is_reported_with_its_files_and_nothing_lands(
    repo: GitRepo, worker: Worktree, origin: Path, workspace: Path
) -> None:
    commit(worker.path, "shared.txt", "mine\n")
    before = await advance_main(repo, "shared.txt", "theirs\n")
    finished = await outcome_of(make_queue(repo, workspace), worker)
    assert finished.outcome is MergeOutcome.CONFLICT
    assert finished.files == ("shared.txt",)
    assert git(origin, "rev-parse", "main") == before  # nothing taken, nothing pushed
    assert is_clean(workspace / "integration")


async def test_a_failing_test_command_keeps_the_merge_off_the_run_branch(
    repo: GitRepo, worker: Worktree, origin: Path, workspace: Path
) -> None:
    commit(worker.path, "bad.txt", "breaks the build\n")
    before = git(origin, "rev-parse", "main")
    queue = make_queue(repo, workspace, "echo checking; ! test -f bad.txt")
    finished = await outcome_of(queue, worker)
    assert finished.outcome is MergeOutcome.TEST_FAILED
    assert finished.detail.startswith("exit 1: checking")
    assert git(origin, "rev-parse", "main") == before
    assert not (workspace / "integration" / "bad.txt").exists()  # back on the run branch


# ---- the merge queue as a state machine ------------------------------------------------------


def test_the_merge_queue_never_lands_a_failing_or_conflicting_branch() -> None:
    run_state_machine_as_test(
        MergeQueueMachine,
        settings=settings(
            max_examples=8,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
