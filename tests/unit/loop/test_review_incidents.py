"""Review's decisions down to what they record: each incident's evidence and action (what
the report shows), the record handed back, and the cases the first tests left out: a task
named only by its key, a merge with no tasks, several finished tasks and branches on resuming
(:mod:`claude_orchestra.loop.review`)."""

from __future__ import annotations

import pytest

from claude_orchestra.errors import PluginError
from claude_orchestra.events import MergeOutcome
from claude_orchestra.git.origin_watch import OriginRead, PushResult
from claude_orchestra.loop import merges
from claude_orchestra.loop import review as decide
from claude_orchestra.loop.actions import RecordIncident
from claude_orchestra.loop.review import Reviewed, ReviewRecord
from claude_orchestra.loop.review_actions import (
    FinishTask,
    HandBackTask,
    HandOver,
    HoldTask,
    RecordMerge,
    RequestRead,
    SendAssignment,
    TakeFacts,
)
from claude_orchestra.values import (
    Assignment,
    AssignmentKind,
    IncidentKind,
    MergeByQueue,
    MergeRecord,
    TaskFinished,
)

from .test_judging import TASK, WORK
from .test_review import FRESH, NOW, facts, finished, merge_event, read, took, worker_turn

W = "worker-1"


def incident(instance: str, kind: IncidentKind, evidence: str, action: str) -> RecordIncident:
    return RecordIncident(instance=instance, kind=kind, evidence=evidence, action=action)


# -- pushes and reads -------------------------------------------------------------------------


def test_a_push_git_could_not_make_is_reported_and_the_run_goes_on() -> None:
    push = PushResult(branch=W, error="timed out")
    assert decide.pushed(W, push) == (
        incident(W, IncidentKind.PUSH_REJECTED, "timed out", "keep going"),
    )


def test_a_refused_push_without_a_reason_is_reported_without_one() -> None:
    push = PushResult(branch=W, refused="", preserved="refs/kept/w1")
    (_, rejected) = decide.pushed(W, push)
    assert rejected == incident(
        W,
        IncidentKind.PUSH_REJECTED,
        "origin rejected the push of worker-1",
        "its tip is preserved as refs/kept/w1",
    )


def test_a_failed_read_says_why_and_the_run_goes_on() -> None:
    decided = took(FRESH, read(None, answers=(W,), error="fetch failed"))
    assert decided.actions == (incident(W, IncidentKind.GIT_FAILED, "fetch failed", "keep going"),)
    silent = took(FRESH, read(None, answers=(W,)))
    assert silent.actions == (incident(W, IncidentKind.GIT_FAILED, "", "keep going"),)


def read_task_file(task_file: str | None, text: str | None) -> Reviewed:
    origin = OriginRead(
        instance="",
        at=0.0,
        facts=facts({}, task_file=text),
        error=None,
        answers=(W,),
        pushes={},
    )
    return decide.origin_read(
        FRESH,
        origin,
        answered=(W,),
        blamed=W,
        awaiting={},
        tasks_finished={},
        merger="queue",
        task_file=task_file,
        now=NOW,
    )


def test_a_read_parses_the_task_file_and_blames_a_broken_one_on_the_turn_it_follows() -> None:
    good = read_task_file("TASKS.md", "- [ ] one {#a}\n").actions
    (take,) = good
    assert isinstance(take, TakeFacts)
    assert take.task_file is not None
    assert [t.key for t in take.task_file.tasks] == ["a"]
    (_, broken) = read_task_file("plan/WORK.md", "- [ ] one {#a}\n- [ ] two {#a}\n").actions
    assert isinstance(broken, RecordIncident)
    assert (broken.instance, broken.kind, broken.action) == (
        W,
        IncidentKind.TASK_FILE_INVALID,
        "keep the last good version",
    )
    assert broken.evidence.startswith("plan/WORK.md")  # names the file, as configured


