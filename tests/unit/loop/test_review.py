"""Review's pure decisions (:mod:`claude_orchestra.loop.review`): reads of origin, turns,
merges and a resumed run, with plain values in and the new record and actions out; no git,
no plugins, no clock. Plus a property (no commit handed over is ever lost from the
bookkeeping) and the executor's wiring (:class:`~claude_orchestra.review.WorkReview`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from claude_orchestra._clock import ManualClock
from claude_orchestra.auth.failover import Failover
from claude_orchestra.auth.rotator import AuthRotator
from claude_orchestra.context import RunContext
from claude_orchestra.errors import PluginError, TaskFileError
from claude_orchestra.events import MergeFinished, MergeOutcome
from claude_orchestra.executor import Executor
from claude_orchestra.git.evidence import OriginFacts, OriginReader
from claude_orchestra.git.origin_watch import OriginRead, OriginWatch, PushResult
from claude_orchestra.git.repo import GitRepo
from claude_orchestra.git.worktree import Worktree
from claude_orchestra.hookspecs import hookimpl
from claude_orchestra.journal import Journal
from claude_orchestra.loop import merges
from claude_orchestra.loop import review as decide
from claude_orchestra.loop.actions import RecordIncident
from claude_orchestra.loop.judging import NotJudged, WorkerTurn
from claude_orchestra.loop.recovery import Now
from claude_orchestra.loop.review import STALL_CHECK, Reviewed, ReviewRecord
from claude_orchestra.loop.review_actions import (
    AwaitMerge,
    ClearHandedBack,
    CountFollowUps,
    DropMerge,
    EnqueueMerge,
    FinishTask,
    GiveUpTask,
    HandBackTask,
    HandOver,
    HoldTask,
    KeepPreserved,
    RecordDelivery,
    RecordMerge,
    RequestRead,
    ReviewAction,
    SendAssignment,
    TakeFacts,
)
from claude_orchestra.plugins import PluginHost
from claude_orchestra.prompt_tag import parse_prompt_tag
from claude_orchestra.review import WorkReview
from claude_orchestra.rules import RunRules
from claude_orchestra.tasklists import parse_task_list
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

from ..test_instance_hostile import make
from .test_judging import TASK, WORK

NOW = Now(mono=100.0, wall=1_000_000.0)
FRESH = ReviewRecord()
QUEUED = attrs.evolve(WORK, task_key="a")


def kinds(actions: Sequence[object]) -> list[IncidentKind]:
    return [a.kind for a in actions if isinstance(a, RecordIncident)]


def incidents(actions: Sequence[object]) -> list[RecordIncident]:
    return [a for a in actions if isinstance(a, RecordIncident)]


def facts(unmerged: Mapping[str, tuple[str, ...]], task_file: str | None = None) -> OriginFacts:
    return OriginFacts(task_lists={}, unmerged=dict(unmerged), task_file=task_file)


def read(
    unmerged: Mapping[str, tuple[str, ...]] | None,
    *,
    answers: tuple[str, ...] = (),
    pushes: Mapping[str, PushResult] | None = None,
    error: str | None = None,
) -> OriginRead:
    return OriginRead(
        instance="",
        at=0.0,
        facts=None if unmerged is None else facts(unmerged),
        error=error,
        answers=answers,
        pushes=dict(pushes or {}),
    )


def took(
    record: ReviewRecord,
    origin: OriginRead,
    *,
    awaiting: Mapping[str, tuple[str, ...]] | None = None,
    tasks_finished: Mapping[str, Sequence[str]] | None = None,
    merger: str = "manager",
) -> Reviewed:
    return decide.origin_read(
        record,
        origin,
        answered=origin.answers,
        blamed=(origin.answers or ("manager",))[0],
        awaiting=awaiting or {},
        tasks_finished=tasks_finished or {},
        merger=merger,
        task_file=None,
        now=NOW,
    )


def worker_turn(
    record: ReviewRecord,
    assignment: Assignment | None = WORK,
    *,
    leftovers: Sequence[str] = (),
    own_list: object = None,
    follow_ups: int = 0,
    idle_retries: int = 1,
) -> Reviewed:
    name = assignment.instance if assignment is not None else "worker-1"
    return decide.worker_turn(
        record,
        name,
        worker=int(name[-1]),
        branch=name,
        assignment=assignment,
        own_list=own_list,  # type: ignore[arg-type]
        leftovers=leftovers,
        follow_ups=follow_ups,
        idle_retries=idle_retries,
    )


def finished(commits: tuple[str, ...], branch: str = "worker-1") -> WorkerFinished:
    return WorkerFinished(instance=branch, worker=int(branch[-1]), branch=branch, commits=commits)


# -- what a Stop asks for -----------------------------------------------------------------


def test_a_stop_asks_for_a_read_pushing_a_workers_branch_and_listing_its_leftovers() -> None:
    assert decide.read_after_stop("worker-1", WORK, has_worktree=True) == RequestRead(
        instance="worker-1", push=True, uncommitted=True
    )
    merge = Assignment(instance="manager", prompt="m", kind=AssignmentKind.MERGE)
    assert decide.read_after_stop("manager", merge, has_worktree=False) == RequestRead(
        instance="manager"
    )
    assert decide.read_after_stop("worker-1", None, has_worktree=True) == RequestRead(
        instance="worker-1", push=True
    )


# -- reads of origin ----------------------------------------------------------------------


def test_a_refused_push_with_a_preserved_ref_is_an_incident_naming_the_ref() -> None:
    push = PushResult(branch="worker-1", refused="non-fast-forward", preserved="refs/kept/w1")
    decided = took(FRESH, read({}, pushes={"worker-1": push}))
    keep, incident = decided.actions[:2]
    assert keep == KeepPreserved(instance="worker-1", ref="refs/kept/w1")
    assert isinstance(incident, RecordIncident)
    assert incident.kind is IncidentKind.PUSH_REJECTED
    assert "refs/kept/w1" in incident.action
    assert "worker-1: non-fast-forward" in incident.evidence


def test_a_push_git_could_not_make_is_an_incident_and_a_clean_one_is_nothing() -> None:
    failed = decide.pushed("worker-1", PushResult(branch="worker-1", error="timed out"))
    assert kinds(failed) == [IncidentKind.PUSH_REJECTED]
    assert incidents(failed)[0].evidence == "timed out"
    assert decide.pushed("worker-1", PushResult(branch="worker-1")) == ()


def test_a_failed_read_is_an_incident_of_each_turn_it_answers_and_changes_nothing() -> None:
    record = ReviewRecord(unmerged={"worker-1": ("c1",)})
    decided = took(record, read(None, answers=("worker-1", "manager"), error="fetch failed"))
    assert decided.record == record
    assert kinds(decided.actions) == [IncidentKind.GIT_FAILED] * 2
    assert [a.instance for a in incidents(decided.actions)] == ["worker-1", "manager"]


def test_origins_facts_replace_what_review_knew_and_the_task_lists_are_kept() -> None:
    record = ReviewRecord(unmerged={"worker-1": ("c1",), "worker-2": ("c2",)})
    decided = took(record, read({"worker-2": ("c2", "c3")}))
    assert decided.record.unmerged == {"worker-2": ("c2", "c3")}
    assert decided.actions == (TakeFacts(task_lists={}, branch_task_lists={}),)


def test_a_branch_gone_from_unmerged_is_booked_as_merged_by_whoever_merges_it() -> None:
    record = ReviewRecord(unmerged={"worker-1": ("c1",)}, merger={"worker-1": "queue"})
    awaiting = {"worker-1": ("c1",), "worker-2": ("c2",), "worker-3": ("c3",)}
    decided = took(
        record,
        read({"worker-3": ("c3",)}),
        awaiting=awaiting,
        tasks_finished={"worker-1": ["a"]},
        merger="manager",
    )
    merges = [a.record for a in decided.actions if isinstance(a, RecordMerge)]
    assert merges == [
        MergeRecord(
            branch="worker-1", commits=("c1",), at=NOW.wall, merged_by="queue", tasks=("a",)
        ),
        # no plan known (e.g. before a restart): the run's merger is credited
        MergeRecord(branch="worker-2", commits=("c2",), at=NOW.wall, merged_by="manager"),
    ]
    assert not any(a.restored for a in decided.actions if isinstance(a, RecordMerge))


def test_a_task_file_that_no_longer_parses_keeps_the_last_good_one() -> None:
    bad = facts({}, task_file="- [ ] one {#a}\n- [ ] two {#a}\n")
    decided = decide.take_facts(FRESH, bad, blamed="manager", task_file="TASKS.md")
    take, incident = decided.actions
    assert take == TakeFacts(task_lists={}, branch_task_lists={}, task_file=None)
    assert isinstance(incident, RecordIncident)
    assert (incident.kind, incident.instance) == (IncidentKind.TASK_FILE_INVALID, "manager")
    with pytest.raises(TaskFileError):  # on resuming there is nobody's turn to blame
        decide.take_facts(FRESH, bad, blamed=None, task_file="TASKS.md")
    good = decide.take_facts(FRESH, facts({}, "- [ ] one {#a}\n"), blamed=None, task_file="T")
    take = good.actions[0]
    assert isinstance(take, TakeFacts)
    assert take.task_file is not None
    assert [t.key for t in take.task_file.tasks] == ["a"]


# -- a manager's turn ---------------------------------------------------------------------


def test_a_plan_that_left_no_task_list_is_plan_missing() -> None:
    plan = Assignment(instance="manager", prompt="p", kind=AssignmentKind.PLAN)
    decided = decide.manager_turn(FRESH, "manager", plan, planned=False)
    assert kinds(decided.actions) == [IncidentKind.PLAN_MISSING]
    assert decided.actions[0].action == "ask again"  # type: ignore[union-attr]
    assert decide.manager_turn(FRESH, "manager", plan, planned=True).actions == ()


def test_a_merge_that_left_commits_ahead_is_merge_incomplete() -> None:
    merge = Assignment(
        instance="manager",
        prompt="m",
        kind=AssignmentKind.MERGE,
        branches=("worker-1", "worker-2"),
    )
    record = ReviewRecord(unmerged={"worker-1": ("c1", "c2"), "worker-2": ()})
    decided = decide.manager_turn(record, "manager", merge, planned=True)
    assert kinds(decided.actions) == [IncidentKind.MERGE_INCOMPLETE]
    assert incidents(decided.actions)[0].evidence == "worker-1 still has 2 commit(s) to merge"


def test_a_replan_clears_the_tasks_handed_back_and_a_turn_nobody_asked_for_is_nothing() -> None:
    replan = Assignment(instance="manager", prompt="r", kind=AssignmentKind.REPLAN)
    decided = decide.manager_turn(FRESH, "manager", replan, planned=True)
    assert decided.actions == (ClearHandedBack("manager"),)
    assert decide.manager_turn(FRESH, "manager", None, planned=False).actions == ()


# -- a worker's turn ----------------------------------------------------------------------


def test_a_stop_with_commits_hands_the_branch_over() -> None:
    record = ReviewRecord(unmerged={"worker-1": ("c1", "c2")})
    decided = worker_turn(record, QUEUED, follow_ups=1)
    assert decided.actions == (
        CountFollowUps("worker-1", 0),  # its follow-ups start again from none
        FinishTask(
            instance="worker-1", branch="worker-1", task=TASK, task_key="a", commits=("c1", "c2")
        ),
        HandOver(finished(("c1", "c2"))),
    )


def test_commits_on_a_turn_nobody_asked_for_are_handed_over_without_a_task() -> None:
    decided = worker_turn(ReviewRecord(unmerged={"worker-1": ("c1",)}), None)
    assert decided.actions == (HandOver(finished(("c1",))),)


def test_a_stop_without_commits_asks_again_then_gives_the_task_up() -> None:
    first = worker_turn(FRESH, WORK)
    assert kinds(first.actions) == [IncidentKind.IDLE_WITHOUT_WORK]
    send = first.actions[-1]
    assert isinstance(send, SendAssignment)
    assert send.assignment.prompt.startswith("You stopped before finishing.")
    assert parse_prompt_tag(send.assignment.prompt) == {"action": "work", "worker": 1}
    assert first.actions[0] == CountFollowUps("worker-1", 1)

    second = worker_turn(first.record, WORK, follow_ups=1)
    assert second.actions[:2] == (
        CountFollowUps("worker-1", 0),
        HandBackTask(instance="worker-1", task=TASK),
    )
    assert kinds(second.actions) == [IncidentKind.GAVE_UP]

    queued = worker_turn(first.record, QUEUED, follow_ups=1)  # a task file: no manager
    assert queued.actions[1] == GiveUpTask(instance="worker-1", key="a")


def test_files_left_uncommitted_are_named_in_the_follow_up() -> None:
    decided = worker_turn(FRESH, WORK, leftovers=["a.py"])
    send = decided.actions[-1]
    assert isinstance(send, SendAssignment)
    assert "`a.py`" in send.assignment.prompt
    assert incidents(decided.actions)[0].action == "ask it to commit them"


def test_a_task_ticked_on_its_own_list_was_done_before_and_is_nothing() -> None:
    own = parse_task_list(f"# Worker 1 Task List\n- [x] {TASK}\n")
    decided = worker_turn(FRESH, WORK, own_list=own, follow_ups=1)
    assert decided.actions == (CountFollowUps("worker-1", 0),)


def test_the_refused_commits_and_nothing_new_go_back_to_the_manager() -> None:
    record = ReviewRecord(unmerged={"worker-1": ("c1",)}, refused={"worker-1": ("c1",)})
    decided = worker_turn(record, WORK)
    assert decided.actions[0] == HandBackTask(instance="worker-1", task=TASK)
    assert kinds(decided.actions) == [IncidentKind.GAVE_UP]
    assert not any(isinstance(a, HandOver) for a in decided.actions)


def test_a_turn_that_is_not_a_tasks_changes_nothing() -> None:
    fix = Assignment(instance="worker-1", prompt="fix", kind=AssignmentKind.OTHER)
    assert worker_turn(FRESH, fix) == Reviewed(FRESH)
    turn = WorkerTurn(instance="worker-1", branch="worker-1", assignment=None, commits=())
    assert decide.carry_out(FRESH, turn, NotJudged(), 1) == Reviewed(FRESH)


# -- the merger's plan --------------------------------------------------------------------


def test_the_managers_plan_waits_for_a_merge_prompt_and_the_queues_enqueues() -> None:
    work = finished(("c1",))
    by_manager = merges.merge_planned(FRESH, work, MergeByManager(), queue=False, tasks=(), now=NOW)
    assert by_manager.actions == (AwaitMerge(branch="worker-1", commits=("c1",)),)
    assert by_manager.record.merger == {"worker-1": "manager"}
    by_queue = merges.merge_planned(FRESH, work, MergeByQueue(), queue=True, tasks=(), now=NOW)
    assert by_queue.actions == (
        AwaitMerge(branch="worker-1", commits=("c1",)),
        EnqueueMerge(instance="worker-1", branch="worker-1", commits=("c1",)),
    )
    assert by_queue.record.merger == {"worker-1": "queue"}


@pytest.mark.parametrize("plan", [MergeByQueue(), None])
def test_a_plan_no_merger_can_carry_out_is_a_plugin_error(plan: MergePlan | None) -> None:
    with pytest.raises(PluginError, match="no merger for plan"):
        merges.merge_planned(FRESH, finished(("c1",)), plan, queue=False, tasks=(), now=NOW)


def test_a_delivered_branch_is_not_counted_in_branches_ahead() -> None:
    plan = MergeDelivered(where="pull request #12")
    decided = merges.merge_planned(
        FRESH, finished(("c1", "c2")), plan, queue=False, tasks=("a",), now=NOW
    )
    assert decided.actions == (
        RecordDelivery(
            Delivery(
                branch="worker-1",
                commits=("c1", "c2"),
                at=NOW.wall,
                where="pull request #12",
                tasks=("a",),
            )
        ),
    )
    later = took(decided.record, read({"worker-1": ("c1", "c2"), "worker-2": ("c3",)}))
    assert later.record.branches_ahead == 1  # worker-2 only
    newer = took(decided.record, read({"worker-1": ("c1", "c2", "c4")}))
    assert newer.record.branches_ahead == 1  # a new commit on top is ahead again


# -- the merge queue's result -------------------------------------------------------------


def merge_event(outcome: MergeOutcome, **fields: object) -> MergeFinished:
    defaults: dict[str, object] = {
        "instance": "worker-1",
        "at": 0.0,
        "branch": "worker-1",
        "outcome": outcome,
        "commits": ("c1",),
    }
    return MergeFinished(**{**defaults, **fields})  # type: ignore[arg-type]


def test_a_merge_the_queue_made_is_booked_and_origin_read_again() -> None:
    event = merge_event(MergeOutcome.MERGED)
    decided = merges.merge_finished(
        FRESH,
        event,
        awaiting={"worker-1": ("c1",)},
        tasks_finished={"worker-1": ["a"]},
        run_branch="main",
        now=NOW,
    )
    merge = MergeRecord(
        branch="worker-1", commits=("c1",), at=NOW.wall, merged_by="queue", tasks=("a",)
    )
    assert decided.actions == (RecordMerge(record=merge), RequestRead(instance="worker-1"))
    already = merges.merge_finished(
        FRESH, event, awaiting={}, tasks_finished={}, run_branch="main", now=NOW
    )
    assert already.actions == (RequestRead(instance="worker-1"),)  # a read booked it first


def test_a_refused_merge_sends_a_fix_prompt_naming_the_files() -> None:
    event = merge_event(MergeOutcome.CONFLICT, files=("a.py", "b.py"))
    decided = merges.merge_finished(
        FRESH,
        event,
        awaiting={"worker-1": ("c1",)},
        tasks_finished={},
        run_branch="main",
        now=NOW,
    )
    drop, incident, send = decided.actions
    assert drop == DropMerge("worker-1")
    assert isinstance(incident, RecordIncident)
    assert incident.kind is IncidentKind.MERGE_REFUSED
    assert incident.evidence == "worker-1: conflict: conflicts in a.py, b.py"
    assert isinstance(send, SendAssignment)
    assert send.assignment.kind is AssignmentKind.WORK
    assert "conflicts in a.py, b.py" in send.assignment.prompt
    assert parse_prompt_tag(send.assignment.prompt)["files"] == ["a.py", "b.py"]
    assert decided.record.refused == {"worker-1": ("c1",)}


def test_a_failed_test_on_the_merged_result_says_so() -> None:
    event = merge_event(MergeOutcome.TEST_FAILED, detail="1 failed\n  in test_a")
    decided = merges.merge_finished(
        FRESH, event, awaiting={}, tasks_finished={}, run_branch="main", now=NOW
    )
    assert incidents(decided.actions)[0].evidence == (
        "worker-1: test_failed: the test command failed on the merged result: 1 failed in test_a"
    )


# -- a resumed run ------------------------------------------------------------------------


def test_a_resumed_run_books_unrecorded_merges_and_hands_unmerged_branches_over() -> None:
    decided = merges.reconcile(
        FRESH,
        facts({"worker-1": ("c2",), "worker-2": ("c5",), "worker-3": ("c9",)}),
        owners={"worker-1": ("worker-1", 1), "worker-2": ("worker-2", 2)},
        delivered=("c5",),
        held_tasks={"worker-1": ("b", "c", "done")},
        finished_tasks=(
            TaskFinished(branch="worker-1", task="a", commits=("c1",)),  # merged before
            TaskFinished(branch="worker-1", task="b", commits=("c2",)),  # still ahead
            TaskFinished(branch="worker-1", task="done", commits=("c0",)),
        ),
        tasks_done=frozenset({"done"}),
        now=NOW,
    )
    assert decided.actions[1:] == (
        RecordMerge(
            record=MergeRecord(
                branch="worker-1",
                commits=("c1",),
                at=NOW.wall,
                merged_by=merges.BEFORE_RESTART,
                tasks=("a",),
            ),
            restored=True,
        ),
        HoldTask(branch="worker-1", key="b"),
        HoldTask(branch="worker-1", key="b"),
        HoldTask(branch="worker-1", key="c"),
        # worker-2's work was delivered; worker-3 has no worker in this run
        HandOver(finished(("c2",))),
    )
    assert decided.record.delivered == {"c5"}
    assert decided.record.branches_ahead == 2


# -- no commit handed over is ever lost ---------------------------------------------------

BRANCHES = ("worker-1", "worker-2")
PLANS: tuple[MergePlan, ...] = (MergeByManager(), MergeByQueue(), MergeDelivered(where="PR"))


@attrs.define
class Model:
    """Origin and the run's record, kept as the executor keeps them."""

    origin: dict[str, list[str]] = attrs.Factory(lambda: {b: [] for b in BRANCHES})
    record: ReviewRecord = FRESH
    awaiting: dict[str, tuple[str, ...]] = attrs.Factory(dict)
    merged: list[str] = attrs.Factory(list)
    handed: set[str] = attrs.Factory(set)
    made: int = 0

    def read(self) -> None:
        unmerged = {b: tuple(c) for b, c in self.origin.items() if c}
        self.apply(took(self.record, read(unmerged), awaiting=dict(self.awaiting)))

    def apply(self, decided: Reviewed, plan: MergePlan = PLANS[0]) -> None:
        self.record = decided.record
        for action in decided.actions:
            self.perform(action, plan)

    def perform(self, action: ReviewAction, plan: MergePlan) -> None:
        match action:
            case HandOver(finished=work):
                self.apply(
                    merges.merge_planned(self.record, work, plan, queue=True, tasks=(), now=NOW)
                )
            case AwaitMerge(branch=branch, commits=commits):
                self.awaiting[branch] = commits
            case DropMerge(branch=branch):
                self.awaiting.pop(branch, None)
            case RecordMerge(record=merge):
                assert not self.origin[merge.branch] or not set(merge.commits) & set(
                    self.origin[merge.branch]
                ), "a merge is booked only once origin shows it"
                self.awaiting.pop(merge.branch, None)
                self.merged.extend(merge.commits)
            case _:
                pass

    def step(self, op: str, branch: str, plan: MergePlan) -> None:
        if op == "commit":
            self.made += 1
            self.origin[branch].append(f"c{self.made}")
        elif op == "stop":
            self.read()
            ahead = self.record.unmerged.get(branch, ())
            if ahead and ahead != self.record.refused.get(branch):  # new work: handed over
                self.handed.update(ahead)
            self.apply(worker_turn(self.record, attrs.evolve(WORK, instance=branch)), plan)
        elif op == "merge" and branch in self.awaiting:  # the manager or the queue merges
            self.origin[branch] = []
            self.read()
        elif op == "refuse" and branch in self.awaiting:
            event = merge_event(MergeOutcome.CONFLICT, branch=branch, commits=self.awaiting[branch])
            self.apply(
                merges.merge_finished(
                    self.record,
                    event,
                    awaiting=self.awaiting,
                    tasks_finished={},
                    run_branch="main",
                    now=NOW,
                )
            )

    def accounted(self) -> set[str]:
        """Commits waiting to be merged, merged, delivered, or back with their worker."""
        awaiting = {c for commits in self.awaiting.values() for c in commits}
        refused = {c for commits in self.record.refused.values() for c in commits}
        return awaiting | set(self.merged) | self.record.delivered | refused


