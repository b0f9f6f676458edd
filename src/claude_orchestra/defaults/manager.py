"""The original tool's protocol: the manager plans and merges, workers follow task lists.

Scheduling (config ``"scheduler": "manager"``):

1. The manager, in the main clone on the run branch, is asked once to read
   ``PROJECT_DIRECTION.md`` and write ``WORKER_<N>_TASK_LIST.md`` for every worker, then
   commit and push them.
2. Every idle worker whose list (on the run branch) has an open task, and whose finished
   work is not waiting to be merged, is asked to bring the run branch into its branch, do
   that task, tick it, commit and push its branch.
3. When finished branches wait, the idle manager is asked to merge them and push.
4. A worker that stopped without committing gets a follow-up; after ``idleRetries`` of them
   its task is handed back: the worker waits, and the idle manager (nothing to merge) is
   asked to rework the task lists, at most twice per run. Without a replan left, the
   worker stays idle and the run ends stalled rather than spinning.

Merging (config ``"merger": "manager"``): finished work waits for step 3.
"""

from __future__ import annotations

from collections.abc import Sequence

from claude_orchestra.hookspecs import hookimpl
from claude_orchestra.instance import InstanceView, Role
from claude_orchestra.prompt_tag import render_prompt_tag
from claude_orchestra.tasklists import TaskItem, task_list_filename
from claude_orchestra.values import (
    Assignment,
    AssignmentKind,
    MergeByManager,
    MergePlan,
    RunView,
    StrategyNeeds,
    WorkerFinished,
)
from claude_orchestra.workers import worker_branch, worker_number

NAME = "manager"
MAX_PLAN_REQUESTS = 3
MAX_MERGE_REQUESTS = 3
MAX_REPLAN_REQUESTS = 2


def plan_prompt(run: RunView) -> str:
    """The manager's planning prompt."""
    files = ", ".join(task_list_filename(n) for n in range(1, run.worker_count + 1))
    return "\n".join(
        [
            f"You are the manager of a team of {run.worker_count} workers, each a Claude Code "
            "instance in its own git worktree.",
            "Read PROJECT_DIRECTION.md and split the work into small tasks that can be done "
            "in parallel with few conflicts.",
            f"Write one task list per worker: {files}. Each file has the heading "
            "`# Worker N Task List` and the sections `## Current Task` (one item), "
            "`## Queue` and `## Completed`; every task is a checklist item `- [ ] ...`.",
            f"Commit the task lists on the `{run.run_branch}` branch and push them with "
            f"`git push origin HEAD:{run.run_branch}`. Do not start on the tasks yourself.",
            render_prompt_tag(
                {"action": "plan", "workers": run.worker_count, "run_branch": run.run_branch}
            ),
        ]
    )


def work_prompt(run: RunView, worker: int, task: str) -> str:
    """A worker's prompt for its next task."""
    branch = worker_branch(worker)
    name = task_list_filename(worker)
    return "\n".join(
        [
            f"You are worker {worker}. You work in this git worktree on branch `{branch}`.",
            f"First bring in the latest plan: `git fetch origin && git merge --no-edit "
            f"origin/{run.run_branch}`.",
            f"Then open {name} and do its first unticked task (the current one, else the "
            f"first in the queue). It should be: {task}",
            f"When it is done, tick it (`- [x]`) in {name}, commit everything, push with "
            f"`git push origin HEAD:{branch}`, and stop. Do only this one task.",
            render_prompt_tag(
                {
                    "action": "work",
                    "worker": worker,
                    "branch": branch,
                    "run_branch": run.run_branch,
                    "task": task,
                }
            ),
        ]
    )


def merge_prompt(run: RunView, branches: Sequence[str]) -> str:
    """The manager's prompt to merge finished branches."""
    listed = ", ".join(f"`origin/{b}`" for b in branches)
    return "\n".join(
        [
            f"Workers finished work on {listed}.",
            f"Run `git fetch origin`, merge each of them into `{run.run_branch}` "
            "(resolve any conflict so both sides' work is kept), check the result, and push "
            f"with `git push origin HEAD:{run.run_branch}`. Do not force-push or rewrite "
            "history.",
            render_prompt_tag(
                {"action": "merge", "branches": list(branches), "run_branch": run.run_branch}
            ),
        ]
    )


