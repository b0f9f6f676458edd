"""Review's decisions, pure: what a read of origin, a finished turn and a merge mean.

Each function takes review's :class:`ReviewRecord` (what origin last showed unmerged, what
the merge queue refused, what was delivered elsewhere, who merges each branch) and plain
values from the run's record (a worker's follow-ups come from its
:class:`~claude_orchestra.loop.record.InstanceRecord`) and returns :class:`Reviewed`:
the new record and the actions to take (:data:`~claude_orchestra.loop.review_actions.ReviewAction`).
:class:`~claude_orchestra.review.WorkReview` carries them out. What the decisions cover:

- a round of git work (:func:`origin_read`): a rejected push is an incident naming the
  ref that preserves its tip; a failed read is an incident of each turn it answers;
  origin's facts replace what review knew (a task file that no longer parses keeps the
  last good one); a branch awaiting merge that origin no longer shows ahead is booked as
  merged, by whoever its plan said merges it;
- a manager's turn (:func:`manager_turn`): a plan that left no task list, or a merge that
  left commits ahead, is an incident (the scheduler asks again); a replan clears the tasks
  handed back;
- a worker's turn (:func:`worker_turn`): judged by
  :func:`~claude_orchestra.loop.judging.judge_worker_turn`, and the verdict carried out
  (:func:`carry_out`): finished work is handed over to the merger plugins, a task goes
  back to the manager or is given up, or the worker is asked again.

Merges and resuming are decided in :mod:`claude_orchestra.loop.merges`, on the same record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import final

import attrs

from claude_orchestra.errors import TaskFileError
from claude_orchestra.git.evidence import OriginFacts
from claude_orchestra.git.origin_watch import OriginRead, PushResult
from claude_orchestra.loop.actions import RecordIncident
from claude_orchestra.loop.judging import (
    AskAgain,
    DoneBefore,
    Finished,
    GiveUp,
    HandBack,
    NotJudged,
    Verdict,
    WorkerTurn,
    judge_worker_turn,
)
from claude_orchestra.loop.recovery import Now
from claude_orchestra.loop.review_actions import (
    ClearHandedBack,
    CountFollowUps,
    FinishTask,
    GiveUpTask,
    HandBackTask,
    HandOver,
    KeepPreserved,
    RecordMerge,
    RequestRead,
    ReviewAction,
    SendAssignment,
    TakeFacts,
)
from claude_orchestra.taskfile import parse_task_file
from claude_orchestra.tasklists import TaskList
from claude_orchestra.values import (
    Assignment,
    AssignmentKind,
    IncidentKind,
    MergeRecord,
    WorkerFinished,
)

STALL_CHECK = "(stall check)"
"""The name a read of origin asked for by no instance goes by."""


def _commits(mapping: Mapping[str, tuple[str, ...]]) -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType(dict(mapping))


def _names(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


@final
@attrs.frozen(kw_only=True)
class ReviewRecord:
    """What review knows of the run's branches beyond the run's record."""

    unmerged: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict, converter=_commits)
    """Worker branch -> the commits on it that the run branch lacks (origin's last read)."""
    refused: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict, converter=_commits)
    """Branch -> the commits the merge queue last refused (sent back to the worker)."""
    delivered: frozenset[str] = frozenset()
    """Commits a merger plugin delivered elsewhere: not expected on the run branch."""
    merger: Mapping[str, str] = attrs.field(factory=dict, converter=_names)
    """Branch -> who its plan says merges it (``manager``, ``queue``), for the record."""

    @property
    def branches_ahead(self) -> int:
        """Worker branches on origin holding commits the run branch lacks (and that were
        not delivered elsewhere)."""
        return sum(1 for commits in self.unmerged.values() if set(commits) - self.delivered)


@final
@attrs.frozen
class Reviewed:
    """A decision: review's new record and what to do."""

    record: ReviewRecord
    actions: tuple[ReviewAction, ...] = ()


# -- reads of origin --------------------------------------------------------------------------


def read_after_stop(name: str, assignment: Assignment | None, *, has_worktree: bool) -> RequestRead:
    """An instance stopped: push its branch (a worker's) and read origin; the turn is
    judged when the read comes back. A worker's files left uncommitted are listed too."""
    work = assignment is not None and assignment.kind is AssignmentKind.WORK
    return RequestRead(instance=name, push=has_worktree, uncommitted=has_worktree and work)


