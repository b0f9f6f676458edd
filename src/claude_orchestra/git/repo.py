"""GitRepo: the main clone, over :mod:`claude_orchestra.git.ops`, in threads.

A run's workspace holds the main clone at ``<workspace>/repo`` (:class:`GitRepo`) and one
worktree per worker (:class:`~claude_orchestra.git.worktree.Worktree`), each on its own branch.
Every git call runs in a worker thread under the :class:`GitRepo`'s capacity limiter;
every change to the shared ``.git`` (worktrees, fetches, pushes, merges, config) takes the
:class:`GitRepo`'s one lock, so worktrees can be created and removed while others are in
use.

Git safety is built in, not configurable: nothing here resets, cleans, force-pushes,
rebases or deletes a branch; a failed merge is aborted and raised as
:class:`~claude_orchestra.errors.MergeConflict`; and :meth:`GitRepo.preserve` pins a tip on
origin before anything could move it backwards.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final, TypeVar, final

import anyio
import anyio.to_thread
import attrs

from claude_orchestra.errors import GitError
from claude_orchestra.git import checkout as gitcheckout
from claude_orchestra.git import ops as gitops
from claude_orchestra.git.checkout import WorktreeInfo
from claude_orchestra.git.env import Checkout
from claude_orchestra.git.strings import check_ref_name, split_credentials
from claude_orchestra.git.worktree import Worktree, absolute

DEFAULT_NETWORK_TIMEOUT: Final = 600.0
"""Seconds a clone, fetch or push may take before git is killed."""

_log = logging.getLogger(__name__)
_THREADS: Final = 8
_T = TypeVar("_T")


@final
@attrs.define(eq=False)
class GitRepo:
    """The main clone of the target repository.

    Make one per clone and share it: it owns the lock that serialises writes to the
    shared ``.git`` for itself and every :class:`Worktree` it creates.

    Branch and ref information (:meth:`remote_branches`, :meth:`is_reachable_on_origin`)
    is as of the last :meth:`fetch` or push.
    """

    _path: Path = attrs.field(alias="path", converter=absolute)
    _network_timeout: float = attrs.field(
        default=DEFAULT_NETWORK_TIMEOUT, alias="network_timeout", kw_only=True, repr=False
    )
    _credentials_file: Path | None = attrs.field(
        default=None, alias="credentials_file", kw_only=True, repr=False
    )
    _origin_url: str | None = attrs.field(default=None, alias="origin_url", kw_only=True)
    _lock: anyio.Lock = attrs.field(factory=anyio.Lock, init=False, repr=False)
    _limiter: anyio.CapacityLimiter = attrs.field(
        factory=lambda: anyio.CapacityLimiter(_THREADS), init=False, repr=False
    )

    @property
    def path(self) -> Path:
        """The clone's directory."""
        return self._path

    @property
    def origin_url(self) -> str | None:
        """Origin's URL as cloned (no credentials); ``None`` when not known."""
        return self._origin_url

    @property
    def network_timeout(self) -> float:
        """Seconds a clone, fetch or push may take before git is killed."""
        return self._network_timeout

    @property
    def checkout(self) -> Checkout:
        """Where the host's git finds the clone (its ``.git`` inside it)."""
        return Checkout.clone(
            self._path, credentials_file=self._credentials_file, origin_url=self._origin_url
        )

    def linked(self, worktree: Path) -> Checkout:
        """Where the host's git finds this clone's linked worktree at ``worktree``."""
        return self.checkout.linked(absolute(worktree))

    @classmethod
    async def clone(
        cls,
        url: str,
        dest: Path,
        *,
        branch: str,
        depth: int | None = None,
        network_timeout: float = DEFAULT_NETWORK_TIMEOUT,
        credentials_file: Path | None = None,
    ) -> GitRepo:
        """Clone ``url`` into ``dest`` with ``branch`` checked out.

        Args:
            url: An https, ssh or ``file://`` URL or a local path. Credentials in it never
                appear in an error.
            dest: A directory that does not exist or is empty.
            branch: The branch to check out; origin must have it.
            depth: Make a shallow clone of this many commits per branch.
            network_timeout: Seconds a clone, fetch or push may take.
            credentials_file: Where a user and password in an http(s) ``url`` go (mode
                0600) instead of the clone's config; git's ``store`` helper reads them.

        Raises:
            GitError: ``dest`` is not empty, origin lacks ``branch`` ("origin has no
                branch 'x'"), or git failed.
            ValueError: ``branch`` is not a valid branch name or ``depth`` < 1.
        """
        dest = absolute(dest)
        clone = functools.partial(
            gitops.clone,
            url,
            dest,
            branch=branch,
            depth=depth,
            timeout=network_timeout,
            credentials_file=credentials_file,
        )
        origin_url = await anyio.to_thread.run_sync(clone)
        _log.info("cloned into %s", dest, extra={"path": str(dest), "branch": branch})
        stored = credentials_file is not None and split_credentials(url)[1] is not None
        return cls(
            path=dest,
            network_timeout=network_timeout,
            credentials_file=credentials_file if stored else None,
            origin_url=origin_url,
        )

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        network_timeout: float = DEFAULT_NETWORK_TIMEOUT,
        credentials_file: Path | None = None,
        origin_url: str | None = None,
    ) -> GitRepo:
        """The existing clone at ``path`` (a resumed run).

        Args:
            path: The clone.
            network_timeout: Seconds a fetch or push may take.
            credentials_file: The ``git credential-store`` file :meth:`clone` wrote, if any.
            origin_url: Origin's URL without credentials; the clone's config must name
                no other (``None``: any one URL).

        Raises:
            GitError: ``path`` holds no git clone.
        """
        path = absolute(path)
        if not (path / ".git").is_dir():
            raise GitError(path, "open", "not a git clone (no .git directory)")
        helper_file = credentials_file if credentials_file and credentials_file.exists() else None
        return cls(
            path=path,
            network_timeout=network_timeout,
            credentials_file=helper_file,
            origin_url=origin_url,
        )

    async def _thread(self, fn: Callable[[], _T]) -> _T:
        return await anyio.to_thread.run_sync(fn, limiter=self._limiter)

    async def _locked(self, fn: Callable[[], _T]) -> _T:
        async with self._lock:
            return await self._thread(fn)

    async def in_thread(self, fn: Callable[[], _T]) -> _T:
        """Run ``fn`` (a blocking git step that only reads) in a thread, under the limiter."""
        return await self._thread(fn)

    async def locked(self, fn: Callable[[], _T]) -> _T:
        """Run ``fn`` (a blocking git step on this repository) in a thread, under the lock
        every change to the shared ``.git`` takes."""
        return await self._locked(fn)

    async def fetch(self) -> None:
        """Fetch origin's branches and preserved refs, pruning what origin deleted."""
        await self._locked(
            functools.partial(gitops.fetch, self.checkout, timeout=self._network_timeout)
        )

    async def set_identity(self, *, name: str, email: str) -> None:
        """Set the committer name and email for the clone and all its worktrees."""
        await self._locked(
            functools.partial(gitops.set_identity, self.checkout, name=name, email=email)
        )

    async def read_file(self, ref: str, path: str) -> str | None:
        """The text of ``path`` at ``ref`` (``"origin/main"``), or ``None`` if absent.

        Raises:
            GitError: ``ref`` names no commit.
        """
        return await self._thread(functools.partial(gitops.read_file, self.checkout, ref, path))

    async def list_files(self, ref: str, pattern: str) -> list[str]:
        """The top-level file names at ``ref`` matching the glob ``pattern``, sorted.

        Raises:
            GitError: ``ref`` names no commit.
        """
        return await self._thread(functools.partial(gitops.list_files, self.checkout, ref, pattern))

    async def commits_ahead(self, ref: str, base: str) -> int:
        """How many commits ``ref`` has that ``base`` lacks; 0 if ``ref`` does not exist.

        Raises:
            GitError: ``base`` names no commit.
        """
        return await self._thread(functools.partial(gitops.commits_ahead, self.checkout, ref, base))

    async def commit_ids(self, ref: str, base: str) -> list[str]:
        """The commit ids in ``base..ref``, oldest first; empty if ``ref`` does not exist."""
        return await self._thread(functools.partial(gitops.commit_ids, self.checkout, ref, base))

    async def remote_branches(self) -> dict[str, str]:
        """Origin's branches, name to commit id, as of the last fetch or push."""
        return await self._thread(functools.partial(gitops.remote_branches, self.checkout))

    async def push(self, ref: str, remote_branch: str) -> None:
        """Push ``ref`` to origin's branch ``remote_branch``. Never forced.

        Raises:
            GitError: Origin rejected the push (it is not a fast-forward, or a hook
                refused it), or git failed. There is no retry.
        """
        dest = f"refs/heads/{check_ref_name(remote_branch)}"
        await self._locked(
            functools.partial(gitops.push, self.checkout, ref, dest, timeout=self._network_timeout)
        )
        _log.info("pushed %s to origin/%s", ref, remote_branch, extra={"branch": remote_branch})

    async def push_branches(self, branches: Sequence[str]) -> dict[str, str | None]:
        """Push each local branch to origin's branch of that name, in one push. Never forced.

        Returns:
            Branch -> ``None`` when origin has it now, else git's reason for refusing it.

        Raises:
            GitError: git failed for every branch (origin unreachable, say).
        """
        return await self._locked(
            functools.partial(
                gitops.push_branches, self.checkout, list(branches), timeout=self._network_timeout
            )
        )

    async def preserve(self, ref: str, name: str) -> str:
        """Pin ``ref``'s commit on origin as ``refs/orchestra/preserved/<name>``.

        Do this before any tip could move other than forward, and name the ref in the
        report.

        Returns:
            The full ref name.

        Raises:
            ValueError: ``name`` makes no valid ref name.
            GitError: Origin already holds ``name`` at an unrelated commit, or git failed.
        """
        full = await self._locked(
            functools.partial(
                gitops.preserve, self.checkout, ref, name, timeout=self._network_timeout
            )
        )
        _log.info("preserved %s as %s on origin", ref, full, extra={"ref": full})
        return full

    async def is_reachable_on_origin(self, sha: str) -> bool:
        """Whether an origin branch or preserved ref contains ``sha``."""
        return await self._thread(
            functools.partial(gitops.is_reachable_on_origin, self.checkout, sha)
        )

    async def merge(self, ref: str) -> None:
        """Merge ``ref`` (``worker-1``) into the branch checked out in the main clone.

        Raises:
            MergeConflict: The merge stopped on conflicts; it was aborted.
            GitError: The clone has uncommitted changes to tracked files, a merge is in
                progress, or git failed.
        """
        await self._locked(functools.partial(gitcheckout.merge, self.checkout, ref))
        _log.info("merged %s in the main clone", ref, extra={"branch": ref})

    async def add_worktree(self, path: Path, *, branch: str, base: str) -> Worktree:
        """Check ``branch`` out in a worktree at ``path``.

        The branch is reused if it exists locally (a resumed run), else taken from
        origin's branch of that name, else created at ``origin/<base>``; it is never
        reset. A worktree already at ``path`` on ``branch`` is reused. Call
        :meth:`fetch` first so ``origin/<base>`` is current.

        Args:
            path: Where the worktree goes (``<workspace>/worktrees/worker-1``), outside
                the main clone.
            branch: The worker's branch (``worker-1``).
            base: The run's integration branch (``main``).

        Raises:
            GitError: ``path`` is not empty, ``branch`` is checked out elsewhere, or
                origin has no ``base``.
        """
        path = absolute(path)
        await self._locked(
            functools.partial(
                gitcheckout.add_worktree, self.checkout, path, branch=branch, base=base
            )
        )
        _log.info("worktree %s on %s", path, branch, extra={"path": str(path), "branch": branch})
        return Worktree(repo=self, path=path, branch=branch, base=base)

    async def worktrees(self) -> list[WorktreeInfo]:
        """Every checkout of the repository, the main clone first."""
        return await self._thread(functools.partial(gitcheckout.list_worktrees, self.checkout))
