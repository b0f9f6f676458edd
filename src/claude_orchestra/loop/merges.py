"""Review's decisions on merges, pure: the merger's plan, the merge queue's result, and a
resumed run's reconciling with origin.

Like :mod:`claude_orchestra.loop.review`, on whose
:class:`~claude_orchestra.loop.review.ReviewRecord` they decide, each function returns
:class:`~claude_orchestra.loop.review.Reviewed`:

- the merger's plan (:func:`merge_planned`): the manager merges, the queue merges, or the
  work was delivered elsewhere;
- the merge queue's result (:func:`merge_finished`): merged is booked and origin read
  again; refused goes back to the worker with a prompt to fix it;
- a resumed run (:func:`reconcile`): merges the killed run never recorded are booked, and
  every branch with unmerged work is handed over again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import attrs

from claude_orchestra.errors import PluginError
from claude_orchestra.events import MergeFinished, MergeOutcome
from claude_orchestra.git.evidence import OriginFacts
from claude_orchestra.loop.actions import RecordIncident
from claude_orchestra.loop.recovery import Now
from claude_orchestra.loop.review import Reviewed, ReviewRecord, take_facts
from claude_orchestra.loop.review_actions import (
    AwaitMerge,
    DropMerge,
    EnqueueMerge,
    HandOver,
    HoldTask,
    RecordDelivery,
    RecordMerge,
    RequestRead,
    SendAssignment,
)
from claude_orchestra.loop.text import clip
from claude_orchestra.loop.worker_prompts import fix_prompt
from claude_orchestra.values import (
    Assignment,
    AssignmentKind,
    Delivery,
    IncidentKind,
    MergeByManager,
    MergeByQueue,
    MergeDelivered,
    MergePlan,
    MergeRecord,
    TaskFinished,
    WorkerFinished,
)

BEFORE_RESTART = "before the restart"
"""Who merged a branch whose merge a killed run never recorded."""


# -- merges -----------------------------------------------------------------------------------


def merge_planned(
    record: ReviewRecord,
    finished: WorkerFinished,
    plan: MergePlan | None,
    *,
    queue: bool,
    tasks: Sequence[str],
    now: Now,
) -> Reviewed:
    """Set going what the merger plugins planned for ``finished`` (``queue``: the run has
    a merge queue; ``tasks``: the task-file keys whose work the branch holds).

    Raises:
        PluginError: no plugin answered, or no merger can carry the plan out.
    """
    branch, commits = finished.branch, finished.commits
    waits = AwaitMerge(branch=branch, commits=commits)
    match plan:
        case MergeByManager():
            return Reviewed(
                attrs.evolve(record, merger={**record.merger, branch: "manager"}), (waits,)
            )
        case MergeByQueue() if queue:
            enqueue = EnqueueMerge(instance=finished.instance, branch=branch, commits=commits)
            return Reviewed(
                attrs.evolve(record, merger={**record.merger, branch: "queue"}),
                (waits, enqueue),
            )
        case MergeDelivered(where=where):
            delivery = Delivery(
                branch=branch, commits=commits, at=now.wall, where=where, tasks=tuple(tasks)
            )
            return Reviewed(
                attrs.evolve(record, delivered=record.delivered | set(commits)),
                (RecordDelivery(delivery),),
            )
    raise PluginError("?", "orchestra_merge", f"no merger for plan {plan!r}")


def merge_finished(
    record: ReviewRecord,
    event: MergeFinished,
    *,
    awaiting: Mapping[str, tuple[str, ...]],
    tasks_finished: Mapping[str, Sequence[str]],
    run_branch: str,
    now: Now,
) -> Reviewed:
    """The merge queue is done with a branch: book the merge and read origin again, or
    send the branch back to its worker with a prompt to fix it."""
    name, branch = event.instance, event.branch
    if event.outcome is MergeOutcome.MERGED:
        read = RequestRead(instance=name)
        if branch not in awaiting:
            return Reviewed(record, (read,))
        merge = MergeRecord(
            branch=branch,
            commits=awaiting[branch],
            at=now.wall,
            merged_by="queue",
            tasks=tuple(tasks_finished.get(branch, ())),
        )
        return Reviewed(record, (RecordMerge(record=merge), read))
    why = {
        MergeOutcome.CONFLICT: f"conflicts in {', '.join(event.files)}",
        MergeOutcome.TEST_FAILED: f"the test command failed on the merged result: "
        f"{clip(event.detail, 600)}",
    }.get(event.outcome, clip(event.detail))
    refused = RecordIncident(
        instance=name,
        kind=IncidentKind.MERGE_REFUSED,
        evidence=f"{branch}: {event.outcome.value}: {why}",
        action="not pushed; back to its worker",
    )
    fix = Assignment(
        instance=name,
        kind=AssignmentKind.WORK,
        task=None,
        prompt=fix_prompt(run_branch, event, why),
    )
    return Reviewed(
        attrs.evolve(record, refused={**record.refused, branch: event.commits}),
        (DropMerge(branch), refused, SendAssignment(fix)),
    )


# -- resuming ---------------------------------------------------------------------------------


def reconcile(
    record: ReviewRecord,
    facts: OriginFacts,
    *,
    owners: Mapping[str, tuple[str, int]],
    delivered: Iterable[str] = (),
    held_tasks: Mapping[str, Sequence[str]] | None = None,
    finished_tasks: Sequence[TaskFinished] = (),
    tasks_done: frozenset[str] = frozenset(),
    task_file: str | None = None,
    now: Now,
) -> Reviewed:
    """After ``run --resume``, on origin's facts once every branch is pushed: hand every
    branch with unmerged commits to the merger again.

    Args:
        owners: worker branch -> (its instance, its worker number).
        delivered: commits a merger plugin already delivered elsewhere.
        held_tasks: worker branch -> task-file tasks its worker was given since its last
            merge: on a branch with unmerged commits they count as finished (done once
            merged), elsewhere they are open again.
        finished_tasks: tasks whose turn ended with commits, since their branch's last
            recorded merge: done if those commits are on the run branch now (merged
            before the kill, unrecorded: the merge is recorded here), else finished.
        tasks_done: task-file keys the killed run recorded done.

    Raises:
        TaskFileError: the task file on the run branch no longer parses.
    """
    record = attrs.evolve(record, delivered=record.delivered | set(delivered))
    taken = take_facts(record, facts, blamed=None, task_file=task_file)
    record = taken.record
    actions = list(taken.actions)
    done = set(tasks_done)
    for finished in finished_tasks:
        if finished.task in done:
            continue
        if set(finished.commits) & set(record.unmerged.get(finished.branch, ())):
            actions.append(HoldTask(branch=finished.branch, key=finished.task))
            continue
        merge = MergeRecord(
            branch=finished.branch,
            commits=finished.commits,
            at=now.wall,
            merged_by=BEFORE_RESTART,
            tasks=(finished.task,),
        )
        actions.append(RecordMerge(record=merge, restored=True))
        done.add(finished.task)
    for branch, commits in record.unmerged.items():
        if not set(commits) - record.delivered or branch not in owners:
            continue
        actions.extend(
            HoldTask(branch=branch, key=key)
            for key in (held_tasks or {}).get(branch, ())
            if key not in done
        )
        name, worker = owners[branch]
        finished_work = WorkerFinished(instance=name, worker=worker, branch=branch, commits=commits)
        actions.append(HandOver(finished_work))
    return Reviewed(record, tuple(actions))