def pushed(name: str, push: PushResult) -> tuple[ReviewAction, ...]:
    """What became of instance ``name``'s push: a rejected one is an incident, naming the
    preserved ref that holds its tip (so no commit is left only in the workspace)."""
    if push.error is not None:
        return (
            RecordIncident(
                instance=name,
                kind=IncidentKind.PUSH_REJECTED,
                evidence=push.error,
                action="keep going",
            ),
        )
    if push.preserved is None:
        return ()
    why = f": {push.refused}" if push.refused else ""
    rejected = RecordIncident(
        instance=name,
        kind=IncidentKind.PUSH_REJECTED,
        evidence=f"origin rejected the push of {push.branch}{why}",
        action=f"its tip is preserved as {push.preserved}",
    )
    return (KeepPreserved(instance=name, ref=push.preserved), rejected)


def take_facts(
    record: ReviewRecord, facts: OriginFacts, *, blamed: str | None, task_file: str | None
) -> Reviewed:
    """Keep what origin says. A task file that no longer parses keeps the last good one
    and is an incident of ``blamed`` (whose turn the read follows); with nobody to blame
    (on resuming) it raises.

    Raises:
        TaskFileError: the task file does not parse and ``blamed`` is ``None``.
    """
    record = attrs.evolve(record, unmerged=facts.unmerged)
    parsed = None
    invalid: tuple[ReviewAction, ...] = ()
    if facts.task_file is not None and task_file is not None:
        try:
            parsed = parse_task_file(facts.task_file, path=task_file)
        except TaskFileError as exc:
            if blamed is None:
                raise
            invalid = (
                RecordIncident(
                    instance=blamed,
                    kind=IncidentKind.TASK_FILE_INVALID,
                    evidence=str(exc),
                    action="keep the last good version",
                ),
            )
    take = TakeFacts(
        task_lists=facts.task_lists, branch_task_lists=facts.branch_task_lists, task_file=parsed
    )
    return Reviewed(record, (take, *invalid))


def origin_read(
    record: ReviewRecord,
    read: OriginRead,
    *,
    answered: Sequence[str],
    blamed: str,
    awaiting: Mapping[str, tuple[str, ...]],
    tasks_finished: Mapping[str, Sequence[str]],
    merger: str,
    task_file: str | None,
    now: Now,
) -> Reviewed:
    """A round of git work came back: its pushes, then origin's facts, then the merges
    they show (``awaiting``: branch -> commits waiting to be merged; ``merger``: the run's
    merger, for a branch whose plan is not known). The turns it answers are judged after
    (:func:`manager_turn`, :func:`worker_turn`)."""
    actions = [action for name, push in read.pushes.items() for action in pushed(name, push)]
    if read.facts is None:  # the turns are judged on the facts review had
        for name in answered:
            failed = RecordIncident(
                instance=name,
                kind=IncidentKind.GIT_FAILED,
                evidence=read.error or "",
                action="keep going",
            )
            actions.append(failed)
        return Reviewed(record, tuple(actions))
    taken = take_facts(record, read.facts, blamed=blamed, task_file=task_file)
    record = taken.record
    actions.extend(taken.actions)
    for branch, commits in awaiting.items():
        if not record.unmerged.get(branch):  # seen at any read: credit its merger
            merge = MergeRecord(
                branch=branch,
                commits=commits,
                at=now.wall,
                merged_by=record.merger.get(branch, merger),
                tasks=tuple(tasks_finished.get(branch, ())),
            )
            actions.append(RecordMerge(record=merge))
    return Reviewed(record, tuple(actions))


# -- turns ------------------------------------------------------------------------------------


