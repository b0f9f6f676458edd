"""Worktree: one worker's checkout of the main clone, on its own branch, in threads.

Each worker has a worktree at ``<workspace>/worktrees/worker-N`` on its own branch, made
by :meth:`GitRepo.add_worktree <claude_orchestra.git.repo.GitRepo.add_worktree>`. Its git
runs in threads under its clone's limiter, and every change to the shared ``.git`` under
the clone's lock. :meth:`Worktree.remove` refuses to drop commits origin lacks
(:class:`~claude_orchestra.errors.UnmergedWorkError`), and a refused push pins the tip on
origin instead of forcing it.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, TypeVar, final

import attrs

from claude_orchestra.errors import GitError
from claude_orchestra.git import checkout as gitcheckout
from claude_orchestra.git import ops as gitops
from claude_orchestra.git.env import Checkout
from claude_orchestra.git.session import tracking

_log = logging.getLogger(__name__)
_T = TypeVar("_T")


def absolute(path: Path | str) -> Path:
    """``path`` made absolute, ``~`` expanded, symlinks left as they are."""
    return Path(os.path.abspath(Path(path).expanduser()))


@final
@attrs.frozen(kw_only=True)
class WorktreeView:
    """What a worktree is, frozen: where, which branch, and the run branch it follows."""

    path: Path
    branch: str
    """The worker's branch (``worker-1``)."""
    base: str
    """The run's integration branch (``main``); the worktree syncs with ``origin/<base>``."""


class Clone(Protocol):
    """What a :class:`Worktree` asks of the clone it belongs to: a
    :class:`~claude_orchestra.git.repo.GitRepo`."""

    @property
    def checkout(self) -> Checkout: ...

    @property
    def network_timeout(self) -> float: ...

    def linked(self, worktree: Path) -> Checkout: ...

    async def in_thread(self, fn: Callable[[], _T]) -> _T: ...

    async def locked(self, fn: Callable[[], _T]) -> _T: ...

    async def fetch(self) -> None: ...

    async def commits_ahead(self, ref: str, base: str) -> int: ...

    async def commit_ids(self, ref: str, base: str) -> list[str]: ...

    async def preserve(self, ref: str, name: str) -> str: ...

    async def is_reachable_on_origin(self, sha: str) -> bool: ...

    async def push_branches(self, branches: Sequence[str]) -> dict[str, str | None]: ...


@final
@attrs.define(eq=False)
class Worktree:
    """One worker's checkout, on its own branch. Made by
    :meth:`GitRepo.add_worktree <claude_orchestra.git.repo.GitRepo.add_worktree>`."""

    _repo: Clone = attrs.field(alias="repo", repr=False)
    _path: Path = attrs.field(alias="path", converter=absolute)
    _branch: str = attrs.field(alias="branch")
    _base: str = attrs.field(alias="base")

    @property
    def path(self) -> Path:
        """The worktree's directory."""
        return self._path

    @property
    def repo(self) -> Clone:
        """The clone this worktree belongs to."""
        return self._repo

    @property
    def branch(self) -> str:
        """The worker's branch (``worker-1``)."""
        return self._branch

    @property
    def base(self) -> str:
        """The run's integration branch (``main``)."""
        return self._base

    @property
    def _checkout(self) -> Checkout:
        return self._repo.linked(self._path)

    def snapshot(self) -> WorktreeView:
        """A frozen view for plugins."""
        return WorktreeView(path=self._path, branch=self._branch, base=self._base)

    async def sync(self) -> None:
        """Fetch, then merge ``origin/<base>`` into the branch.

        Raises:
            MergeConflict: The merge stopped on conflicts (``files`` names them); it was
                aborted, so the worktree is as it was.
            GitError: The worktree has uncommitted changes to tracked files, is not on its
                branch, is in the middle of a merge, or git failed.
        """

        def sync() -> None:
            gitops.fetch(self._repo.checkout, timeout=self._repo.network_timeout)
            gitcheckout.merge(self._checkout, tracking(self._base), branch=self._branch)

        await self._repo.locked(sync)
        _log.info("synced %s with origin/%s", self._branch, self._base, extra=self._extra())

    async def uncommitted(self) -> list[str]:
        """Paths with changes not committed (tracked or untracked, not ignored), sorted."""
        return await self._repo.in_thread(
            functools.partial(gitcheckout.uncommitted, self._checkout)
        )

    async def commits_ahead(self) -> int:
        """How many commits the (local) branch has that ``origin/<base>`` lacks."""
        return await self._repo.commits_ahead(f"refs/heads/{self._branch}", tracking(self._base))

    async def push(self) -> None:
        """Push the branch to origin's branch of the same name. Never forced.

        Raises:
            GitError: Origin rejected the push, or git failed. There is no retry.
        """
        ref = f"refs/heads/{self._branch}"
        await self._repo.locked(
            functools.partial(
                gitops.push,
                self._checkout,
                ref,
                ref,
                timeout=self._repo.network_timeout,
                set_upstream=True,
            )
        )

    async def preserve(self, name: str) -> str:
        """Pin the branch's tip on origin as ``refs/orchestra/preserved/<name>``."""
        return await self._repo.preserve(f"refs/heads/{self._branch}", name)

    async def behind_origin(self) -> bool:
        """Whether origin already holds the branch's tip (after a fetch): a worker that
        pushed from another checkout of the branch (the ``remote`` runtime's hosts) left
        this one behind, and a refused push of it loses nothing."""
        await self._repo.fetch()
        return await self._repo.is_reachable_on_origin(f"refs/heads/{self._branch}")

    async def push_or_preserve(self) -> str | None:
        """Push the branch; when origin rejects it, pin its tip as a preserved ref instead.

        Returns:
            ``None`` when the push went through, else the preserved ref's full name
            (``refs/orchestra/preserved/<branch>/<short sha>``), to name in the report.

        Raises:
            GitError: Both the push and the preserve failed (e.g. origin is unreachable).
        """
        try:
            await self.push()
        except GitError as rejected:
            if await self.behind_origin():
                return None
            ref = await self.preserve_tip()
            _log.warning(
                "push of %s rejected (%s); its tip is preserved as %s",
                self._branch,
                rejected.reason,
                ref,
                extra=self._extra(),
            )
            return ref
        return None

    async def preserve_tip(self) -> str:
        """Pin the branch's tip on origin as ``refs/orchestra/preserved/<branch>/<short sha>``
        (after origin refused a push of it), and return the ref's full name."""
        ahead = await self._repo.commit_ids(f"refs/heads/{self._branch}", tracking(self._base))
        name = f"{self._branch}/{ahead[-1][:12]}" if ahead else f"{self._branch}/tip"
        return await self.preserve(name)

    async def remove(self) -> None:
        """Remove the worktree's directory; the branch stays.

        Fetches first. Untracked files inside are dropped (they are not commits).
        Stop the instance working here first.

        Raises:
            UnmergedWorkError: The branch (or the worktree's HEAD) has commits that no
                origin branch and no preserved ref holds; push or preserve them first.
            GitError: Tracked files have uncommitted changes, or git failed.
        """
        await self._repo.locked(
            functools.partial(
                gitcheckout.remove_worktree,
                self._repo.checkout,
                self._path,
                branch=self._branch,
                timeout=self._repo.network_timeout,
            )
        )
        _log.info("removed worktree %s", self._path, extra=self._extra())

    def _extra(self) -> dict[str, str]:
        return {"path": str(self._path), "branch": self._branch}