@given(
    st.lists(
        st.tuples(
            st.sampled_from(("commit", "commit", "stop", "merge", "refuse")),
            st.sampled_from(BRANCHES),
            st.sampled_from(PLANS),
        ),
        max_size=30,
    )
)
def test_no_commit_handed_over_is_ever_lost(ops: list[tuple[str, str, MergePlan]]) -> None:
    model = Model()
    for op, branch, plan in ops:
        model.step(op, branch, plan)
        assert model.handed <= model.accounted()
        assert all(model.origin[b] for b in model.awaiting)  # a merged branch is booked
        ahead = {b for b, c in model.origin.items() if set(c) - model.record.delivered}
        assert model.record.branches_ahead <= len(ahead)


# -- the executor -------------------------------------------------------------------------

RULES = RunRules(
    run_branch="main", scheduler="manager", merger="manager", worker_count=1, deadline=1e9
)


class Deliver:
    """A merger plugin that delivers every branch to a pull request."""

    @hookimpl
    def orchestra_merge(self, run: object, finished: WorkerFinished) -> MergePlan:
        return MergeDelivered(where=f"pull request for {finished.branch}")


def work_review(
    tmp_path: Path, repo: GitRepo, tree: Worktree, *plugins: object
) -> tuple[RunContext, WorkReview]:
    """worker-1 (not started) working in ``tree``, with the run's context and review's
    executor."""
    instance, _, _ = make(tmp_path)
    clock = ManualClock()
    ctx = RunContext(
        rules=RULES,
        instances={"worker-1": instance},
        plugins=PluginHost(plugins, load_entry_points=False),
        journal=Journal(tmp_path / "journal.jsonl", clock),
        clock=clock,
        rotator=AuthRotator(pool=(instance.credential,), clock=clock),
    )
    reader = OriginReader(repo=repo, run_branch="main", workers=(1,), branches=("worker-1",))
    executor = Executor(
        ctx=ctx,
        failover=Failover(rotator=ctx.rotator, plugins=ctx.plugins, clock=clock),
        watch=OriginWatch(reader=reader, clock=clock),
        worktrees={"worker-1": tree},
    )
    return ctx, WorkReview(ctx=ctx, executor=executor)