def replan_prompt(run: RunView) -> str:
    """The manager's prompt to rework tasks that workers could not finish."""
    lines = [
        f"- worker {worker_number(name)}: {task}" for name, task in sorted(run.handed_back.items())
    ]
    return "\n".join(
        [
            "These workers stopped again and again without finishing their current task:",
            *lines,
            "Rework those tasks in the WORKER_<N>_TASK_LIST.md files: reword each so it can be "
            "done, split it into smaller tasks, or move it to another worker's queue. Keep "
            f"ticked items as they are. Commit and push with `git push origin "
            f"HEAD:{run.run_branch}`. Do not do the tasks yourself.",
            render_prompt_tag(
                {
                    "action": "replan",
                    "handed_back": {
                        str(worker_number(name)): task
                        for name, task in sorted(run.handed_back.items())
                    },
                    "workers": run.worker_count,
                    "run_branch": run.run_branch,
                }
            ),
        ]
    )


def _next_for_worker(run: RunView, view: InstanceView) -> Assignment | None:
    if view.worker is None or worker_branch(view.worker) in run.awaiting_merge:
        return None
    if view.name in run.handed_back:  # its task is back with the manager
        return None
    task = next_task(run, view.worker)
    if task is None:
        return None
    return Assignment(
        instance=view.name,
        prompt=work_prompt(run, view.worker, task.text),
        kind=AssignmentKind.WORK,
        task=task.text,
    )


def next_task(run: RunView, worker: int) -> TaskItem | None:
    """The worker's next task: the first open item of its list on the run branch (the plan)
    that its list on its own branch does not show ticked.

    The run branch lags behind: a ticked task waits there, unticked, until the worker's
    branch is merged; the worker's own branch is where it says what it has done.
    """
    plan = run.task_lists.get(worker)
    if plan is None:
        return None
    own = run.branch_task_lists.get(worker)
    done = {item.text for item in own.items if item.done} if own is not None else set()
    return next((item for item in plan.open_items if item.text not in done), None)


def _next_for_manager(run: RunView, view: InstanceView) -> Assignment | None:
    if not run.planned:
        if run.plan_requests >= MAX_PLAN_REQUESTS:
            return None
        return Assignment(instance=view.name, prompt=plan_prompt(run), kind=AssignmentKind.PLAN)
    merge = merge_assignment(run, view)
    if merge is None and run.handed_back and run.replan_requests < MAX_REPLAN_REQUESTS:
        return Assignment(instance=view.name, prompt=replan_prompt(run), kind=AssignmentKind.REPLAN)
    return merge


def merge_assignment(run: RunView, view: InstanceView) -> Assignment | None:
    """The manager's prompt to merge what waits, with the ``manager`` merger (with another
    merger, such as ``queue``, the manager does not merge)."""
    branches = tuple(
        b
        for b in run.awaiting_merge
        if run.merge_requests.get(b, 0) < MAX_MERGE_REQUESTS and run.merger == NAME
    )
    if not branches:
        return None
    return Assignment(
        instance=view.name,
        prompt=merge_prompt(run, branches),
        kind=AssignmentKind.MERGE,
        branches=branches,
    )


@hookimpl(trylast=True)
def orchestra_schedule(run: RunView) -> Sequence[Assignment] | None:
    """Plan with the manager, give workers their next tasks, merge with the manager."""
    if run.scheduler != NAME:
        return None
    assignments = []
    for view in run.idle:
        pick = _next_for_manager if view.role is Role.MANAGER else _next_for_worker
        assignment = pick(run, view)
        if assignment is not None:
            assignments.append(assignment)
    return assignments


@hookimpl(trylast=True)
def orchestra_strategy_needs(kind: str, name: str) -> StrategyNeeds | None:
    """The manager scheduler reads no task file (so it needs the manager); the manager
    merger needs the manager."""
    if name != NAME:
        return None
    return StrategyNeeds(manager=kind == "merger")


@hookimpl(trylast=True)
def orchestra_merge(run: RunView, finished: WorkerFinished) -> MergePlan | None:
    """Finished work waits for the manager's next merge prompt."""
    if run.merger != NAME:
        return None
    return MergeByManager()
