"""The origin reader's batch reads on real git: the same facts as reading one file and one
range at a time (the naive model, :class:`ForkingOriginReader`), odd paths and contents
included, in a constant number of git processes a round, through a cat-file that survives
a crash and ends with the watch."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import anyio
import pytest

from claude_orchestra._clock import SystemClock
from claude_orchestra.errors import GitError
from claude_orchestra.events import Event
from claude_orchestra.git.catfile import CatFile
from claude_orchestra.git.evidence import OriginReader
from claude_orchestra.git.ops import MAX_FILE_READ
from claude_orchestra.git.origin_watch import OriginWatch, ReadRequest
from claude_orchestra.git.repo import GitRepo
from claude_orchestra.git.worktree import Worktree
from claude_orchestra.tasklists import render_task_list, task_list_filename
from claude_orchestra.testing.forking_reader import ForkingOriginReader
from claude_orchestra.testing.gitrepos import advance_main, commit, git, make_origin

from .test_catfile import dying
from .test_worktree import isolated_git

pytestmark = pytest.mark.anyio

__all__ = ["isolated_git"]  # its autouse fixture applies here too


@pytest.fixture
async def repo(tmp_path: Path) -> GitRepo:
    return await GitRepo.clone(str(make_origin(tmp_path)), tmp_path / "ws" / "repo", branch="main")


async def workers(repo: GitRepo, count: int) -> list[Worktree]:
    return [
        await repo.add_worktree(
            repo.path.parent / "worktrees" / f"worker-{n}", branch=f"worker-{n}", base="main"
        )
        for n in range(1, count + 1)
    ]


def both(
    repo: GitRepo, count: int, task_file: str | None = None, run_branch: str = "main"
) -> tuple[OriginReader, ForkingOriginReader]:
    """The batch reader and the naive model, reading the same run."""
    numbers = tuple(range(1, count + 1))
    branches = tuple(f"worker-{n}" for n in numbers)
    return (
        OriginReader(
            repo=repo,
            run_branch=run_branch,
            workers=numbers,
            branches=branches,
            task_file=task_file,
        ),
        ForkingOriginReader(
            repo=repo,
            run_branch=run_branch,
            workers=numbers,
            branches=branches,
            task_file=task_file,
        ),
    )


async def same_facts(batch: OriginReader, naive: ForkingOriginReader) -> None:
    await batch.repo.fetch()
    assert await batch.read(fetch=False) == await naive.read(fetch=False)


def tick(text: str) -> str:
    return text.replace("- [ ]", "- [x]", 1)


@pytest.mark.parametrize(
    "task_file",
    ["TASKS.md", "docs/the tasks ü.md", "line\nbreak.md", "./TASKS.md", "docs//TASKS.md"],
)
async def test_the_facts_are_those_read_one_at_a_time(repo: GitRepo, task_file: str) -> None:
    trees = await workers(repo, 3)
    batch, naive = both(repo, 3, task_file=task_file)
    async with batch:
        await same_facts(batch, naive)  # nothing yet: no lists, no task file, no commits
        for n in (1, 2, 3):
            await advance_main(repo, task_list_filename(n), render_task_list(n, [f"task {n}"]))
        stored = task_file.replace("./", "").replace("//", "/")
        await advance_main(repo, stored, "- [ ] one\n- [ ] two\n")
        await same_facts(batch, naive)
        for tree in trees:
            git(tree.path, "merge", "-q", "origin/main")
        first, second, third = trees
        name = task_list_filename(1)
        commit(first.path, name, tick((first.path / name).read_text()))
        commit(first.path, "a.py", "a\n")
        await first.push()
        await same_facts(batch, naive)
        commit(second.path, "b.py", "b\n")
        git(second.path, "merge", "-q", "--no-edit", "origin/worker-1")  # a merge in a range
        commit(second.path, "b2.py", "b\n")
        await second.push()
        (third.path / task_list_filename(3)).write_bytes(b"- [ ] \xff\xfe not utf-8\n\x00")
        git(third.path, "commit", "-qam", "binary list")
        await third.push()
        await same_facts(batch, naive)
        await advance_main(repo, "c.py", "c\n")  # the run branch moved: every range again
        await same_facts(batch, naive)
        await same_facts(batch, naive)  # nothing moved: the cache
        assert batch.objects.starts == 1


async def test_errors_are_those_read_one_at_a_time(repo: GitRepo) -> None:
    await workers(repo, 1)
    batch, naive = both(repo, 1, run_branch="nope")  # origin has no such branch
    async with batch:
        with pytest.raises(GitError) as batched:
            await batch.read()
        with pytest.raises(GitError) as forked:
            await naive.read()
        assert str(batched.value) == str(forked.value)
        await advance_main(repo, "TASKS.md", "x" * (MAX_FILE_READ + 1))
        batch, naive = both(repo, 0, task_file="TASKS.md")
        async with batch:
            with pytest.raises(GitError, match="over") as batched:
                await batch.read()
            with pytest.raises(GitError) as forked:
                await naive.read()
            assert str(batched.value) == str(forked.value)


@pytest.fixture
def counted_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every git process started from now on appends a line to the returned file."""
    real = shutil.which("git")
    assert real is not None
    shim = tmp_path / "shim"
    shim.mkdir()
    log = tmp_path / "git-processes.log"
    (shim / "git").write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n')
    (shim / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim}{os.pathsep}{os.environ['PATH']}")
    return log


