"""The ``queue`` scheduler: idle workers get ready tasks from the task file at once."""

from __future__ import annotations

import pytest

from claude_orchestra.lifecycle import InstanceState
from claude_orchestra.plugins import PluginHost
from claude_orchestra.progress import RunProgress
from claude_orchestra.prompt_tag import parse_prompt_tag
from claude_orchestra.taskfile import parse_task_file
from claude_orchestra.values import AssignmentKind, MergeRecord, RunView

from .test_manager_protocol import view

TASKS = """# Tasks
- [ ] Create `greet.py` {#greet}
- [ ] Create `shout.py`
- [ ] Document greet {#docs after: greet}
"""


def run_view(
    progress: RunProgress, names: tuple[str, ...], *, merger: str = "queue", busy: str = ""
) -> RunView:
    views = [view(n, InstanceState.WORKING if n == busy else InstanceState.IDLE) for n in names]
    return progress.view(scheduler="queue", merger=merger, worker_count=3, instances=views)


@pytest.fixture
def host() -> PluginHost:
    return PluginHost(load_entry_points=False)


WORKERS = ("worker-1", "worker-2", "worker-3")


def test_idle_workers_get_the_ready_tasks_in_file_order(host: PluginHost) -> None:
    progress = RunProgress(run_branch="main", task_file=parse_task_file(TASKS))
    assignments = host.schedule(run_view(progress, WORKERS))
    assert [(a.instance, a.kind, a.task_key) for a in assignments] == [
        ("worker-1", AssignmentKind.WORK, "greet"),
        ("worker-2", AssignmentKind.WORK, "Create `shout.py`"),
    ]  # docs waits for greet: worker-3 has nothing yet
    tag = parse_prompt_tag(assignments[0].prompt)
    assert tag is not None
    assert (tag["action"], tag["branch"], tag["task"]) == ("task", "worker-1", "Create `greet.py`")
    for assignment in assignments:
        progress.record_assignment(assignment)
    assert host.schedule(run_view(progress, WORKERS)) == []  # taken tasks are not handed twice


def test_a_dependent_task_starts_once_its_dependency_is_merged(host: PluginHost) -> None:
    progress = RunProgress(run_branch="main", task_file=parse_task_file(TASKS))
    (greet, shout) = host.schedule(run_view(progress, WORKERS))
    progress.record_assignment(greet)
    progress.record_assignment(shout)
    progress.finish_assignment("worker-1")
    progress.task_finished("worker-1", "greet")
    progress.await_merge("worker-1", ("c1",))
    assert host.schedule(run_view(progress, WORKERS)) == []  # finished is not merged yet
    progress.merged(
        MergeRecord(branch="worker-1", commits=("c1",), at=1.0, merged_by="queue", tasks=("greet",))
    )
    (docs,) = host.schedule(run_view(progress, WORKERS))
    assert (docs.instance, docs.task_key) == ("worker-1", "docs")
    assert progress.task_file_states()[0] == ("greet", "Create `greet.py`", "done")


def test_a_given_up_task_is_not_handed_out_again_and_keeps_the_run_open(host: PluginHost) -> None:
    progress = RunProgress(run_branch="main", task_file=parse_task_file(TASKS))
    progress.task_given_up("greet")
    assignments = host.schedule(run_view(progress, WORKERS))
    assert [a.task_key for a in assignments] == ["Create `shout.py`"]
    assert progress.open_tasks() == 3
    assert [state for *_, state in progress.task_file_states()] == ["given_up", "open", "open"]


def test_a_prompt_kept_to_resend_still_holds_its_task(host: PluginHost) -> None:
    progress = RunProgress(run_branch="main", task_file=parse_task_file(TASKS))
    (greet, _) = host.schedule(run_view(progress, WORKERS))
    views = [view(n) for n in WORKERS]
    progress.keep(greet)
    kept = progress.view(scheduler="queue", merger="queue", worker_count=3, instances=views)
    assert "greet" not in [a.task_key for a in host.schedule(kept)]


def test_without_a_task_file_the_manager_plans_once(host: PluginHost) -> None:
    progress = RunProgress(run_branch="main")
    (plan,) = host.schedule(run_view(progress, ("manager", *WORKERS)))
    assert (plan.instance, plan.kind) == ("manager", AssignmentKind.PLAN)
    tag = parse_prompt_tag(plan.prompt)
    assert tag == {"action": "plan_tasks", "file": "TASKS.md", "run_branch": "main"}
    progress.record_assignment(plan)
    progress.finish_assignment("manager")
    progress.task_file = parse_task_file(TASKS)
    assignments = host.schedule(run_view(progress, ("manager", *WORKERS)))
    assert {a.instance for a in assignments} == {"worker-1", "worker-2"}  # the manager rests


def test_with_the_manager_merger_the_manager_merges_what_workers_finished(
    host: PluginHost,
) -> None:
    progress = RunProgress(run_branch="main", task_file=parse_task_file(TASKS))
    progress.await_merge("worker-3", ("c1",))
    assignments = host.schedule(run_view(progress, ("manager", *WORKERS), merger="manager"))
    kinds = {(a.instance, a.kind) for a in assignments}
    assert ("manager", AssignmentKind.MERGE) in kinds
    assert not any(a.instance == "worker-3" for a in assignments)  # waits for its merge
