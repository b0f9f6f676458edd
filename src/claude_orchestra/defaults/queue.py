"""The ``queue`` strategies: the orchestrator hands out tasks and merges by itself.

Scheduling (config ``"scheduler": "queue"``): tasks come from the task file on the run
branch (``taskFile``, default ``TASKS.md``; format in :mod:`claude_orchestra.taskfile`).
Every idle worker gets the next task that is ready (not done, not held by another worker,
every task it waits for merged) at once, with no manager turn spent. A worker whose
finished work waits to be merged gets nothing new until it is merged, so it always starts
from a run branch that holds its own earlier work. When the run branch has no task file
and the run has a manager, the manager is asked once to write it (the manager plans once,
the orchestrator hands out). A task a worker stops on again and again without committing
is given up (reported, never handed out again); the worker goes on with others.

Merging (config ``"merger": "queue"``): a worker's finished branch goes to the
:class:`~claude_orchestra.git.merge_queue.MergeQueue`: merged in order in the orchestrator's own
worktree, tested with ``mergeTestCommand``, and pushed only if it passed; a conflict or a
failing test goes back to the worker. No manager turn is spent on merging.

Each strategy works with either of the other (``manager``/``queue``, ``queue``/``manager``).
"""

from __future__ import annotations

from collections.abc import Sequence

from claude_orchestra.defaults.manager import MAX_PLAN_REQUESTS, merge_assignment
from claude_orchestra.hookspecs import hookimpl
from claude_orchestra.instance import Role
from claude_orchestra.prompt_tag import render_prompt_tag
from claude_orchestra.taskfile import QueueTask
from claude_orchestra.values import (
    Assignment,
    AssignmentKind,
    MergeByQueue,
    MergePlan,
    RunView,
    StrategyNeeds,
    WorkerFinished,
)
from claude_orchestra.workers import worker_branch

NAME = "queue"


def task_prompt(run: RunView, worker: int, task: QueueTask) -> str:
    """A worker's prompt for one task of the task file."""
    branch = worker_branch(worker)
    task_file = run.task_file_name
    return "\n".join(
        [
            f"You are worker {worker}. You work in this git worktree on branch `{branch}`.",
            f"First bring in the run branch: `git fetch origin && git merge --no-edit "
            f"origin/{run.run_branch}` (if it conflicts, resolve it keeping both sides).",
            f"Your task: {task.text}",
            *([task.detail] if task.detail else []),
            f"When it is done, commit everything, push with `git push origin HEAD:{branch}`, "
            f"and stop. Do only this task, and leave {task_file} as it is.",
            render_prompt_tag(
                {
                    "action": "task",
                    "worker": worker,
                    "branch": branch,
                    "run_branch": run.run_branch,
                    "task": task.text,
                    "key": task.key,
                }
            ),
        ]
    )


def plan_tasks_prompt(run: RunView) -> str:
    """The manager's one planning prompt when the run branch has no task file."""
    task_file = run.task_file_name
    return "\n".join(
        [
            f"You are the manager of a team of {run.worker_count} workers, each a Claude Code "
            "instance in its own git worktree; the orchestrator hands them tasks one by one.",
            "Read PROJECT_DIRECTION.md and split the work into small tasks that can be done "
            "in parallel with few conflicts.",
            f"Write them to {task_file} as a Markdown checklist, one `- [ ] task` per line. "
            "Give a task an id with a trailing `{#id}`, and make a task wait for others with "
            "`{after: id, id}` (example: `- [ ] Add tests for greet.py {after: greet}`).",
            f"Commit {task_file} on the `{run.run_branch}` branch and push it with "
            f"`git push origin HEAD:{run.run_branch}`. Do not start on the tasks yourself.",
            render_prompt_tag(
                {"action": "plan_tasks", "file": task_file, "run_branch": run.run_branch}
            ),
        ]
    )


@hookimpl(trylast=True)
def orchestra_schedule(run: RunView) -> Sequence[Assignment] | None:
    """Hand each idle worker the next ready task; the manager plans once, and merges with
    the ``manager`` merger."""
    if run.scheduler != NAME:
        return None
    assignments: list[Assignment] = []
    for view in run.idle:
        if view.role is not Role.MANAGER:
            continue
        if run.task_file is None and run.plan_requests < MAX_PLAN_REQUESTS:
            assignments.append(
                Assignment(
                    instance=view.name, prompt=plan_tasks_prompt(run), kind=AssignmentKind.PLAN
                )
            )
        elif (merge := merge_assignment(run, view)) is not None:
            assignments.append(merge)
    if run.task_file is None:
        return assignments
    ready = list(run.task_file.ready(run.tasks_done, run.tasks_taken | run.tasks_given_up))
    for view in run.idle:
        if not ready or view.worker is None:
            continue
        if worker_branch(view.worker) in run.awaiting_merge or view.name in run.handed_back:
            continue
        task = ready.pop(0)
        assignments.append(
            Assignment(
                instance=view.name,
                prompt=task_prompt(run, view.worker, task),
                kind=AssignmentKind.WORK,
                task=task.text,
                task_key=task.key,
            )
        )
    return assignments


@hookimpl(trylast=True)
def orchestra_strategy_needs(kind: str, name: str) -> StrategyNeeds | None:
    """The queue scheduler reads the task file; the queue merger uses the merge queue."""
    if name != NAME:
        return None
    return StrategyNeeds(task_file=kind == "scheduler", merge_queue=kind == "merger")


@hookimpl(trylast=True)
def orchestra_merge(run: RunView, finished: WorkerFinished) -> MergePlan | None:
    """Finished work joins the merge queue."""
    if run.merger != NAME:
        return None
    return MergeByQueue()
