"""Git off the loop, on real git: requests served in rounds (one push and one fetch for all
that arrived), refused pushes preserved, and a worker's own list read from its branch."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import pytest

from claude_orchestra._clock import SystemClock
from claude_orchestra.errors import GitError
from claude_orchestra.events import Event
from claude_orchestra.git.evidence import OriginReader
from claude_orchestra.git.ops import MAX_FILE_READ
from claude_orchestra.git.origin_watch import OriginRead, OriginWatch, ReadRequest
from claude_orchestra.git.repo import GitRepo
from claude_orchestra.git.worktree import Worktree
from claude_orchestra.tasklists import render_task_list
from claude_orchestra.testing.gitrepos import advance_main, commit, git, make_origin

from .test_worktree import isolated_git

pytestmark = pytest.mark.anyio

__all__ = ["isolated_git"]  # its autouse fixture applies here too


@pytest.fixture
async def repo(tmp_path: Path) -> GitRepo:
    origin = make_origin(tmp_path)
    return await GitRepo.clone(str(origin), tmp_path / "ws" / "repo", branch="main")


async def workers(repo: GitRepo, count: int) -> list[Worktree]:
    return [
        await repo.add_worktree(
            repo.path.parent / "worktrees" / f"worker-{n}", branch=f"worker-{n}", base="main"
        )
        for n in range(1, count + 1)
    ]


WatchFor = Callable[[GitRepo, list[Worktree]], OriginWatch]


@pytest.fixture
async def watch_for() -> AsyncIterator[WatchFor]:
    """Makes watches for worktrees; each is closed (its cat-file ended) after the test."""
    made: list[OriginWatch] = []

    def make(repo: GitRepo, trees: list[Worktree]) -> OriginWatch:
        reader = OriginReader(
            repo=repo,
            run_branch="main",
            workers=tuple(range(1, len(trees) + 1)),
            branches=tuple(t.branch for t in trees),
        )
        made.append(OriginWatch(reader=reader, clock=SystemClock()))
        return made[-1]

    yield make
    for watch in made:
        await watch.aclose()


async def test_requests_that_pile_up_are_served_by_one_round(
    repo: GitRepo, watch_for: WatchFor
) -> None:
    trees = await workers(repo, 3)
    watch = watch_for(repo, trees)
    shas = [commit(t.path, f"w{n}.txt", f"{n}\n") for n, t in enumerate(trees, 1)]
    delivered: list[Event] = []
    arrived = anyio.Event()

    async def deliver(event: Event) -> None:
        delivered.append(event)
        arrived.set()

    for tree in trees:  # three Stops before the watch gets to run
        watch.request(ReadRequest(instance=tree.branch, worktree=tree, uncommitted=True))
    assert watch.waiting
    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            tg.start_soon(watch.run, deliver)
            await arrived.wait()
            tg.cancel_scope.cancel()
    (read,) = delivered
    assert isinstance(read, OriginRead)
    assert watch.rounds == 1
    assert read.answers == ("worker-1", "worker-2", "worker-3")
    assert read.facts is not None
    assert {b: list(c) for b, c in read.facts.unmerged.items()} == {
        f"worker-{n}": [sha] for n, sha in enumerate(shas, 1)
    }
    assert all(p.refused is None and p.error is None for p in read.pushes.values())
    assert read.uncommitted == {"worker-1": (), "worker-2": (), "worker-3": ()}


async def test_a_refused_push_is_preserved_and_the_others_go_through(
    repo: GitRepo, watch_for: WatchFor
) -> None:
    first, second = await workers(repo, 2)
    commit(first.path, "a.txt", "a\n")
    await first.push()
    git(first.path, "reset", "-q", "--hard", "HEAD~1")  # origin's worker-1 is ahead now
    mine = commit(first.path, "b.txt", "b\n")
    commit(second.path, "c.txt", "c\n")
    watch = watch_for(repo, [first, second])
    read = await watch.round(
        (ReadRequest(instance="w1", worktree=first), ReadRequest(instance="w2", worktree=second))
    )
    refused, pushed = read.pushes["w1"], read.pushes["w2"]
    assert pushed.refused is None
    assert refused.refused is not None
    assert refused.preserved == f"refs/orchestra/preserved/worker-1/{mine[:12]}"
    assert await repo.is_reachable_on_origin(mine)


async def test_a_workers_own_list_is_read_from_its_branch(
    repo: GitRepo, watch_for: WatchFor
) -> None:
    (tree,) = await workers(repo, 1)
    await advance_main(repo, "WORKER_1_TASK_LIST.md", render_task_list(1, ["Write `a.py`"]))
    git(tree.path, "merge", "-q", "origin/main")
    ticked = render_task_list(1, ["Write `a.py`"]).replace("- [ ]", "- [x]")
    commit(tree.path, "WORKER_1_TASK_LIST.md", ticked)
    watch = watch_for(repo, [tree])
    read = await watch.round((ReadRequest(instance="worker-1", worktree=tree),))
    assert read.facts is not None
    assert [i.done for i in read.facts.task_lists[1].items] == [False]  # the run branch lags
    assert [i.done for i in read.facts.branch_task_lists[1].items] == [True]  # its branch
    again = await watch.round(())  # nothing moved: read from the cache, the same facts
    assert again.facts == read.facts


async def test_a_file_too_big_to_read_is_refused_not_read(repo: GitRepo) -> None:
    await advance_main(repo, "WORKER_1_TASK_LIST.md", "x" * (MAX_FILE_READ + 1))
    with pytest.raises(GitError, match="over"):
        await repo.read_file("refs/orchestra/origin/main", "WORKER_1_TASK_LIST.md")
