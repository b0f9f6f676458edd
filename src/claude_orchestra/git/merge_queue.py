"""The ``queue`` merger: the orchestrator merges finished branches itself, in order.

A :class:`MergeQueue` owns a worktree of its own (``<workspace>/integration``, detached,
never a worker's). It takes the finished branches in the order they finished — every one
waiting when it is free, so a fleet's branches share one fetch and one push — fetches
origin, puts the worktree on ``origin/<run branch>``, and for each branch merges
``origin/<worker branch>`` and runs the test command (``mergeTestCommand``) on the result,
inside the run's runtime with a minimal environment
(:meth:`~claude_orchestra.runtimes.base.Runtime.run_command`); only then does it push to the run
branch — never forced. A conflict (the merge is aborted), a failing test or
a rejected push never lands: the result goes back to the loop as a
:class:`~claude_orchestra.events.MergeFinished` event with its evidence, and the loop sends
the branch back to its worker. Nothing takes "theirs" or "ours".

The queue runs as its own task, so a long test command never holds up the loop.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import final

import anyio
import attrs
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from claude_orchestra._clock import Clock
from claude_orchestra.errors import GitError, MergeConflict
from claude_orchestra.events import MergeFinished, MergeOutcome
from claude_orchestra.git import checkout as gitcheckout
from claude_orchestra.git import ops as gitops
from claude_orchestra.git.env import Checkout
from claude_orchestra.git.repo import GitRepo
from claude_orchestra.git.session import tracking
from claude_orchestra.runtimes.base import Runtime
from claude_orchestra.runtimes.gate import run_local

logger = logging.getLogger(__name__)

IDENTITY = ("merge queue (claude-orchestra)", "merge-queue@claude-orchestra.invalid")
"""The author and committer of the queue's merge commits (passed to git explicitly)."""

_OUTPUT_TAIL = 2000


@final
@attrs.frozen(kw_only=True)
class MergeRequest:
    """A worker's finished branch, waiting its turn."""

    instance: str
    branch: str
    commits: tuple[str, ...]


