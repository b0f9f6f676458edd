"""The ``queue`` merger: the orchestrator merges finished branches itself, one at a time.

A :class:`MergeQueue` owns a worktree of its own (``<workspace>/integration``, detached,
never a worker's). For each finished branch, in the order they finished, it fetches origin,
puts the worktree on ``origin/<run branch>``, merges ``origin/<worker branch>``, runs the
test command (``mergeTestCommand``) on the result, inside the run's runtime with a minimal
environment (:meth:`~claude_orchestra.runtime.Runtime.run_command`), and only then pushes
it to the run branch — never forced. A conflict (the merge is aborted), a failing test or
a rejected push never lands: the result goes back to the loop as a
:class:`~claude_orchestra.events.MergeFinished` event with its evidence, and the loop sends
the branch back to its worker. Nothing takes "theirs" or "ours".

The queue runs as its own task, so a long test command never holds up the loop.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import final

import anyio
import attrs
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from claude_orchestra import gitops
from claude_orchestra._clock import Clock
from claude_orchestra.errors import GitError, MergeConflict
from claude_orchestra.events import MergeFinished, MergeOutcome
from claude_orchestra.gate import run_local
from claude_orchestra.gitenv import Checkout
from claude_orchestra.runtime import Runtime
from claude_orchestra.worktree import GitRepo

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
        """Serve the queue until cancelled; each result is reported as an event."""
        await self.prepare()
        async with self._send, self._receive:  # closed when the run ends
            async for request in self._receive:
                await report(await self.merge(request))

    async def prepare(self) -> None:
        """Create the queue's worktree (detached on the run branch)."""
        await self.repo.fetch()
        await self.repo.locked(
            functools.partial(
                gitops.add_detached_worktree,
                self.repo.checkout,
                self.path,
                gitops.tracking(self.run_branch),
            )
        )

    async def merge(self, request: MergeRequest) -> MergeFinished:
        """Merge one branch onto the run branch, test it, push it; say how it went."""
        run_ref = gitops.tracking(self.run_branch)
        try:
            await self.repo.fetch()
            await self.repo.locked(
                functools.partial(gitops.checkout_detached, self._checkout, run_ref)
            )
            await self.repo.locked(
                functools.partial(
                    gitops.merge,
                    self._checkout,
                    gitops.tracking(request.branch),
                    identity=IDENTITY,
                )
            )
        except MergeConflict as conflict:
            return self._finished(request, MergeOutcome.CONFLICT, files=tuple(conflict.files))
        except GitError as exc:
            return self._finished(request, MergeOutcome.GIT_FAILED, detail=exc.reason)
        if self.test_command:
            passed, output = await self._test(self.test_command)
            if not passed:
                await self.repo.locked(
                    functools.partial(gitops.checkout_detached, self._checkout, run_ref)
                )  # the failed merge stays out of the worktree (and was never pushed)
                return self._finished(request, MergeOutcome.TEST_FAILED, detail=output)
        try:
            sha = await self.repo.locked(functools.partial(gitops.head, self._checkout))
            await self.repo.locked(
                functools.partial(
                    gitops.push,
                    self._checkout,
                    sha,
                    f"refs/heads/{self.run_branch}",
                    timeout=120,
                )
            )
        except GitError as exc:
            return self._finished(request, MergeOutcome.PUSH_REJECTED, detail=exc.reason)
        logger.info("merged %s into %s (%s)", request.branch, self.run_branch, sha[:12])
        return self._finished(request, MergeOutcome.MERGED, sha=sha)

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
