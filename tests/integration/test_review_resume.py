"""Review's executor on real git: a resumed run pushes every worker branch, reads origin
back, books the merge the killed run never recorded, and hands unmerged work over again."""

from __future__ import annotations

from pathlib import Path

import pytest

from claude_orchestra.git.repo import GitRepo
from claude_orchestra.loop.merges import BEFORE_RESTART
from claude_orchestra.testing.gitrepos import advance_main, commit, make_origin
from claude_orchestra.values import TaskFinished

from ..unit.loop.test_review import work_review
from .git.test_worktree import isolated_git

pytestmark = pytest.mark.anyio

__all__ = ["isolated_git"]  # its autouse fixture applies here too


async def test_a_resumed_run_books_the_unrecorded_merge_and_hands_unmerged_work_over(
    tmp_path: Path,
) -> None:
    repo = await GitRepo.clone(str(make_origin(tmp_path)), tmp_path / "ws" / "repo", branch="main")
    tree = await repo.add_worktree(
        tmp_path / "ws" / "worktrees" / "worker-1", branch="worker-1", base="main"
    )
    merged = await advance_main(repo, "a.py", "a\n")  # task a: merged before the kill
    unpushed = commit(tree.path, "b.py", "b\n")  # task b: committed, never pushed
    ctx, review = work_review(tmp_path, repo, tree)
    async with review.executor.watch.reader:  # its cat-file ends with the test
        await review.reconcile(
            {"worker-1": ("b", "c")},
            finished_tasks=(
                TaskFinished(branch="worker-1", task="a", commits=(merged,)),
                TaskFinished(branch="worker-1", task="b", commits=(unpushed,)),
            ),
        )
    assert [(m.merged_by, m.tasks) for m in ctx.progress.merges] == [(BEFORE_RESTART, ("a",))]
    assert ctx.progress.tasks_done == {"a"}
    assert ctx.progress.awaiting_merge == {"worker-1": (unpushed,)}
    assert ctx.progress.tasks_finished == {"worker-1": ["b", "c"]}
    assert review.branches_ahead == 1
    assert ctx.progress.incidents == []
    ctx.journal.close()