@final
@attrs.define(eq=False)
class MergeQueue:
    """Merges, tests and pushes finished branches in order, in its own worktree."""

    repo: GitRepo
    path: Path
    run_branch: str
    clock: Clock
    test_command: str | None = None
    test_timeout: float = 600.0
    runtime: Runtime | None = None
    """Where the test command runs (the run's runtime); ``None``: on the host, with a
    minimal environment."""
    _send: MemoryObjectSendStream[MergeRequest] = attrs.field(init=False)
    _receive: MemoryObjectReceiveStream[MergeRequest] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._send, self._receive = anyio.create_memory_object_stream[MergeRequest](256)

    def close(self) -> None:
        """Close the queue's channel (:meth:`run` does this itself when it ends)."""
        self._send.close()
        self._receive.close()

    def enqueue(self, request: MergeRequest) -> None:
        """Queue a finished branch (never blocks the loop)."""
        self._send.send_nowait(request)

    @property
    def _checkout(self) -> Checkout:
        return self.repo.linked(self.path)

    async def run(self, report: Callable[[MergeFinished], Awaitable[None]]) -> None:
        """Serve the queue until cancelled; each result is reported as an event. Branches
        that finished while the queue was busy are merged together (:meth:`merge_all`)."""
        await self.prepare()
        async with self._send, self._receive:  # closed when the run ends
            async for first in self._receive:
                for finished in await self.merge_all([first, *self._waiting()]):
                    await report(finished)

    def _waiting(self) -> list[MergeRequest]:
        """The requests queued behind the one just taken."""
        waiting = []
        while True:
            try:
                waiting.append(self._receive.receive_nowait())
            except anyio.WouldBlock:
                return waiting

    async def prepare(self) -> None:
        """Create the queue's worktree (detached on the run branch)."""
        await self.repo.fetch()
        await self.repo.locked(
            functools.partial(
                gitcheckout.add_detached_worktree,
                self.repo.checkout,
                self.path,
                tracking(self.run_branch),
            )
        )

    async def merge(self, request: MergeRequest) -> MergeFinished:
        """Merge one branch onto the run branch, test it, push it; say how it went."""
        (finished,) = await self.merge_all([request])
        return finished

    async def merge_all(self, requests: Sequence[MergeRequest]) -> list[MergeFinished]:
        """Merge the branches onto the run branch in order, each tested on top of those
        merged before it, then push the result once; say how each went.

        A branch that conflicts or fails the test is left out (the worktree goes back to
        the last good merge) and the others go on; one fetch and one push serve them all,
        which is what keeps a fleet's queue short.
        """
        run_ref = tracking(self.run_branch)
        try:
            await self.repo.fetch()
            good = await self._checkout_at(run_ref)
        except GitError as exc:
            return [self._finished(r, MergeOutcome.GIT_FAILED, detail=exc.reason) for r in requests]
        results: dict[int, MergeFinished] = {}
        merged: list[int] = []
        for index, request in enumerate(requests):
            refused = await self._merge_one(request, good)
            if refused is not None:
                results[index] = refused
                continue
            good = await self.repo.locked(functools.partial(gitcheckout.head, self._checkout))
            merged.append(index)
        if merged:
            try:
                await self.repo.locked(
                    functools.partial(
                        gitops.push,
                        self._checkout,
                        good,
                        f"refs/heads/{self.run_branch}",
                        timeout=120,
                    )
                )
            except GitError as exc:
                for index in merged:
                    results[index] = self._finished(
                        requests[index], MergeOutcome.PUSH_REJECTED, detail=exc.reason
                    )
            else:
                branches = ", ".join(requests[index].branch for index in merged)
                logger.info("merged %s into %s (%s)", branches, self.run_branch, good[:12])
                for index in merged:
                    results[index] = self._finished(requests[index], MergeOutcome.MERGED, sha=good)
        return [results[index] for index in range(len(requests))]

    async def _checkout_at(self, ref: str) -> str:
        """Put the worktree on ``ref``, detached; its commit."""
        await self.repo.locked(
            functools.partial(gitcheckout.checkout_detached, self._checkout, ref)
        )
        return await self.repo.locked(functools.partial(gitcheckout.head, self._checkout))

    async def _merge_one(self, request: MergeRequest, good: str) -> MergeFinished | None:
        """Merge and test one branch on ``good`` (the worktree's commit); the refusal, or
        ``None`` when it merged and passed. A refused branch leaves the worktree on
        ``good``."""
        try:
            await self.repo.locked(
                functools.partial(
                    gitcheckout.merge,
                    self._checkout,
                    tracking(request.branch),
                    identity=IDENTITY,
                )
            )
        except MergeConflict as conflict:  # aborted: still on good
            return self._finished(request, MergeOutcome.CONFLICT, files=tuple(conflict.files))
        except GitError as exc:
            await self._back_to(good)
            return self._finished(request, MergeOutcome.GIT_FAILED, detail=exc.reason)
        if self.test_command:
            passed, output = await self._test(self.test_command)
            if not passed:
                await self._back_to(good)  # the failed merge stays out (and is never pushed)
                return self._finished(request, MergeOutcome.TEST_FAILED, detail=output)
        return None

    async def _back_to(self, good: str) -> None:
        """Return the worktree to ``good`` after a refused merge (a failure here is left for
        the next round's checkout to report)."""
        try:
            await self._checkout_at(good)
        except GitError as exc:
            logger.warning("the merge queue's worktree could not go back to %s: %s", good, exc)

    async def _test(self, command: str) -> tuple[bool, str]:
        """Run ``command`` in the integration worktree, inside the run's runtime (``local``:
        on the host, with a minimal environment): (passed, the output's tail)."""
        argv = ["bash", "-c", command]
        try:
            with anyio.fail_after(self.test_timeout):
                if self.runtime is None:
                    done = await run_local(argv, cwd=self.path)
                else:
                    done = await self.runtime.run_command(argv, cwd=self.path)
        except TimeoutError:
            return False, f"timed out after {self.test_timeout:.0f} s"
        output = done.output[-_OUTPUT_TAIL:]
        return done.passed, f"exit {done.returncode}: {output}"

    def _finished(
        self,
        request: MergeRequest,
        outcome: MergeOutcome,
        *,
        detail: str = "",
        files: tuple[str, ...] = (),
        sha: str | None = None,
    ) -> MergeFinished:
        return MergeFinished(
            instance=request.instance,
            at=self.clock.now(),
            branch=request.branch,
            commits=request.commits,
            outcome=outcome,
            detail=detail,
            files=files,
            sha=sha,
        )
