"""The run's record (:class:`~claude_orchestra.progress.RunProgress`): what it counts and how
a merge or a delivery moves a task-file task along (open, awaiting merge, done)."""

from __future__ import annotations

from claude_orchestra.progress import RunProgress
from claude_orchestra.taskfile import parse_task_file
from claude_orchestra.tasklists import parse_task_list
from claude_orchestra.values import Assignment, AssignmentKind, Delivery, MergeRecord

TASKS = "- [ ] one {#a}\n- [ ] two {#b}\n- [ ] three {#c}\n- [x] four {#d}\n"


def progress() -> RunProgress:
    return RunProgress(run_branch="main", task_file=parse_task_file(TASKS))


def states(run: RunProgress) -> dict[str, str]:
    return {key: state for key, _, state in run.task_file_states()}


def test_the_manager_is_counted_each_time_it_is_asked_to_plan_replan_or_merge() -> None:
    run = progress()
    plan = Assignment(instance="manager", prompt="p", kind=AssignmentKind.PLAN)
    replan = Assignment(instance="manager", prompt="r", kind=AssignmentKind.REPLAN)
    merge = Assignment(
        instance="manager", prompt="m", kind=AssignmentKind.MERGE, branches=("w1", "w2")
    )
    for assignment in (plan, plan, replan, merge, merge):
        run.record_assignment(assignment)
    run.record_assignment(
        Assignment(instance="manager", prompt="m", kind=AssignmentKind.MERGE, branches=("w1",))
    )
    assert (run.plan_requests, run.replan_requests) == (2, 1)
    assert run.merge_requests == {"w1": 3, "w2": 2}
    assert run.finish_assignment("manager") is not None
    assert run.finish_assignment("manager") is None


def test_a_merge_moves_its_tasks_to_done_and_forgets_the_branch() -> None:
    run = progress()
    run.record_assignment(
        Assignment(instance="manager", prompt="m", kind=AssignmentKind.MERGE, branches=("w1",))
    )
    run.await_merge("w1", ("c1",))
    run.await_merge("w2", ("c2",))
    run.task_finished("w1", "a")
    run.task_finished("w2", "b")
    assert run.awaiting_merge == {"w1": ("c1",), "w2": ("c2",)}
    assert states(run) == {"a": "awaiting_merge", "b": "awaiting_merge", "c": "open", "d": "done"}
    record = MergeRecord(branch="w1", commits=("c1",), at=1.0, merged_by="queue", tasks=("a",))
    run.merged(record)
    assert run.awaiting_merge == {"w2": ("c2",)}
    assert run.merge_requests == {}
    assert run.tasks_finished == {"w2": ["b"]}
    assert run.merges == [record]
    assert states(run) == {"a": "done", "b": "awaiting_merge", "c": "open", "d": "done"}


def test_a_delivery_elsewhere_is_done_too() -> None:
    run = progress()
    run.task_finished("w1", "a")
    run.task_finished("w1", "a")
    assert run.tasks_finished == {"w1": ["a"]}
    delivery = Delivery(branch="w1", commits=("c1",), at=1.0, where="PR #3", tasks=("a",))
    run.delivered(delivery)
    assert run.tasks_finished == {}
    assert run.deliveries == [delivery]
    assert states(run)["a"] == "done"


def test_the_task_count_adds_the_lists_and_the_task_file() -> None:
    run = progress()
    run.task_lists[1] = parse_task_list("## Queue\n- [x] done\n- [ ] open\n- [ ] open too\n")
    run.task_given_up("c")
    assert states(run)["c"] == "given_up"
    run.merged(
        MergeRecord(branch="w1", commits=("c1",), at=1.0, merged_by="queue", tasks=("a", "b"))
    )
    assert run.task_counts() == (3 + 4, 1 + 3)  # a, b merged and d ticked; c given up
    assert RunProgress(run_branch="main").task_counts() == (0, 0)