def manager_turn(
    record: ReviewRecord, name: str, assignment: Assignment | None, *, planned: bool
) -> Reviewed:
    """Judge a manager's turn on origin's facts (``planned``: the run branch holds a task
    list or the task file): what it was asked for must be there."""
    if assignment is None:
        return Reviewed(record)
    actions: list[ReviewAction] = []
    if assignment.kind is AssignmentKind.REPLAN:
        # The manager has had its say; the workers go on from the lists as they are now.
        actions.append(ClearHandedBack(name))
    if assignment.kind is AssignmentKind.PLAN and not planned:
        missing = RecordIncident(
            instance=name,
            kind=IncidentKind.PLAN_MISSING,
            evidence="the manager stopped but origin's run branch has no task list",
            action="ask again",
        )
        actions.append(missing)
    for branch in assignment.branches:
        left = record.unmerged.get(branch)
        if left:
            incomplete = RecordIncident(
                instance=name,
                kind=IncidentKind.MERGE_INCOMPLETE,
                evidence=f"{branch} still has {len(left)} commit(s) to merge",
                action="ask again",
            )
            actions.append(incomplete)
    return Reviewed(record, tuple(actions))


def worker_turn(
    record: ReviewRecord,
    name: str,
    *,
    worker: int,
    branch: str,
    assignment: Assignment | None,
    own_list: TaskList | None,
    leftovers: Sequence[str],
    credited: Sequence[str] = (),
    follow_ups: int = 0,
    idle_retries: int,
) -> Reviewed:
    """Judge a worker's turn on origin's facts (``own_list``: its task list on its own
    branch; ``leftovers``: files its worktree holds uncommitted; ``credited``: commits on
    its branch an earlier turn finished, waiting to be merged; ``follow_ups``: sent for its
    task since it last committed) and carry out the verdict."""
    turn = WorkerTurn(
        instance=name,
        branch=branch,
        assignment=assignment,
        commits=record.unmerged.get(branch, ()),
        credited=tuple(credited),
        refused=record.refused.get(branch),
        own_list=own_list,
        leftovers=tuple(leftovers),
        tries=follow_ups,
    )
    return carry_out(record, turn, judge_worker_turn(turn, idle_retries=idle_retries), worker)


def carry_out(record: ReviewRecord, turn: WorkerTurn, verdict: Verdict, worker: int) -> Reviewed:
    """What a verdict on worker number ``worker``'s turn does."""
    name = turn.instance
    assignment = turn.assignment
    match verdict:
        case Finished(commits=commits):
            actions: list[ReviewAction] = []
            if assignment is not None and (
                assignment.task is not None or assignment.task_key is not None
            ):
                finish = FinishTask(
                    instance=name,
                    branch=turn.branch,
                    task=assignment.task,
                    task_key=assignment.task_key,
                    commits=commits,
                )
                actions.append(finish)
            finished = WorkerFinished(
                instance=name, worker=worker, branch=turn.branch, commits=commits
            )
            actions.append(HandOver(finished))
            return Reviewed(record, (*_reset(turn), *actions))
        case HandBack(task=task, evidence=evidence):
            gave_up = RecordIncident(
                instance=name,
                kind=IncidentKind.GAVE_UP,
                evidence=evidence,
                action="leave it unmerged; hand the task back to the manager",
            )
            return Reviewed(record, (HandBackTask(instance=name, task=task), gave_up))
        case DoneBefore():
            # Its commits reached the run branch before this turn was judged: nothing to
            # ask, nothing went wrong.
            return Reviewed(record, _reset(turn))
        case GiveUp(task=task, task_key=key, evidence=evidence, action=action):
            back: ReviewAction = (
                GiveUpTask(instance=name, key=key)
                if key is not None
                else HandBackTask(instance=name, task=task)
            )
            gave_up = RecordIncident(
                instance=name, kind=IncidentKind.GAVE_UP, evidence=evidence, action=action
            )
            return Reviewed(record, (*_reset(turn), back, gave_up))
        case AskAgain(prompt=prompt, evidence=evidence, action=action) if assignment:
            idle = RecordIncident(
                instance=name, kind=IncidentKind.IDLE_WITHOUT_WORK, evidence=evidence, action=action
            )
            again = SendAssignment(attrs.evolve(assignment, prompt=prompt))
            counted = CountFollowUps(instance=name, count=turn.tries + 1)
            return Reviewed(record, (counted, idle, again))
        case AskAgain() | NotJudged():
            return Reviewed(record)
    raise AssertionError(verdict)  # pragma: no cover - every verdict is matched


def _reset(turn: WorkerTurn) -> tuple[ReviewAction, ...]:
    """The worker's follow-ups start again from none."""
    return (CountFollowUps(instance=turn.instance, count=0),) if turn.tries else ()
