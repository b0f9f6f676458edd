"""No commit is ever lost: random commits, syncs, merges, pushes, preserves and removals
on real git (:class:`NoCommitLost`)."""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

import anyio.from_thread
from hypothesis import event, note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from claude_orchestra.errors import MergeConflict, UnmergedWorkError
from claude_orchestra.git.repo import GitRepo
from claude_orchestra.git.worktree import Worktree
from claude_orchestra.testing.gitrepos import commit, git, is_clean, make_origin

WORKERS = (1, 2)


class NoCommitLost(RuleBasedStateMachine):
    """Random commits, syncs, merges, pushes, preserves and removals on real git.

    Invariant: every commit ever made is reachable from origin or from a local branch;
    and whenever a worktree was removed, every commit made in it is on origin.
    """

    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="no-commit-lost-"))
        self.portal_cm = anyio.from_thread.start_blocking_portal("asyncio")
        self.portal = self.portal_cm.__enter__()
        self.origin = make_origin(self.root)
        self.repo = self.portal.call(
            functools.partial(GitRepo.clone, str(self.origin), self.root / "repo", branch="main")
        )
        self.worktrees: dict[int, Worktree | None] = dict.fromkeys(WORKERS)
        self.made: set[str] = set()
        self.made_by: dict[int, set[str]] = {n: set() for n in WORKERS}
        self.serial = 0
        for n in WORKERS:
            self._add(n)

    def teardown(self) -> None:
        self.portal_cm.__exit__(None, None, None)
        shutil.rmtree(self.root, ignore_errors=True)

    def _add(self, n: int) -> None:
        path = self.root / "worktrees" / f"worker-{n}"
        self.worktrees[n] = self.portal.call(
            functools.partial(self.repo.add_worktree, path, branch=f"worker-{n}", base="main")
        )

    def _file(self, conflicting: bool) -> str:
        self.serial += 1
        return "shared.txt" if conflicting else f"file-{self.serial}.txt"

    def _present(self, n: int) -> Worktree:
        worktree = self.worktrees[n]
        assert worktree is not None
        return worktree

    @rule(n=st.sampled_from(WORKERS), conflicting=st.booleans())
    def worker_commits(self, n: int, conflicting: bool) -> None:
        if self.worktrees[n] is None:
            self._add(n)
        name = self._file(conflicting)
        sha = commit(self._present(n).path, name, f"worker {n} {self.serial}\n")
        note(f"worker-{n} commits {name}: {sha[:8]}")
        self.made.add(sha)
        self.made_by[n].add(sha)

    @rule(conflicting=st.booleans())
    def manager_commits(self, conflicting: bool) -> None:
        name = self._file(conflicting)
        sha = commit(self.repo.path, name, f"manager {self.serial}\n")
        note(f"manager commits {name} on main: {sha[:8]}")
        self.made.add(sha)
        self.portal.call(self.repo.push, "main", "main")

    @precondition(lambda self: any(self.worktrees.values()))
    @rule(n=st.sampled_from(WORKERS))
    def sync(self, n: int) -> None:
        worktree = self.worktrees[n]
        if worktree is None:
            return
        head = git(worktree.path, "rev-parse", "HEAD")
        try:
            self.portal.call(worktree.sync)
            note(f"worker-{n} synced")
        except MergeConflict as exc:
            note(f"worker-{n} sync conflicts in {exc.files}")
            event("sync conflict")
            assert is_clean(worktree.path)
            assert git(worktree.path, "rev-parse", "HEAD") == head
        self.made.add(git(worktree.path, "rev-parse", "HEAD"))

    @rule(n=st.sampled_from(WORKERS))
    def merge_into_main(self, n: int) -> None:
        head = git(self.repo.path, "rev-parse", "HEAD")
        try:
            self.portal.call(self.repo.merge, f"worker-{n}")
        except MergeConflict as exc:
            note(f"merging worker-{n} into main conflicts in {exc.files}")
            event("merge conflict")
            assert is_clean(self.repo.path)
            assert git(self.repo.path, "rev-parse", "HEAD") == head
            return
        note(f"merged worker-{n} into main")
        self.made.add(git(self.repo.path, "rev-parse", "HEAD"))
        self.portal.call(self.repo.push, "main", "main")

    @precondition(lambda self: any(self.worktrees.values()))
    @rule(n=st.sampled_from(WORKERS))
    def push(self, n: int) -> None:
        worktree = self.worktrees[n]
        if worktree is not None:
            note(f"worker-{n} pushes")
            self.portal.call(worktree.push)

    @rule(n=st.sampled_from(WORKERS))
    def preserve(self, n: int) -> None:
        self.serial += 1
        ref = self.portal.call(self.repo.preserve, f"worker-{n}", f"worker-{n}/{self.serial}")
        note(f"preserved worker-{n} as {ref}")

    @precondition(lambda self: any(self.worktrees.values()))
    @rule(n=st.sampled_from(WORKERS))
    def remove(self, n: int) -> None:
        worktree = self.worktrees[n]
        if worktree is None:
            return
        on_origin = set(git(self.origin, "rev-list", "--all").split())
        branch = git(worktree.path, "rev-list", "HEAD", f"refs/heads/worker-{n}").split()
        lost = sorted(set(branch) - on_origin)
        try:
            self.portal.call(worktree.remove)
        except UnmergedWorkError as exc:
            note(f"worker-{n} remove refused: {exc.commits} commit(s)")
            event("remove refused")
            assert lost, "refused although every commit is on origin"
            assert worktree.path.is_dir()
            return
        note(f"worker-{n} removed")
        event("remove succeeded")
        assert not lost, f"removed with commits missing on origin: {lost}"
        assert self.made_by[n] <= on_origin
        assert not worktree.path.exists()
        self.worktrees[n] = None

    @invariant()
    def no_commit_is_lost(self) -> None:
        reachable = set(git(self.origin, "rev-list", "--all").split())
        reachable |= set(git(self.repo.path, "rev-list", "--branches").split())
        assert self.made <= reachable, f"lost: {sorted(self.made - reachable)}"

    @invariant()
    def no_checkout_is_left_mid_merge(self) -> None:
        for path in [self.repo.path] + [w.path for w in self.worktrees.values() if w]:
            assert is_clean(path), path
