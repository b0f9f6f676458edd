"""Judging a worker's finished turn by what origin holds, pure.

A turn is finished only on evidence: commits on the worker's branch that the run branch
lacks and that no earlier turn already finished (those wait to be merged: they are no
evidence for a later task). :func:`judge_worker_turn` takes the facts of one turn
(:class:`WorkerTurn`) and returns a verdict; :func:`~claude_orchestra.loop.review.carry_out`
turns it into actions, which :class:`~claude_orchestra.review.WorkReview` performs.

- commits, and not only the very ones the merge queue refused before, nor only those an
  earlier turn finished: :class:`Finished`;
- the refused commits and nothing new: :class:`HandBack` (the task goes to the manager);
- no commits, but its own list on its branch shows the task ticked (its work was merged
  before the turn was judged): :class:`DoneBefore`;
- no new commits on a task: :class:`AskAgain` (with the uncommitted files, if any) up to
  ``idle_retries`` times, then :class:`GiveUp`. Never finished.
"""

from __future__ import annotations

from typing import final

import attrs

from claude_orchestra.loop.text import clip
from claude_orchestra.loop.worker_prompts import commit_prompt, follow_up_prompt
from claude_orchestra.tasklists import TaskList
from claude_orchestra.values import Assignment, AssignmentKind


@final
@attrs.frozen(kw_only=True)
class WorkerTurn:
    """The facts of one worker's finished turn."""

    instance: str
    branch: str
    assignment: Assignment | None
    """What it was asked (``None``: a turn nobody asked for)."""
    commits: tuple[str, ...]
    """Commits on its branch on origin that the run branch lacks."""
    credited: tuple[str, ...] = ()
    """Those of them an earlier turn already finished, waiting to be merged: no evidence
    for this turn."""
    refused: tuple[str, ...] | None = None
    """The commits the merge queue last refused on its branch, if any."""
    own_list: TaskList | None = None
    """Its task list as its own branch on origin holds it."""
    leftovers: tuple[str, ...] = ()
    """Files its worktree holds uncommitted."""
    tries: int = 0
    """Follow-ups already sent for this task."""


@final
@attrs.frozen
class Finished:
    """New commits: hand the branch to the merger."""

    commits: tuple[str, ...]


@final
@attrs.frozen
class HandBack:
    """Nothing new since the merge queue refused the branch: back to the manager."""

    task: str
    evidence: str


@final
@attrs.frozen
class DoneBefore:
    """Its own list shows the task ticked and its commits are merged already."""


@final
@attrs.frozen(kw_only=True)
class AskAgain:
    """No commits: send ``prompt`` (the follow-up) and count the try."""

    prompt: str
    evidence: str
    action: str


@final
@attrs.frozen(kw_only=True)
class GiveUp:
    """No commits after every follow-up: a task-file task is given up (``task_key``),
    a task-list task goes back to the manager."""

    task: str
    task_key: str | None
    evidence: str
    action: str


@final
@attrs.frozen
class NotJudged:
    """Not a task's turn (a fix, a commit prompt already answered): nothing to judge."""


Verdict = Finished | HandBack | DoneBefore | AskAgain | GiveUp | NotJudged


def ticked_on_own_list(own_list: TaskList | None, task: str | None) -> bool:
    """Whether the worker's own list shows ``task`` ticked."""
    if own_list is None or task is None:
        return False
    return any(item.done and item.text == task for item in own_list.items)


def _first_open(own_list: TaskList | None) -> str | None:
    """The first unticked task of the worker's own list (the one "do your next task"
    prompts mean), if the list is known."""
    if own_list is None:
        return None
    return next((item.text for item in own_list.items if not item.done), None)


def judge_worker_turn(turn: WorkerTurn, *, idle_retries: int) -> Verdict:
    """The verdict on one worker's turn (``idle_retries``: follow-ups before giving up)."""
    assignment = turn.assignment
    if turn.commits and turn.refused == turn.commits:
        task = assignment.task if assignment is not None and assignment.task else None
        return HandBack(
            task=task or f"the refused work on {turn.branch}",
            evidence=f"{turn.branch}: nothing new since the merge queue refused it",
        )
    if set(turn.commits) - set(turn.credited):
        return Finished(turn.commits)
    if assignment is None or assignment.kind is not AssignmentKind.WORK:
        return NotJudged()
    if ticked_on_own_list(turn.own_list, assignment.task):
        return DoneBefore()
    return _without_commits(turn, assignment, idle_retries=idle_retries)


def _without_commits(turn: WorkerTurn, assignment: Assignment, *, idle_retries: int) -> Verdict:
    """No commits on a task: ask again, then give up."""
    task = assignment.task or _first_open(turn.own_list) or f"the open task on {turn.branch}"
    if turn.tries >= idle_retries:
        given_up = assignment.task_key is not None  # from the task file: no manager to ask
        return GiveUp(
            task=task,
            task_key=assignment.task_key,
            evidence=f"stopped {turn.tries + 1} times without commits on {turn.branch}: "
            f"{clip(task)}",
            action="give the task up; the worker goes on with others"
            if given_up
            else "hand the task back to the manager",
        )
    if turn.leftovers:  # e.g. a turn cut off between writing files and committing them
        return AskAgain(
            prompt=commit_prompt(turn.branch, assignment.task, turn.leftovers),
            evidence=f"stopped with uncommitted changes on {turn.branch}: "
            f"{clip(', '.join(turn.leftovers))}",
            action="ask it to commit them",
        )
    return AskAgain(
        prompt=follow_up_prompt(assignment.prompt),
        evidence=f"stopped without new commits on {turn.branch}: {clip(task)}",
        action="prompt again",
    )