async def processes_in_a_read(reader: OriginReader | ForkingOriginReader, log: Path) -> int:
    before = len(await anyio.Path(log).read_text())
    await reader.read(fetch=False)
    return (await anyio.Path(log).read_text())[before:].count("\n")


async def test_a_round_costs_a_constant_number_of_git_processes(
    repo: GitRepo, counted_git: Path
) -> None:
    count = 8
    trees = await workers(repo, count)
    for n in range(1, count + 1):
        await advance_main(repo, task_list_filename(n), render_task_list(n, [f"task {n}"]))
    for tree in trees:
        git(tree.path, "merge", "-q", "origin/main")
        commit(tree.path, f"{tree.branch}.py", "x\n")
        await tree.push()
    batch, naive = both(repo, count, task_file="TASKS.md")
    async with batch:
        await same_facts(batch, naive)  # the first round starts cat-file
        await advance_main(repo, "TASKS.md", "- [ ] more\n")  # every list and range again
        await repo.fetch()
        batched = await processes_in_a_read(batch, counted_git)
        forked = await processes_in_a_read(naive, counted_git)
        assert batched == 2  # for-each-ref, one rev-list for the eight ranges
        assert forked >= 7 * count  # each list: 3 processes, each range: 4
        commit(trees[0].path, "more.py", "x\n")
        await trees[0].push()
        await repo.fetch()
        assert await processes_in_a_read(batch, counted_git) == 2  # one range moved
        assert await processes_in_a_read(batch, counted_git) == 1  # nothing: for-each-ref
        assert batch.objects.starts == 1


async def test_a_cat_file_killed_between_rounds_is_started_again(repo: GitRepo) -> None:
    await workers(repo, 2)
    await advance_main(repo, task_list_filename(1), render_task_list(1, ["task"]))
    batch, naive = both(repo, 2, task_file="TASKS.md")
    async with batch:
        await same_facts(batch, naive)
        pid = batch.objects.pid
        assert pid is not None
        os.kill(pid, 9)
        await advance_main(repo, "TASKS.md", "- [ ] one\n")
        await same_facts(batch, naive)
        assert batch.objects.starts == 2


async def test_a_cat_file_that_dies_mid_round_is_asked_again(repo: GitRepo) -> None:
    launched, dies_after_one_answer = dying(lines=1, times=1)
    await workers(repo, 2)
    await advance_main(repo, task_list_filename(2), render_task_list(2, ["task"]))
    _, naive = both(repo, 2, task_file="TASKS.md")
    batch = OriginReader(
        repo=repo,
        run_branch="main",
        workers=naive.workers,
        branches=naive.branches,
        task_file="TASKS.md",
        objects=CatFile(repo.checkout, launch=dies_after_one_answer),
    )
    async with batch:
        await same_facts(batch, naive)
        assert batch.objects.starts == 2
        with pytest.raises(ProcessLookupError):
            os.kill(launched[0], 0)  # the first one is gone, reaped


async def test_the_cat_file_ends_when_the_watch_stops(repo: GitRepo) -> None:
    (tree,) = await workers(repo, 1)
    watch = OriginWatch(reader=both(repo, 1)[0], clock=SystemClock())
    commit(tree.path, "a.py", "a\n")
    delivered = anyio.Event()

    async def deliver(event: Event) -> None:
        delivered.set()

    watch.request(ReadRequest(instance="worker-1", worktree=tree))
    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            tg.start_soon(watch.run, deliver)
            await delivered.wait()
            pid = watch.reader.objects.pid
            assert pid is not None
            tg.cancel_scope.cancel()
    assert watch.reader.objects.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped: no process, no zombie