def test_a_run_without_a_task_file_never_parses_one_and_origin_without_one_is_no_error() -> None:
    assert read_task_file(None, "- [ ] one {#a}\n").actions == (
        TakeFacts(task_lists={}, branch_task_lists={}, task_file=None),
    )
    assert read_task_file("TASKS.md", None).actions == (
        TakeFacts(task_lists={}, branch_task_lists={}, task_file=None),
    )


# -- a manager's turn -------------------------------------------------------------------------


def test_a_managers_missing_plan_and_unfinished_merge_are_recorded_in_so_many_words() -> None:
    record = ReviewRecord(unmerged={W: ("c1",)})
    plan = Assignment(instance="manager", prompt="p", kind=AssignmentKind.PLAN, branches=(W,))
    decided = decide.manager_turn(record, "manager", plan, planned=False)
    assert decided == Reviewed(
        record,
        (
            incident(
                "manager",
                IncidentKind.PLAN_MISSING,
                "the manager stopped but origin's run branch has no task list",
                "ask again",
            ),
            incident(
                "manager",
                IncidentKind.MERGE_INCOMPLETE,
                "worker-1 still has 1 commit(s) to merge",
                "ask again",
            ),
        ),
    )
    assert decide.manager_turn(record, "manager", None, planned=False) == Reviewed(record)


# -- a worker's turn --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "key"), [(TASK, None), (None, "a"), (TASK, "a")], ids=["listed", "keyed", "both"]
)
def test_finished_work_finishes_its_task_however_the_task_is_named(
    task: str | None, key: str | None
) -> None:
    assignment = Assignment(
        instance=W, prompt="p", kind=AssignmentKind.WORK, task=task, task_key=key
    )
    decided = worker_turn(ReviewRecord(unmerged={W: ("c1",)}), assignment)
    assert decided.actions == (
        FinishTask(instance=W, branch=W, task=task, task_key=key, commits=("c1",)),
        HandOver(finished(("c1",))),
    )


def test_a_fix_that_lands_finishes_no_task() -> None:
    fix = Assignment(instance=W, prompt="fix", kind=AssignmentKind.WORK)
    decided = worker_turn(ReviewRecord(unmerged={W: ("c1", "c2")}), fix)
    assert decided.actions == (HandOver(finished(("c1", "c2"))),)


def test_refused_work_handed_back_is_recorded_and_the_record_kept() -> None:
    record = ReviewRecord(unmerged={W: ("c1",)}, refused={W: ("c1",)})
    decided = worker_turn(record, WORK, follow_ups=1)
    assert decided == Reviewed(
        record,
        (
            HandBackTask(instance=W, task=TASK),
            incident(
                W,
                IncidentKind.GAVE_UP,
                "worker-1: nothing new since the merge queue refused it",
                "leave it unmerged; hand the task back to the manager",
            ),
        ),
    )


def test_a_task_given_up_and_a_follow_up_are_recorded_against_the_worker() -> None:
    ask = worker_turn(FRESH, WORK, idle_retries=1)
    assert ask.actions[1] == incident(
        W,
        IncidentKind.IDLE_WITHOUT_WORK,
        f"stopped without new commits on worker-1: {TASK}",
        "prompt again",
    )
    given_up = worker_turn(ask.record, WORK, follow_ups=1, idle_retries=1)
    assert given_up.actions[2] == incident(
        W,
        IncidentKind.GAVE_UP,
        f"stopped 2 times without commits on worker-1: {TASK}",
        "hand the task back to the manager",
    )


# -- merges -----------------------------------------------------------------------------------


def test_a_queue_plan_without_a_queue_is_the_merge_hooks_error() -> None:
    with pytest.raises(PluginError) as caught:
        merges.merge_planned(
            FRESH, finished(("c1",)), MergeByQueue(), queue=False, tasks=(), now=NOW
        )
    assert (caught.value.plugin, caught.value.hook) == ("?", "orchestra_merge")


