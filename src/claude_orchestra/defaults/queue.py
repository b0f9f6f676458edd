"""The ``queue`` merger (config ``"merger": "queue"``): the orchestrator merges by itself.

A worker's finished branch goes to the :class:`~claude_orchestra.mergequeue.MergeQueue`:
merged in order in the orchestrator's own worktree, tested with ``mergeTestCommand``, and
pushed only if it passed; a conflict or a failing test goes back to the worker. No manager
turn is spent on merging. Works with either scheduler (``manager`` plans, ``queue`` merges).
"""

from __future__ import annotations

from claude_orchestra.hookspecs import hookimpl
from claude_orchestra.progress import MergeByQueue, MergePlan, RunView, WorkerFinished

NAME = "queue"


@hookimpl(trylast=True)
def orchestra_merge(run: RunView, finished: WorkerFinished) -> MergePlan | None:
    """Finished work joins the merge queue."""
    if run.merger != NAME:
        return None
    return MergeByQueue()
