"""Git off the loop: pushes and fetches run beside the loop and come back as events.

After a ``Stop`` (or a merge the queue finished) the loop asks for origin's facts with
:meth:`OriginWatch.request` and goes on at once: it never waits on git. The watch's own task
takes every request that has arrived, pushes the branches they name in one ``git push``,
fetches once, reads the facts back (:class:`~claude_orchestra.git.evidence.OriginReader`, which
reads again only what moved, through one long-lived ``git cat-file --batch`` and at most one
``rev-list``) and sends one :class:`OriginRead` event to the loop, naming
the instances it answers. Requests that arrive during a round are served by the next one, so
however many ``Stop`` events pile up there is one push and one fetch per round.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import final

import anyio
import attrs

from claude_orchestra._clock import Clock
from claude_orchestra.errors import GitError
from claude_orchestra.events import Event
from claude_orchestra.git.evidence import OriginFacts, OriginReader
from claude_orchestra.git.worktree import Worktree

logger = logging.getLogger(__name__)


@final
@attrs.frozen(kw_only=True)
class PushResult:
    """What became of a worker branch the round pushed."""

    branch: str
    refused: str | None = None
    """Origin's reason for refusing the push (``None``: origin has the branch now)."""
    preserved: str | None = None
    """For a refused push: the preserved ref on origin that holds its tip."""
    error: str | None = None
    """git failed to push or to preserve it."""


@final
@attrs.frozen(kw_only=True)
class OriginRead(Event):
    """A round of git work is done: what origin holds now, and for whom it was read.

    ``instance`` is empty: the read is about the run, and :attr:`answers` names the
    instances whose requests it serves (their pushes are in :attr:`pushes`)."""

    facts: OriginFacts | None
    """``None`` when the fetch or a read failed (:attr:`error` says why)."""
    error: str | None = None
    answers: tuple[str, ...] = ()
    """Instances whose ``Stop`` (or merge) waited for this read, in request order."""
    pushes: Mapping[str, PushResult] = attrs.field(factory=dict)
    """Instance -> its branch's push."""
    uncommitted: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    """Instance -> the paths its worktree has not committed (for requests that asked)."""


@final
@attrs.frozen(kw_only=True)
class ReadRequest:
    """What one instance's ``Stop`` asks of the next round."""

    instance: str
    worktree: Worktree | None = None
    """Push this worktree's branch first (a worker's)."""
    uncommitted: bool = False
    """Also list what the worktree has not committed."""


@final
@attrs.define(eq=False)
class OriginWatch:
    """Serves read requests in rounds, off the loop; one push and one fetch per round."""

    reader: OriginReader
    clock: Clock
    _pending: dict[str, ReadRequest] = attrs.field(init=False, factory=dict)
    _wake: anyio.Event = attrs.field(init=False, factory=anyio.Event)
    _rounds: int = attrs.field(init=False, default=0)
    _in_round: bool = attrs.field(init=False, default=False)

    @property
    def rounds(self) -> int:
        """Rounds served so far (one fetch each)."""
        return self._rounds

    @property
    def waiting(self) -> bool:
        """Some request waits for its round."""
        return bool(self._pending)

    @property
    def pending(self) -> tuple[ReadRequest, ...]:
        """The requests the next round serves, in the order they came."""
        return tuple(self._pending.values())

    @property
    def busy(self) -> bool:
        """A round runs or a request waits for one: an :class:`OriginRead` will come."""
        return self._in_round or bool(self._pending)

    def request(self, request: ReadRequest) -> None:
        """Ask for a read; returns at once. A second request of the same instance before
        its round merges into the first."""
        earlier = self._pending.get(request.instance)
        if earlier is not None:
            request = ReadRequest(
                instance=request.instance,
                worktree=request.worktree or earlier.worktree,
                uncommitted=request.uncommitted or earlier.uncommitted,
            )
        self._pending[request.instance] = request
        self._wake.set()

    def take(self) -> tuple[ReadRequest, ...]:
        """Take every waiting request, in the order they came, for a round (what
        :meth:`run` does; a state machine that plays origin serves them itself)."""
        batch, self._pending = self._pending, {}
        return tuple(batch.values())

    async def run(self, deliver: Callable[[Event], Awaitable[None]]) -> None:
        """Serve rounds until cancelled; each round's result is delivered as an event.

        When it stops, the reader's ``git cat-file`` process ends with it."""
        try:
            while True:
                await self._wake.wait()
                self._wake = anyio.Event()
                batch = self.take()
                if not batch:
                    continue
                self._in_round = True
                try:
                    read = await self.round(batch)
                finally:
                    self._in_round = False
                await deliver(read)
        finally:
            await self.reader.aclose()  # shielded: it runs under a cancellation too

    async def aclose(self) -> None:
        """End what the watch keeps running between rounds (the reader's cat-file): for a
        watch whose rounds were called directly, not through :meth:`run`."""
        await self.reader.aclose()

    async def round(self, requests: tuple[ReadRequest, ...]) -> OriginRead:
        """Push, fetch and read for ``requests`` (what :meth:`run` does each round)."""
        self._rounds += 1
        pushes = await self._push(requests)
        uncommitted: dict[str, tuple[str, ...]] = {}
        for request in requests:
            if request.uncommitted and request.worktree is not None:
                try:
                    uncommitted[request.instance] = tuple(await request.worktree.uncommitted())
                except GitError as exc:
                    logger.warning("%s: git status failed: %s", request.instance, exc)
        answers = tuple(r.instance for r in requests)
        try:
            facts = await self.reader.read()
        except GitError as exc:
            return OriginRead(
                instance="",
                at=self.clock.now(),
                facts=None,
                error=str(exc),
                answers=answers,
                pushes=pushes,
                uncommitted=uncommitted,
            )
        return OriginRead(
            instance="",
            at=self.clock.now(),
            facts=facts,
            answers=answers,
            pushes=pushes,
            uncommitted=uncommitted,
        )

    async def _push(self, requests: tuple[ReadRequest, ...]) -> dict[str, PushResult]:
        trees = {r.instance: r.worktree for r in requests if r.worktree is not None}
        if not trees:
            return {}
        repo = next(iter(trees.values())).repo
        try:
            refused = await repo.push_branches([t.branch for t in trees.values()])
        except GitError as exc:
            return {
                name: PushResult(branch=tree.branch, error=str(exc)) for name, tree in trees.items()
            }
        results = {}
        for name, tree in trees.items():
            reason = refused.get(tree.branch)
            if reason is None or await tree.behind_origin():
                results[name] = PushResult(branch=tree.branch)
                continue
            try:
                preserved = await tree.preserve_tip()
            except GitError as exc:
                results[name] = PushResult(branch=tree.branch, refused=reason, error=str(exc))
                continue
            results[name] = PushResult(branch=tree.branch, refused=reason, preserved=preserved)
        return results
