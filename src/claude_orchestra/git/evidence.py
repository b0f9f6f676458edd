"""What origin says: the task lists on the run branch and on each worker's own branch, the
commits each worker branch holds that the run branch lacks, and the task file.

"Done" is evidence, never assumed: the orchestrator fetches after a ``Stop`` and reads these
facts from origin, not from what an instance claims. A worker's own list on its branch is
ahead of the run branch's copy until its work is merged, so "has this worker work left?" is
read there (the run branch lags behind the merges).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Final, Self, TypeVar, final

import anyio
import anyio.to_thread
import attrs

from claude_orchestra.errors import GitError
from claude_orchestra.git.batch_reads import FileKey, RangeKey, RoundReads, read_round
from claude_orchestra.git.catfile import CatFile
from claude_orchestra.git.repo import GitRepo
from claude_orchestra.git.session import tracking
from claude_orchestra.tasklists import TaskList, parse_task_list, task_list_filename
from claude_orchestra.workers import worker_branch


@final
@attrs.frozen(kw_only=True)
class OriginFacts:
    """The run's state on origin after a fetch."""

    task_lists: Mapping[int, TaskList]
    """Worker number -> its task list on the run branch (absent: no list yet)."""
    unmerged: Mapping[str, tuple[str, ...]]
    """Worker branch -> the commits on it that the run branch lacks, oldest first."""
    task_file: str | None = None
    """The task file's text on the run branch (``None``: absent, or none asked for)."""
    branch_task_lists: Mapping[int, TaskList] = attrs.field(factory=dict)
    """Worker number -> its task list as its own branch on origin holds it (absent: the
    branch or the file does not exist)."""


@final
@attrs.define(eq=False)
class OriginReader:
    """Reads :class:`OriginFacts` from a clone, reading again only what moved.

    Files are read per commit, so a round where only one worker's branch moved reads one
    list and one commit range, however many workers there are. What a round must read it
    reads in one worker thread at a constant cost in processes: one ``for-each-ref``, one
    exchange with a long-lived ``git cat-file --batch`` (:class:`CatFile`, which the reader
    owns: :meth:`aclose` ends it) and at most one ``rev-list``
    (:mod:`~claude_orchestra.git.batch_reads`), beside the fetch.
    """

    repo: GitRepo
    run_branch: str
    workers: tuple[int, ...]
    branches: tuple[str, ...]
    task_file: str | None = None
    _objects: CatFile = attrs.field(
        alias="objects",
        default=attrs.Factory(lambda self: CatFile(self.repo.checkout), takes_self=True),
        kw_only=True,
    )
    _files: dict[FileKey, str | None] = attrs.field(init=False, factory=dict)
    _ranges: dict[RangeKey, tuple[str, ...]] = attrs.field(init=False, factory=dict)
    _last_files: dict[FileKey, str | None] = attrs.field(init=False, factory=dict)
    _last_ranges: dict[RangeKey, tuple[str, ...]] = attrs.field(init=False, factory=dict)

    @property
    def objects(self) -> CatFile:
        """The reader's ``git cat-file --batch`` (its process id, how often it started)."""
        return self._objects

    async def read(self, *, fetch: bool = True) -> OriginFacts:
        """Fetch origin (unless told not to), then read the facts.

        Raises:
            GitError: the fetch or a read failed.
        """
        if fetch:
            await self.repo.fetch()
        # Keep only what this round reads: the cache holds one round's commits, no more.
        self._last_files, self._files = self._files, {}
        self._last_ranges, self._ranges = self._ranges, {}
        tips = await self.repo.remote_branches()
        run_ref = tips.get(self.run_branch) or tracking(self.run_branch)
        files = [(run_ref, task_list_filename(n)) for n in self.workers]
        files += [(t, task_list_filename(n)) for n in self.workers if (t := _own(tips, n))]
        files += [(run_ref, self.task_file)] if self.task_file else []
        ranges = [(tip, run_ref) for b in self.branches if (tip := tips.get(b))]
        self._carry(files, ranges)
        missing_files = [k for k in dict.fromkeys(files) if k not in self._files]
        missing_ranges = [k for k in dict.fromkeys(ranges) if k not in self._ranges]
        fresh = RoundReads(files={}, ranges={})
        if missing_files or missing_ranges:  # one thread hop, a constant number of processes
            fresh = await self.repo.in_thread(
                functools.partial(
                    read_round, self._objects, self.repo.checkout, missing_files, missing_ranges
                )
            )
        return self._facts(tips, run_ref, fresh)

    async def aclose(self) -> None:
        """End the cat-file process (bounded, shielded); a later :meth:`read` starts another."""
        with anyio.move_on_after(_CLOSE_WITHIN, shield=True):
            await anyio.to_thread.run_sync(self._objects.close)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _facts(self, tips: Mapping[str, str], run_ref: str, fresh: RoundReads) -> OriginFacts:
        """The facts at ``tips``, from the cache and ``fresh``. Errors are raised in the
        order a read one at a time would meet them: the lists, the ranges, the task file."""
        task_lists: dict[int, TaskList] = {}
        own_lists: dict[int, TaskList] = {}
        for number in self.workers:
            name = task_list_filename(number)
            text = self._file(fresh, run_ref, name)
            if text is not None:
                task_lists[number] = parse_task_list(text)
            tip = _own(tips, number)
            mine = self._file(fresh, tip, name) if tip else None
            if mine is not None:
                own_lists[number] = parse_task_list(mine)
        unmerged = {}
        for branch in self.branches:
            tip = tips.get(branch)
            unmerged[branch] = self._range(fresh, tip, run_ref) if tip else ()
        text = self._file(fresh, run_ref, self.task_file) if self.task_file else None
        return OriginFacts(
            task_lists=task_lists,
            unmerged=unmerged,
            task_file=text,
            branch_task_lists=own_lists,
        )

    def _carry(self, files: list[FileKey], ranges: list[RangeKey]) -> None:
        """Take over from the last round what a commit id fixes."""
        for key in files:
            if key in self._last_files and _is_sha(key[0]):
                self._files[key] = self._last_files[key]
        for tip, base in ranges:
            if (tip, base) in self._last_ranges and _is_sha(base):
                self._ranges[tip, base] = self._last_ranges[tip, base]

    def _file(self, fresh: RoundReads, commit: str, path: str) -> str | None:
        key = (commit, path)
        if key not in self._files:
            self._files[key] = _raised(fresh.files[key])
        return self._files[key]

    def _range(self, fresh: RoundReads, tip: str, base: str) -> tuple[str, ...]:
        key = (tip, base)
        if key not in self._ranges:
            self._ranges[key] = _raised(fresh.ranges[key])
        return self._ranges[key]


_CLOSE_WITHIN: Final = 10.0
"""Seconds :meth:`OriginReader.aclose` waits for the cat-file process to end."""

_T = TypeVar("_T")


def _own(tips: Mapping[str, str], worker: int) -> str | None:
    """The tip of ``worker``'s own branch on origin."""
    return tips.get(worker_branch(worker))


def _raised(answer: _T | GitError) -> _T:
    if isinstance(answer, GitError):
        raise answer
    return answer


def _is_sha(ref: str) -> bool:
    return len(ref) in (40, 64) and all(c in "0123456789abcdef" for c in ref)
