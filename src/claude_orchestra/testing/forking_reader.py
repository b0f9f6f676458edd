"""The origin reader as it was before the batch reads: one ``git`` fork per file and range.

:class:`ForkingOriginReader` reads the same :class:`~claude_orchestra.git.evidence.OriginFacts`
as :class:`~claude_orchestra.git.evidence.OriginReader`, with the same per-commit cache,
through :meth:`GitRepo.read_file <claude_orchestra.git.repo.GitRepo.read_file>` and
:meth:`GitRepo.commit_ids <claude_orchestra.git.repo.GitRepo.commit_ids>`, one thread hop and
three or four ``git`` processes each. It is the naive model the batch reader is compared
with (the differential tests) and the baseline of ``bench/origin_reads.py``; nothing in a
run uses it.
"""

from __future__ import annotations

from typing import final

import attrs

from claude_orchestra.git.evidence import OriginFacts
from claude_orchestra.git.repo import GitRepo
from claude_orchestra.git.session import tracking
from claude_orchestra.tasklists import TaskList, parse_task_list, task_list_filename
from claude_orchestra.workers import worker_branch


@final
@attrs.define(eq=False)
class ForkingOriginReader:
    """Reads :class:`OriginFacts` one file and one range at a time, reading again only
    what moved (the reader's code before issue #13's batch reads)."""

    repo: GitRepo
    run_branch: str
    workers: tuple[int, ...]
    branches: tuple[str, ...]
    task_file: str | None = None
    _files: dict[tuple[str, str], str | None] = attrs.field(init=False, factory=dict)
    _ranges: dict[tuple[str, str], tuple[str, ...]] = attrs.field(init=False, factory=dict)
    _last_files: dict[tuple[str, str], str | None] = attrs.field(init=False, factory=dict)
    _last_ranges: dict[tuple[str, str], tuple[str, ...]] = attrs.field(init=False, factory=dict)

    async def read(self, *, fetch: bool = True) -> OriginFacts:
        """Fetch origin (unless told not to), then read the facts.

        Raises:
            GitError: the fetch or a read failed.
        """
        if fetch:
            await self.repo.fetch()
        self._last_files, self._files = self._files, {}
        self._last_ranges, self._ranges = self._ranges, {}
        tips = await self.repo.remote_branches()
        run_tip = tips.get(self.run_branch)
        run_ref = run_tip or tracking(self.run_branch)
        task_lists: dict[int, TaskList] = {}
        own_lists: dict[int, TaskList] = {}
        for number in self.workers:
            name = task_list_filename(number)
            text = await self._file(run_ref, name)
            if text is not None:
                task_lists[number] = parse_task_list(text)
            tip = tips.get(worker_branch(number))
            own = await self._file(tip, name) if tip else None
            if own is not None:
                own_lists[number] = parse_task_list(own)
        unmerged = {}
        for branch in self.branches:
            tip = tips.get(branch)
            unmerged[branch] = await self._range(tip, run_ref) if tip else ()
        text = await self._file(run_ref, self.task_file) if self.task_file else None
        return OriginFacts(
            task_lists=task_lists,
            unmerged=unmerged,
            task_file=text,
            branch_task_lists=own_lists,
        )

    async def _file(self, commit: str, path: str) -> str | None:
        key = (commit, path)
        if key in self._last_files and _is_sha(commit):
            self._files[key] = self._last_files[key]
        elif key not in self._files:
            self._files[key] = await self.repo.read_file(commit, path)
        return self._files[key]

    async def _range(self, tip: str, base: str) -> tuple[str, ...]:
        key = (tip, base)
        if key in self._last_ranges and _is_sha(base):
            self._ranges[key] = self._last_ranges[key]
        elif key not in self._ranges:
            self._ranges[key] = tuple(await self.repo.commit_ids(tip, base))
        return self._ranges[key]


def _is_sha(ref: str) -> bool:
    return len(ref) in (40, 64) and all(c in "0123456789abcdef" for c in ref)
