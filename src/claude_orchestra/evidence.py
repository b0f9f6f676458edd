"""What origin says after a turn: the task lists on the run branch, unmerged worker commits.

"Done" is evidence, never assumed: the orchestrator fetches after every ``Stop`` and reads
these facts from origin, not from what an instance claims.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import final

import attrs

from claude_orchestra.tasklists import TaskList, parse_task_list, task_list_filename
from claude_orchestra.worktree import GitRepo


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


async def read_origin(
    repo: GitRepo,
    *,
    run_branch: str,
    workers: Iterable[int],
    branches: Iterable[str],
    task_file: str | None = None,
) -> OriginFacts:
    """Fetch origin, then read the task lists (and ``task_file``, if named) and each
    branch's unmerged commits.

    Raises:
        GitError: the fetch or a read failed.
    """
    await repo.fetch()
    run_ref = f"origin/{run_branch}"
    task_lists = {}
    for number in workers:
        text = await repo.read_file(run_ref, task_list_filename(number))
        if text is not None:
            task_lists[number] = parse_task_list(text)
    unmerged = {
        branch: tuple(await repo.commit_ids(f"origin/{branch}", run_ref)) for branch in branches
    }
    text = await repo.read_file(run_ref, task_file) if task_file else None
    return OriginFacts(task_lists=task_lists, unmerged=unmerged, task_file=text)
