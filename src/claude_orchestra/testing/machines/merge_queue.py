"""The merge queue never lands a failing or conflicting branch, on real git
(:class:`MergeQueueMachine`)."""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

import anyio.from_thread
from hypothesis import event, note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from claude_orchestra._clock import SystemClock
from claude_orchestra.errors import GitError, MergeConflict
from claude_orchestra.events import MergeOutcome
from claude_orchestra.git.merge_queue import MergeQueue, MergeRequest
from claude_orchestra.git.repo import GitRepo
from claude_orchestra.testing.gitrepos import advance_main, commit, git, is_clean, make_origin
from claude_orchestra.testing.machines.git import WORKERS

GATE = "! ls BROKEN-* >/dev/null 2>&1"  # the run branch's "tests": no BROKEN file


class MergeQueueMachine(RuleBasedStateMachine):
    """Workers commit clean, conflicting or test-breaking work; the manager moves main;
    branches are submitted to the queue and fixed when refused, all on real git.

    Invariants: origin's run branch always passes the gate; every commit the queue accepted
    is on it; the queue's worktree is never left dirty or mid-merge.
    """

    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="merge-queue-"))
        self.portal_cm = anyio.from_thread.start_blocking_portal("asyncio")
        self.portal = self.portal_cm.__enter__()
        self.origin = make_origin(self.root)
        self.repo = self.portal.call(
            functools.partial(GitRepo.clone, str(self.origin), self.root / "repo", branch="main")
        )
        self.worktrees = {
            n: self.portal.call(
                functools.partial(
                    self.repo.add_worktree,
                    self.root / "worktrees" / f"worker-{n}",
                    branch=f"worker-{n}",
                    base="main",
                )
            )
            for n in WORKERS
        }
        self.queue = MergeQueue(
            repo=self.repo,
            path=self.root / "integration",
            run_branch="main",
            clock=SystemClock(),
            test_command=GATE,
        )
        self.portal.call(self.queue.prepare)
        self.accepted: set[str] = set()
        self.serial = 0

    def teardown(self) -> None:
        self.queue.close()
        self.portal_cm.__exit__(None, None, None)
        shutil.rmtree(self.root, ignore_errors=True)

    @rule(n=st.sampled_from(WORKERS), kind=st.sampled_from(["clean", "conflicting", "breaking"]))
    def worker_commits(self, n: int, kind: str) -> None:
        self.serial += 1
        name = {"clean": f"file-{self.serial}.txt", "conflicting": "shared.txt"}.get(
            kind, f"BROKEN-{self.serial}"
        )
        sha = commit(self.worktrees[n].path, name, f"worker {n} {self.serial}\n")
        note(f"worker-{n} commits {kind} {name}: {sha[:8]}")

    @rule(conflicting=st.booleans())
    def manager_moves_main(self, conflicting: bool) -> None:
        self.serial += 1
        name = "shared.txt" if conflicting else f"main-{self.serial}.txt"
        self.portal.call(advance_main, self.repo, name, f"main {self.serial}\n")
        note(f"main moves: {name}")

    @rule(workers=st.lists(st.sampled_from(WORKERS), min_size=1, max_size=3, unique=True))
    def submit(self, workers: list[int]) -> None:
        """Workers' branches reach the queue together (one alone, or several that finished
        while it was busy: merged in order, pushed once)."""
        requests, broken = [], {}
        for n in workers:
            worktree = self.worktrees[n]
            try:
                self.portal.call(worktree.push)
            except GitError:
                note(f"worker-{n} push rejected")
                continue
            tip = git(worktree.path, "rev-parse", "HEAD")
            broken[tip] = bool(git(worktree.path, "ls-files", "BROKEN-*"))
            requests.append(
                MergeRequest(instance=f"worker-{n}", branch=f"worker-{n}", commits=(tip,))
            )
        if not requests:
            return
        results = self.portal.call(self.queue.merge_all, requests)
        assert [r.branch for r in results] == [r.branch for r in requests]
        shas = {r.sha for r in results if r.outcome is MergeOutcome.MERGED}
        assert len(shas) <= 1, "the branches merged together were pushed once"
        for request, finished in zip(requests, results, strict=True):
            note(f"{request.branch} submitted: {finished.outcome.value}")
            event(f"{finished.outcome.value} ({len(requests)} together)")
            (tip,) = request.commits
            if finished.outcome is MergeOutcome.MERGED:
                assert not broken[tip], "a branch that fails the gate was merged"
                self.accepted.add(tip)
            else:
                assert finished.outcome in {MergeOutcome.CONFLICT, MergeOutcome.TEST_FAILED}

    @rule(n=st.sampled_from(WORKERS))
    def worker_fixes(self, n: int) -> None:
        """What the worker is asked to do: bring main in (keeping both sides), fix the tests."""
        path = self.worktrees[n].path
        try:
            self.portal.call(self.worktrees[n].sync)
        except MergeConflict:
            git(path, "merge", "--no-edit", "origin/main", "-s", "ours")  # test-only fix-up
        for broken in git(path, "ls-files", "BROKEN-*").split():
            git(path, "rm", "-q", broken)
        if git(path, "status", "--porcelain"):
            git(path, "commit", "-q", "-m", "fix")
        note(f"worker-{n} fixed its branch")

    @invariant()
    def the_run_branch_passes_its_gate(self) -> None:
        files = git(self.origin, "ls-tree", "-r", "--name-only", "main").split()
        assert not [f for f in files if f.startswith("BROKEN-")]

    @invariant()
    def every_accepted_commit_is_on_the_run_branch(self) -> None:
        for sha in self.accepted:
            assert git(self.origin, "merge-base", "--is-ancestor", sha, "main") == ""

    @invariant()
    def the_queue_worktree_is_clean(self) -> None:
        assert is_clean(self.root / "integration")