def test_a_merge_of_a_branch_with_no_tasks_is_booked_with_none_and_the_record_kept() -> None:
    record = ReviewRecord(merger={W: "queue"})
    decided = merges.merge_finished(
        record,
        merge_event(MergeOutcome.MERGED),
        awaiting={W: ("c1",)},
        tasks_finished={},
        run_branch="main",
        now=NOW,
    )
    merge = MergeRecord(branch=W, commits=("c1",), at=NOW.wall, merged_by="queue", tasks=())
    assert decided == Reviewed(record, (RecordMerge(record=merge), RequestRead(instance=W)))
    again = merges.merge_finished(
        record,
        merge_event(MergeOutcome.MERGED),
        awaiting={},
        tasks_finished={},
        run_branch="main",
        now=NOW,
    )
    assert again.record == record


@pytest.mark.parametrize("outcome", [MergeOutcome.PUSH_REJECTED, MergeOutcome.GIT_FAILED])
def test_a_merge_refused_for_another_reason_gives_git_s_words(outcome: MergeOutcome) -> None:
    event = merge_event(outcome, detail="! [rejected]\n  main -> main (fetch first)")
    decided = merges.merge_finished(
        FRESH, event, awaiting={}, tasks_finished={}, run_branch="run/7", now=NOW
    )
    (_, refused, send) = decided.actions
    why = "! [rejected] main -> main (fetch first)"
    assert refused == incident(
        W,
        IncidentKind.MERGE_REFUSED,
        f"worker-1: {outcome.value}: {why}",
        "not pushed; back to its worker",
    )
    assert isinstance(send, SendAssignment)
    assert f"could not be merged into `run/7`: {why}." in send.assignment.prompt
    assert "git merge origin/run/7" in send.assignment.prompt


def test_a_failed_tests_output_is_quoted_up_to_600_characters() -> None:
    event = merge_event(MergeOutcome.TEST_FAILED, detail="x" * 700)
    decided = merges.merge_finished(
        FRESH, event, awaiting={}, tasks_finished={}, run_branch="main", now=NOW
    )
    (_, refused, _) = decided.actions
    assert isinstance(refused, RecordIncident)
    quoted = refused.evidence.rpartition(": ")[2]
    assert quoted == "x" * 599 + "…"


# -- resuming ---------------------------------------------------------------------------------


def test_a_resume_books_every_finished_task_and_hands_over_every_branch() -> None:
    decided = merges.reconcile(
        FRESH,
        facts({"worker-1": ("c1",), "worker-2": ("c2",), "worker-3": ("c3",)}),
        owners={
            "worker-1": ("worker-1", 1),
            "worker-2": ("worker-2", 2),
            "worker-3": ("worker-3", 3),
        },
        delivered=("c1",),
        held_tasks={"worker-3": ("t3",)},
        finished_tasks=(
            TaskFinished(branch="worker-1", task="done", commits=("c0",)),
            TaskFinished(branch="worker-2", task="t2", commits=("c2",)),
            TaskFinished(branch="worker-4", task="t4", commits=("c4",)),
            TaskFinished(branch="worker-4", task="t4", commits=("c5",)),
        ),
        tasks_done=frozenset({"done"}),
        now=NOW,
    )
    merged = MergeRecord(
        branch="worker-4",
        commits=("c4",),
        at=NOW.wall,
        merged_by=merges.BEFORE_RESTART,
        tasks=("t4",),
    )
    assert decided.actions[1:] == (
        HoldTask(branch="worker-2", key="t2"),
        RecordMerge(record=merged, restored=True),
        # worker-1's work was delivered elsewhere; t4 is booked once
        HandOver(finished(("c2",), "worker-2")),
        HoldTask(branch="worker-3", key="t3"),
        HandOver(finished(("c3",), "worker-3")),
    )


def test_a_resume_reads_the_task_file_on_the_run_branch() -> None:
    decided = merges.reconcile(
        FRESH, facts({}, task_file="- [ ] one {#a}\n"), owners={}, task_file="TASKS.md", now=NOW
    )
    (take,) = decided.actions
    assert isinstance(take, TakeFacts)
    assert take.task_file is not None
    assert [t.key for t in take.task_file.tasks] == ["a"]