async def reviewing(tmp_path: Path, *plugins: object) -> tuple[RunContext, WorkReview]:
    """worker-1 started, with the run's context and review's executor (no git behind)."""
    repo = GitRepo(path=tmp_path)
    tree = Worktree(repo=repo, path=tmp_path / "w1", branch="worker-1", base="main")
    ctx, review = work_review(tmp_path, repo, tree, *plugins)
    await ctx.instances["worker-1"].start()
    return ctx, review


@pytest.mark.anyio
async def test_the_executor_hands_a_stop_with_commits_to_the_manager(tmp_path: Path) -> None:
    ctx, review = await reviewing(tmp_path)
    await review.stopped(ctx.instances["worker-1"], QUEUED)
    (request,) = review.executor.watch.pending
    assert (request.instance, request.worktree, request.uncommitted) == (
        "worker-1",
        review.executor.worktrees["worker-1"],
        True,
    )
    await review.origin_read(read({"worker-1": ("c1",)}, answers=("worker-1",)))
    assert ctx.progress.judging == {}
    assert ctx.progress.awaiting_merge == {"worker-1": ("c1",)}
    assert ctx.progress.tasks_finished == {"worker-1": ["a"]}
    assert ctx.progress.completed_tasks == [("worker-1", TASK)]
    assert review.branches_ahead == 1
    assert review.record.merger == {"worker-1": "manager"}

    await review.origin_read(read({}))  # the manager merged it
    assert ctx.progress.awaiting_merge == {}
    assert ctx.progress.tasks_done == {"a"}
    assert [m.merged_by for m in ctx.progress.merges] == ["manager"]
    assert review.branches_ahead == 0
    await review.read_again()
    assert [r.instance for r in review.executor.watch.pending] == ["worker-1", STALL_CHECK]
    ctx.journal.close()


