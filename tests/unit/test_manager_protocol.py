"""The built-in manager protocol and the plugin host that asks it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from claude_orchestra.errors import PluginError
from claude_orchestra.hookspecs import hookimpl
from claude_orchestra.instance import InstanceView, Role
from claude_orchestra.lifecycle import InstanceState
from claude_orchestra.plugins import PluginHost
from claude_orchestra.progress import RunProgress
from claude_orchestra.prompt_tag import parse_prompt_tag
from claude_orchestra.tasklists import parse_task_list, render_task_list
from claude_orchestra.values import (
    Assignment,
    AssignmentKind,
    MergeByManager,
    RunView,
    WorkerFinished,
)


def view(name: str, state: InstanceState = InstanceState.IDLE) -> InstanceView:
    worker = None if name == "manager" else int(name.split("-")[1])
    return InstanceView(
        name=name,
        role=Role.MANAGER if worker is None else Role.WORKER,
        worker=worker,
        state=state,
        credential="k1",
        session_id=None,
        cwd=Path("/w"),
        last_event_at=None,
        prompts_sent=0,
    )


def run_view(progress: RunProgress, *states: InstanceState, scheduler: str = "manager") -> RunView:
    names = ["manager", "worker-1", "worker-2"]
    views = [view(n, s) for n, s in zip(names, states or [InstanceState.IDLE] * 3, strict=True)]
    return progress.view(scheduler=scheduler, merger="manager", worker_count=2, instances=views)


@pytest.fixture
def host() -> PluginHost:
    return PluginHost(load_entry_points=False)


def test_first_the_manager_plans_and_workers_wait(host: PluginHost) -> None:
    progress = RunProgress(run_branch="main")
    (plan,) = host.schedule(run_view(progress))
    assert plan.instance == "manager"
    assert plan.kind is AssignmentKind.PLAN
    assert parse_prompt_tag(plan.prompt) == {"action": "plan", "workers": 2, "run_branch": "main"}
    progress.record_assignment(plan)
    assert host.schedule(run_view(progress)) == []


def test_then_each_idle_worker_gets_its_next_open_task(host: PluginHost) -> None:
    progress = RunProgress(run_branch="main")
    progress.task_lists = {
        1: parse_task_list(render_task_list(1, ["Write `a.py`", "Write `b.py`"])),
        2: parse_task_list(render_task_list(2, [])),
    }
    assignments = host.schedule(run_view(progress))
    assert [(a.instance, a.kind, a.task) for a in assignments] == [
        ("worker-1", AssignmentKind.WORK, "Write `a.py`")
    ]
    tag = parse_prompt_tag(assignments[0].prompt)
    assert tag is not None
    assert tag["branch"] == "worker-1"


def test_finished_work_waits_for_the_manager_to_merge_it(host: PluginHost) -> None:
    progress = RunProgress(run_branch="main")
    progress.task_lists = {1: parse_task_list(render_task_list(1, ["a", "b"]))}
    finished = WorkerFinished(instance="worker-1", worker=1, branch="worker-1", commits=("c1",))
    assert host.merge_plan(run_view(progress), finished) == MergeByManager()
    progress.await_merge("worker-1", ("c1",))
    assignments = host.schedule(run_view(progress))
    assert [(a.instance, a.kind, a.branches) for a in assignments] == [
        ("manager", AssignmentKind.MERGE, ("worker-1",))
    ]


def test_a_busy_manager_is_not_asked(host: PluginHost) -> None:
    progress = RunProgress(run_branch="main")
    busy = run_view(progress, InstanceState.WORKING, InstanceState.IDLE, InstanceState.IDLE)
    assert host.schedule(busy) == []


def test_another_scheduler_name_leaves_the_builtin_silent(host: PluginHost) -> None:
    assert host.schedule(run_view(RunProgress(run_branch="main"), scheduler="elsewhere")) == []


class EveryoneSaysHello:
    """A plugin that wins over the built-in scheduler."""

    @hookimpl
    def orchestra_schedule(self, run: RunView) -> Sequence[Assignment]:
        return [
            Assignment(instance=i.name, prompt="hello", kind=AssignmentKind.OTHER) for i in run.idle
        ]


def test_installed_plugins_are_asked_before_the_builtins() -> None:
    host = PluginHost([EveryoneSaysHello()], load_entry_points=False)
    assert {a.prompt for a in host.schedule(run_view(RunProgress(run_branch="main")))} == {"hello"}


class Broken:
    @hookimpl
    def orchestra_schedule(self, run: RunView) -> object:
        return ["not an assignment"]


class Raises:
    @hookimpl
    def orchestra_schedule(self, run: RunView) -> object:
        raise RuntimeError("boom")


@pytest.mark.parametrize(
    ("plugin", "reason"), [(Broken(), "unexpected answer"), (Raises(), "boom")]
)
def test_a_bad_plugin_is_named(plugin: object, reason: str) -> None:
    host = PluginHost([plugin], load_entry_points=False)
    with pytest.raises(PluginError, match=reason) as caught:
        host.schedule(run_view(RunProgress(run_branch="main")))
    assert caught.value.hook == "orchestra_schedule"


class LoudObserver:
    @hookimpl
    def orchestra_incident(self, incident: object) -> None:
        raise ValueError("observer failed")


def test_observer_errors_are_reported_not_raised() -> None:
    seen: list[tuple[str, str]] = []
    host = PluginHost(
        [LoudObserver()],
        load_entry_points=False,
        on_observer_error=lambda plugin, hook, exc: seen.append((hook, str(exc))),
    )
    host.incident(object())
    assert seen == [("orchestra_incident", "observer failed")]


def test_blocked_builtins_are_not_registered() -> None:
    host = PluginHost(load_entry_points=False, blocked=["claude_orchestra.defaults.manager"])
    assert "claude_orchestra.defaults.manager" not in host.names()
    assert host.schedule(run_view(RunProgress(run_branch="main"))) == []


def test_a_handed_back_task_goes_to_the_manager_and_the_worker_waits(host: PluginHost) -> None:
    progress = RunProgress(run_branch="main")
    progress.task_lists = {
        1: parse_task_list(render_task_list(1, ["Write `a.py`"])),
        2: parse_task_list(render_task_list(2, ["Write `b.py`"])),
    }
    progress.hand_back("worker-1", "Write `a.py`")
    assignments = host.schedule(run_view(progress))
    assert [(a.instance, a.kind) for a in assignments] == [
        ("manager", AssignmentKind.REPLAN),
        ("worker-2", AssignmentKind.WORK),
    ]
    tag = parse_prompt_tag(assignments[0].prompt)
    assert tag == {
        "action": "replan",
        "handed_back": {"1": "Write `a.py`"},
        "workers": 2,
        "run_branch": "main",
    }
    for _ in range(2):  # two replans, each ended without rewording the task
        progress.record_assignment(assignments[0])
        progress.finish_assignment("manager")
    # no replan left: nobody is asked, the worker keeps waiting (the run stalls, no spin)
    idle_workers_only = host.schedule(run_view(progress))
    assert [(a.instance, a.kind) for a in idle_workers_only] == [("worker-2", AssignmentKind.WORK)]


def test_a_worker_is_judged_by_the_list_on_its_own_branch(host: PluginHost) -> None:
    # The run branch lags behind: worker 1 ticked its first task on its branch, whose merge
    # was recorded before the run branch's copy was read again.
    plan = render_task_list(1, ["Write `a.py`", "Write `b.py`"])
    progress = RunProgress(run_branch="main")
    progress.task_lists = {1: parse_task_list(plan), 2: parse_task_list(render_task_list(2, []))}
    own = parse_task_list(plan)
    progress.branch_task_lists = {1: own.tick(own.items[0])}
    assignments = host.schedule(run_view(progress))
    assert [(a.instance, a.task) for a in assignments] == [("worker-1", "Write `b.py`")]


def test_a_worker_whose_own_list_is_done_gets_nothing(host: PluginHost) -> None:
    plan = render_task_list(1, ["Write `a.py`"])
    progress = RunProgress(run_branch="main")
    progress.task_lists = {1: parse_task_list(plan), 2: parse_task_list(render_task_list(2, []))}
    own = parse_task_list(plan)
    progress.branch_task_lists = {1: own.tick(own.items[0])}
    assert host.schedule(run_view(progress)) == []


def test_a_replanned_task_on_the_run_branch_is_handed_out(host: PluginHost) -> None:
    # the manager added a task after the worker's last merge of the run branch: the plan
    # decides what is to do, the worker's own list only what it has done
    progress = RunProgress(run_branch="main")
    progress.task_lists = {
        1: parse_task_list(render_task_list(1, ["Write `a.py`", "Write `c.py`"])),
        2: parse_task_list(render_task_list(2, [])),
    }
    own = parse_task_list(render_task_list(1, ["Write `a.py`"]))
    progress.branch_task_lists = {1: own.tick(own.items[0])}
    assignments = host.schedule(run_view(progress))
    assert [(a.instance, a.task) for a in assignments] == [("worker-1", "Write `c.py`")]


def test_instances_being_judged_or_on_an_unusable_credential_are_not_idle() -> None:
    progress = RunProgress(run_branch="main")
    progress.start_judging("worker-1", None)
    views = [view("manager"), view("worker-1"), view("worker-2")]
    run = progress.view(
        scheduler="manager",
        merger="manager",
        worker_count=2,
        instances=views,
        unavailable=["manager"],
    )
    assert [v.name for v in run.idle] == ["worker-2"]


def test_a_task_being_judged_is_taken() -> None:
    progress = RunProgress(run_branch="main")
    progress.start_judging(
        "worker-1",
        Assignment(
            instance="worker-1", prompt="p", kind=AssignmentKind.WORK, task="t", task_key="t1"
        ),
    )
    run = progress.view(scheduler="queue", merger="queue", worker_count=2, instances=[])
    assert run.tasks_taken == frozenset({"t1"})


def test_completion_waits_for_every_judgement() -> None:
    progress = RunProgress(run_branch="main")
    progress.task_lists = {1: parse_task_list(render_task_list(1, []))}
    views = [view("worker-1")]
    assert progress.is_complete(views, branches_ahead=0)
    progress.start_judging("worker-1", None)
    assert not progress.is_complete(views, branches_ahead=0)