@pytest.mark.anyio
async def test_a_later_task_is_not_finished_by_the_commits_still_waiting_to_be_merged(
    tmp_path: Path,
) -> None:
    ctx, review = await reviewing(tmp_path)
    await review.stopped(ctx.instances["worker-1"], QUEUED)
    await review.origin_read(read({"worker-1": ("c1",)}, answers=("worker-1",)))
    assert ctx.progress.awaiting_merge == {"worker-1": ("c1",)}
    # a scheduler hands it task b before c1 is merged; it stops without a commit
    later = attrs.evolve(QUEUED, task="Write `b.py`", task_key="b")
    await review.stopped(ctx.instances["worker-1"], later)
    await review.origin_read(read({"worker-1": ("c1",)}, answers=("worker-1",)))
    assert ctx.progress.completed_tasks == [("worker-1", TASK)]  # task b is not
    assert ctx.progress.tasks_finished == {"worker-1": ["a"]}
    assert [i.kind for i in ctx.progress.incidents] == [IncidentKind.IDLE_WITHOUT_WORK]
    ctx.journal.close()


@pytest.mark.anyio
async def test_the_executor_feeds_the_plugins_plan_back_and_keeps_a_fix_prompt(
    tmp_path: Path,
) -> None:
    ctx, review = await reviewing(tmp_path, Deliver())
    await review.stopped(ctx.instances["worker-1"], WORK)
    await review.origin_read(read({"worker-1": ("c1",)}, answers=("worker-1",)))
    assert [d.where for d in ctx.progress.deliveries] == ["pull request for worker-1"]
    assert review.record.delivered == {"c1"}
    assert review.branches_ahead == 0

    refused = merge_event(MergeOutcome.CONFLICT, files=("a.py",))
    await review.merge_finished(ctx.instances["worker-1"], refused)
    assert [i.kind for i in ctx.progress.incidents] == [IncidentKind.MERGE_REFUSED]
    kept = ctx.progress.kept["worker-1"]  # it is starting: the prompt waits for it
    assert "conflicts in a.py" in kept.prompt
    ctx.journal.close()
